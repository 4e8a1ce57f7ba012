#!/usr/bin/env bash
# The one test command (CI: .ci/run): installs what is missing, then
#  1. builds build/ and runs every test through ctest (GoogleTest, lit,
#     numpy parity, clang-format check);
#  2. builds build-san/ with ASan+UBSan (clang-22) and runs the whole ctest
#     suite again under them (scripts/sanitize.sh asan);
#  3. runs each libFuzzer harness for FUZZ_SECONDS (60) from its seed
#     corpus (scripts/fuzz.sh);
#  4. builds the threaded tests in build-tsan/ with TSan and runs them
#     (scripts/sanitize.sh tsan).
# Every stage runs even if an earlier one failed; the exit status is 1 if
# any failed. EINJIT_SKIP_SANITIZERS=1 runs only stage 1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
start=$SECONDS
failed=()
stage() {
  local name=$1
  shift
  echo "== test.sh: $name (at $((SECONDS - start))s)"
  if ! "$@"; then
    failed+=("$name")
    echo "== test.sh: $name FAILED"
  fi
}
build_and_test() {
  bash scripts/build.sh &&
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)"
}
stage "build and ctest" build_and_test
if [ "${EINJIT_SKIP_SANITIZERS:-0}" != 1 ]; then
  stage "ASan+UBSan build and ctest" bash scripts/sanitize.sh asan
  stage "fuzzers" bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
  stage "TSan threaded tests" bash scripts/sanitize.sh tsan
fi
echo "== test.sh: $((SECONDS - start))s after setup"
if [ ${#failed[@]} -gt 0 ]; then
  echo "== test.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
