#!/usr/bin/env bash
# Creates (or updates) .venv with the Python packages the slower suites need: requirements-test.txt.
# Tests find it as $MSGCLS_PYTHON or <repo>/.venv/bin/python.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check --upgrade pip
# torch first, pinned: it takes the CPU build on disk and keeps everything else from asking for CUDA.
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
.venv/bin/python -c 'import mlflow, sklearn, skl2onnx, onnx, onnxruntime, torch, tokenizers; print("venv ok: mlflow", mlflow.__version__, "torch", torch.__version__)'
