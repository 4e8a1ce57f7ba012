#!/usr/bin/env bash
# Runs the libFuzzer harnesses of test/fuzz, each for SECONDS (default 60),
# starting from a copy of its seed corpus (test/fuzz/corpus/HARNESS) and its
# fixed regressions (test/fuzz/regressions/HARNESS), so the checked-in files
# are never changed. Builds them first in the ASan+UBSan folder (build-san,
# or EINJIT_SAN_DIR). A crash, sanitizer report, leak, timeout or OOM fails
# the run; the input is kept in $EINJIT_SAN_DIR/fuzz-artifacts/HARNESS/ and
# the whole log in $EINJIT_SAN_DIR/fuzz-artifacts/HARNESS.log.
# usage: scripts/fuzz.sh [SECONDS] [HARNESS...]   harnesses: equation npy einsum
# FUZZ_KEEP_CORPUS=DIR keeps each grown corpus in DIR/HARNESS.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sanitizer-env.sh

seconds=60
if [[ ${1:-} =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(equation npy einsum)
targets=()
for h in "${harnesses[@]}"; do
  if [ ! -d "test/fuzz/corpus/$h" ]; then
    echo "fuzz.sh: no harness '$h' (have: $(ls test/fuzz/corpus | xargs))" >&2
    exit 2
  fi
  targets+=("einjit-fuzz-$h")
done

einjit_configure_sanitized "$EINJIT_SAN_DIR" "address;undefined" \
  -DEINJIT_FUZZ=ON
cmake --build "$EINJIT_SAN_DIR" --target "${targets[@]}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
for h in "${harnesses[@]}"; do
  corpus=$work/$h
  artifacts=$EINJIT_SAN_DIR/fuzz-artifacts/$h
  mkdir -p "$corpus" "$artifacts"
  cp test/fuzz/corpus/"$h"/* "$corpus"/
  if [ -d "test/fuzz/regressions/$h" ]; then
    cp test/fuzz/regressions/"$h"/* "$corpus"/
  fi
  args=(-max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096
        -print_final_stats=1 -artifact_prefix="$artifacts/")
  if [ -f "test/fuzz/$h.dict" ]; then
    args+=(-dict="test/fuzz/$h.dict")
  fi
  log=$EINJIT_SAN_DIR/fuzz-artifacts/$h.log
  echo "fuzz.sh: $h for ${seconds}s"
  if "$EINJIT_SAN_DIR/bin/einjit-fuzz-$h" "${args[@]}" "$corpus" >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^Done' "$log" || true
  else
    failed+=("$h")
    # The report: the sanitizer's or the harness's message, the stack and
    # libFuzzer's note of the input (with its base64 when it is small).
    grep -vE '^#[0-9]+|^INFO:|^"' "$log" | tail -n 80
    echo "fuzz.sh: $h FAILED; reproduce with:"
    echo "  $EINJIT_SAN_DIR/bin/einjit-fuzz-$h $artifacts/<crash-file>"
  fi
  if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
    mkdir -p "$FUZZ_KEEP_CORPUS/$h"
    cp "$corpus"/* "$FUZZ_KEEP_CORPUS/$h"/
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: ${harnesses[*]}: no crash in ${seconds}s each"
