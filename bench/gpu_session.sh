#!/usr/bin/env bash
# The whole GPU session (bench/gpu_session.py) on a machine with a GPU, its own Python 3.12 and
# torch, and no package index, in under 9.5 minutes including set-up. Beforehand, here:
#   bash bench/gpu_wheels.sh                                    # bench/wheels/ for that machine
#   python bench/gpu_session.py --quick --device cpu --out bench/out/session-cpu   # CPU reference
# then there, with bench/wheels and bench/out/session-cpu carried along:
#   bash bench/gpu_session.sh OUT_DIR
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out/gpu_session}
mkdir -p "$out"
if ! python3 -c "import diffusers, torch_fidelity, torch_pruning, dattri, snakemake" 2>/dev/null; then
    test -d bench/wheels || { echo "bench/wheels missing: run bench/gpu_wheels.sh where pip reaches an index" >&2; exit 2; }
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site bench/wheels/*.whl || exit 2
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
# The smoke section ran on an H200 on 2026-12-04 (docs/results.md); the others did not finish there,
# so they come first now: SECTIONS=gpu_check,smoke,cifar,calibrate runs them all (past 530 s).
sections=${SECTIONS:-gpu_check,cifar,calibrate}
ref=bench/out/session-cpu/smoke_reference
test -d "$ref" || ref=
PYTHONUNBUFFERED=1 timeout 530 python3 bench/gpu_session.py --out "$out" --device cuda --cores 16 \
    --sections "$sections" ${ref:+--cpu-reference $ref} 2>&1 | tee "$out/session.log"
