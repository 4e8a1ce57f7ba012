#!/usr/bin/env bash
# Installs the peers that bench/einsum_peers.py times einjit against, into a
# virtual environment of the benchmark's own: numpy, torch (PyPI's default
# wheel: PyPI is the only index these machines reach), tensorflow-cpu,
# jax[cpu], threadpoolctl and matplotlib (for --sweep's plot).
#
#   bash bench/setup-peers.sh            # venv in bench/.venv
#   EINJIT_PEERS_VENV=/opt/peers bash bench/setup-peers.sh
#
# Idempotent: a venv whose peers already import is left as it is (pass
# --upgrade to ask pip again). Never run in CI: this downloads several GB and
# the benchmark needs a quiet machine. Debian's python3-numpy/python3-torch
# use the reference BLAS (~5 GFLOP/s) and are no peer (shared/DESIGN.md).
set -euo pipefail

if [[ "${CI:-}" == "true" ]]; then
  echo "setup-peers.sh: not in CI (it downloads several GB)" >&2
  exit 1
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${EINJIT_PEERS_VENV:-$here/.venv}"
python="${PYTHON:-python3}"
upgrade=0
[[ "${1:-}" == "--upgrade" ]] && upgrade=1

# name in pip, module to import
peers=(
  "numpy numpy"
  "threadpoolctl threadpoolctl"
  "matplotlib matplotlib"
  "torch torch"
  "tensorflow-cpu tensorflow"
  "jax[cpu] jax"
)

have() { "$venv/bin/python" -c "import $1" >/dev/null 2>&1; }

if [[ ! -x "$venv/bin/python" ]]; then
  # torch + tensorflow + jax and pip's cache take about 6 GB.
  avail_kb=$(df -Pk "$(dirname "$venv")" | awk 'NR == 2 { print $4 }')
  if ((avail_kb < 8 * 1024 * 1024)); then
    echo "setup-peers.sh: need 8 GB free beside $venv, have $((avail_kb / 1024)) MB" >&2
    exit 1
  fi
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi

for p in "${peers[@]}"; do
  read -r spec module <<<"$p"
  if ((upgrade == 0)) && have "$module"; then
    echo "== $spec: present"
    continue
  fi
  echo "== $spec: installing"
  start=$SECONDS
  args=(--quiet)
  ((upgrade)) && args+=(--upgrade)
  if ! "$venv/bin/python" -m pip install "${args[@]}" "$spec"; then
    echo "setup-peers.sh: pip could not install $spec; einsum_peers.py skips it" >&2
    continue
  fi
  echo "   $spec: $((SECONDS - start)) s"
done

echo "== venv $venv: $(du -sh "$venv" | cut -f1)"
"$venv/bin/python" - 2>/dev/null <<'PY'  # TensorFlow logs to stderr
import importlib
for m in ("numpy", "torch", "tensorflow", "jax", "threadpoolctl", "matplotlib"):
    try:
        mod = importlib.import_module(m)
        print(f"   {m} {mod.__version__}")
    except Exception as e:  # a peer that fails to import is reported, not fatal
        print(f"   {m}: not importable ({type(e).__name__}: {e})")
PY
