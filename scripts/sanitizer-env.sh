# Sourced by scripts/sanitize.sh and scripts/fuzz.sh (and by hand, to run a
# sanitized binary the way CI does): the sanitizer run-time options, and
# einjit_configure_sanitized DIR SANITIZERS [CMAKE ARGS...], which configures
# a clang-22 build of einjit in DIR with -DEINJIT_SANITIZE=SANITIZERS.
# test/fuzz/README.md explains each choice.

EINJIT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EINJIT_SAN_DIR=${EINJIT_SAN_DIR:-build-san}
EINJIT_TSAN_DIR=${EINJIT_TSAN_DIR:-build-tsan}

# Every report ends the process with SIGABRT, never with exit status 1, so
# that no test that expects a failing exit (lit's `not`, bad-inputs.py)
# passes over one. LeakSanitizer is on (detect_leaks) and needs no
# suppressions; ASan also checks the order of global initializers.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_init_order=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1
export TSAN_OPTIONS=suppressions=$EINJIT_ROOT/test/sanitizers/tsan.supp:halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:print_suppressions=0
# The runtime's MLIR pipelines verify the module after every pass, not
# only at the end, so that a pass that breaks the IR is named where it does
# (docs/pipeline.md).
export EINJIT_VERIFY_EACH_PASS=1
if [ -x /usr/lib/llvm-22/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-22/bin/llvm-symbolizer
  export TSAN_SYMBOLIZER_PATH=/usr/lib/llvm-22/bin/llvm-symbolizer
fi

einjit_configure_sanitized() {
  local dir=$1 sanitizers=$2
  shift 2
  cmake -S "$EINJIT_ROOT" -B "$dir" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DPython3_EXECUTABLE="$(command -v "${PYTHON:-python3}")" \
    -DEINJIT_SANITIZE="$sanitizers" "$@" >/dev/null
}
