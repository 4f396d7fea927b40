#!/usr/bin/env bash
# Wheels for bench/gpu_session.sh on a GPU machine that has its own Python 3.12, torch and the
# scientific stack but no package index: snakemake and what it needs, diffusers, torch-fidelity,
# torch-pruning and dattri, minus every package that machine's image already has (its list, read off such a
# machine, is below; the image's versions are used for those). Run here, where pip reaches an index
# and a Python 3.12 exists (PY312=/path/to/python3.12 to choose it). Writes bench/wheels/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY312:-python3.12}
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 12), sys.version' || {
    echo "need Python 3.12 (the GPU machine's); set PY312" >&2; exit 2; }
rm -rf bench/wheels && mkdir -p bench/wheels
# pip wheel builds the sdist-only ones (connection_pool) as wheels too.
"$PY" -m pip wheel -q -w bench/wheels "snakemake==9.27.1"
# torch-fidelity, torch-pruning and dattri need torch: without --no-deps pip would fetch gigabytes of it
# (dattri's pretty_midi is for its MIDI data sets, which the TRAK baselines do not import).
"$PY" -m pip download -q --no-deps --only-binary=:all: -d bench/wheels \
    "diffusers==0.42.1" "torch-fidelity==0.4.0" "torch-pruning==1.6.1" "dattri==0.3.0" importlib-metadata zipp
# The GPU image's packages (nvidia-h200 'cuda' image, read 2026-11-17), normalised names; pulp too:
# the workflow's profiles use the greedy scheduler, so the ILP scheduler's pulp (16 MB) is not needed.
present="absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build
certifi charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cycler cython filelock
fonttools frozenlist fsspec h11 h5py hf-xet httpcore httpx huggingface-hub idna imageio iniconfig jinja2 joblib
kiwisolver markdown markdown-it-py markupsafe matplotlib mdurl mpmath msgpack networkx numpy packaging pandas
pathspec pillow pip pluggy protobuf psutil py-cpuinfo pygments pyparsing python-dateutil pyyaml regex requests
rich safetensors scikit-learn scipy setuptools six sympy tabulate threadpoolctl torch torchvision tqdm
typing-extensions urllib3 wheel wrapt zipp pulp"
for w in bench/wheels/*.whl; do
    name=$(basename "$w" | cut -d- -f1 | tr '[:upper:]_.' '[:lower:]--')
    for p in $present; do [ "$name" = "$p" ] && rm "$w" && break; done
done
ls bench/wheels | wc -l; du -sh bench/wheels
