#!/usr/bin/env bash
# Recreates the peers virtualenv (PyTorch CPU use, Keras 3 on tensorflow-cpu, numpy) on a
# fresh Debian 12 machine of this kind (CPython 3.11, PyPI reachable).
# (Copied from the project's shared/peers; kept here so the benchmark stands alone.)
#
#   bash Benchmarks/peers/setup.sh
#
# Env: VENV (default $HOME/peers-venv), PYTHON (default python3), LOCK=0 to install the
# top-level packages by version instead of the full lock file.
#
# Why torch brings ~4 GB of nvidia-* wheels: PyPI's Linux x86_64 torch wheel is built with
# CUDA. Installed with --no-deps (plus its small pure-python deps), `import torch` fails:
#   OSError: libcudart.so.13: cannot open shared object file
#   ValueError: libcublasLt.so.*[0-9] not found in the system path
# because torch/__init__.py preloads the CUDA libraries. So the full dependency set is
# installed; CUDA is never used (torch.cuda.is_available() is False here) and the CPU code
# (MKL 2024.2, oneDNN 3.13, AVX2 kernels) is what the CPU-only build of the same version
# ships as well. CPU-only wheels live on PyTorch's own index, which this workplace can't reach.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${VENV:-$HOME/peers-venv}"
PYTHON="${PYTHON:-python3}"
LOCK="${LOCK:-1}"

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --upgrade pip
if [ "$LOCK" = 1 ] && [ -f "$HERE/requirements-lock.txt" ]; then
  "$VENV/bin/pip" install -r "$HERE/requirements-lock.txt"
else
  "$VENV/bin/pip" install "torch==2.15.0" "tensorflow-cpu==2.21.0" "keras==3.15.1" "numpy==2.4.6"
fi
# The serving peer (serve_torch.py): FastAPI on uvicorn, as a Python user would deploy.
"$VENV/bin/pip" install "fastapi==0.165.0" "uvicorn==0.54.0"
# TensorBoard's own event reader, which reads back the TensorBoard callback's files
# (Tests/LaminaTests/Models/TensorBoardTests.swift).
"$VENV/bin/pip" install "tensorboard==2.21.0"
# onnxruntime and onnx, which load and check saveONNX's files (Tests/LaminaTests/Saving/ONNXExportTests.swift).
"$VENV/bin/pip" install "onnxruntime==1.32.0" "onnx==1.23.2"
# TensorFlow Serving's official client (LaminaServeGRPCTests runs it against lamina-serve's gRPC
# API). --no-deps: it requires "tensorflow", which would pull the full build beside tensorflow-cpu;
# what it needs (tensorflow-cpu, grpcio, protobuf) is installed above.
"$VENV/bin/pip" install --no-deps "tensorflow-serving-api==2.21.0"

"$VENV/bin/python" - <<'EOF'
import os
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy, torch, tensorflow as tf, keras
x = torch.randn(8, 8)
assert float((x @ x).abs().sum()) > 0 and not torch.cuda.is_available()
assert keras.backend.backend() == "tensorflow"
print("numpy", numpy.__version__, "| torch", torch.__version__, "| tensorflow-cpu", tf.__version__,
      "| keras", keras.__version__)
EOF

# MNIST: the benchmarks read the four IDX files from --data-dir, $LAMINA_DATA/mnist or
# ~/.cache/lamina/mnist (where `MNIST.load` in Lamina downloads them).
echo "peers venv ready: $VENV"
