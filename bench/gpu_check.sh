#!/usr/bin/env bash
# The GPU check (bench/gpu_check.py) on a machine with a GPU and its own torch, in under 8 minutes.
# The pure-Python packages that machine may lack travel as wheels in bench/wheels/ (git-ignored),
# made here beforehand with bench/gpu_wheels.sh; they are installed offline.
# Usage: bash bench/gpu_check.sh [out.json]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out/gpu_check.json}
if ! python -c "import diffusers, torch_fidelity, torch_pruning" 2>/dev/null; then
    test -d bench/wheels || { echo "bench/wheels missing: run bench/gpu_wheels.sh where pip reaches an index" >&2; exit 2; }
    # One by one: a compiled wheel made for another Python is skipped (that machine may have its own).
    for w in bench/wheels/*.whl; do python -m pip install -q --no-index --no-deps "$w" || echo "skipped $w" >&2; done
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
PYTHONUNBUFFERED=1 timeout 470 python bench/gpu_check.py --out "$out"
