#!/usr/bin/env bash
# Sanitizer builds (clang-22; test/fuzz/README.md):
#   asan  build-san/: everything plus the fuzz targets under
#         AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer),
#         then the whole ctest suite (GoogleTest, lit, numpy parity, the
#         fuzzers' corpus replay) under them.
#   tsan  build-tsan/: only the runtime and the threaded tests under
#         ThreadSanitizer, libomp suppressed (test/sanitizers/tsan.supp).
# usage: scripts/sanitize.sh [asan] [tsan]   (no argument: both)
# EINJIT_SAN_DIR / EINJIT_TSAN_DIR change the build folders.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sanitizer-env.sh

asan() {
  einjit_configure_sanitized "$EINJIT_SAN_DIR" "address;undefined" \
    -DEINJIT_FUZZ=ON
  cmake --build "$EINJIT_SAN_DIR"
  # The format check is the same in every build; the normal one runs it.
  ctest --test-dir "$EINJIT_SAN_DIR" --output-on-failure -j "$(nproc)" \
    -E '^clang-format$'
}

tsan() {
  einjit_configure_sanitized "$EINJIT_TSAN_DIR" thread
  cmake --build "$EINJIT_TSAN_DIR" --target EinjitThreadingTests \
    EinjitRuntimeTests
  "$EINJIT_TSAN_DIR"/bin/EinjitThreadingTests
  # The runtime's other threaded test.
  "$EINJIT_TSAN_DIR"/bin/EinjitRuntimeTests --gtest_filter='*Concurrent*'
}

modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(asan tsan)
for mode in "${modes[@]}"; do
  case $mode in
  asan | tsan) "$mode" ;;
  *)
    echo "usage: scripts/sanitize.sh [asan] [tsan]" >&2
    exit 2
    ;;
  esac
done
