#!/usr/bin/env bash
# Wheels for bench/gpu_check.sh: diffusers, torch-fidelity, torch-pruning and their pure-Python
# dependencies, without torch/torchvision (the GPU machine brings its own). Run where pip reaches an index.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/wheels
python -m pip download -q --no-deps --only-binary=:all: -d bench/wheels \
    diffusers torch-fidelity torch-pruning huggingface-hub safetensors regex filelock importlib-metadata \
    zipp tqdm requests urllib3 idna certifi charset-normalizer packaging pyyaml typing-extensions fsspec hf-xet
ls bench/wheels
