"""Writes data/python.safetensors with Python's `safetensors` (numpy API), for
SafetensorsTests.readsAFileWrittenByPythonSafetensors. Values are closed forms the test recomputes.

    pip install safetensors numpy && python3 generate_safetensors_fixture.py
"""
import os
import numpy as np
from safetensors.numpy import save_file

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "python.safetensors")
save_file({
    "dense/kernel": (np.arange(6, dtype=np.float32) * 0.25 - 1).reshape(2, 3),
    "dense/bias": np.array([0.5, -0.5, 2.0], dtype=np.float64),
    "step": np.array([7], dtype=np.int32),
}, out, metadata={"source": "python"})
