#!/usr/bin/env bash
# Fails if a C++ file in the tree is not clang-format-22 clean.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cpp' '*.h' 2>/dev/null || find compiler runtime tools test -name '*.cpp' -o -name '*.h')
clang-format-22 --dry-run -Werror $files
echo "clang-format-22: $(echo "$files" | wc -l) files clean"
