"""Reads data/lamina_model.safetensors (written by Lamina: ModelFileTests.pythonReadsALaminaModelFile,
run with LAMINA_WRITE_FIXTURES=1 to rewrite it) with Python's `safetensors` and NumPy, and
records what they see in data/lamina_model.python.json, which that test compares with the model.

    pip install safetensors numpy && python3 read_lamina_file.py
"""
import json
import os
from safetensors import safe_open
from safetensors.numpy import load_file

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
path = os.path.join(here, "lamina_model.safetensors")
tensors = load_file(path)
with safe_open(path, framework="numpy") as f:
    metadata = f.metadata()
config = json.loads(metadata["config"])
out = {
    "tensors": {k: {"dtype": str(v.dtype), "shape": list(v.shape), "values": v.ravel().tolist()} for k, v in tensors.items()},
    "metadata_keys": sorted(metadata),
    "layer_classes": [layer["class_name"] for layer in config["config"]["layers"]],
    "optimizer": config["compile_config"]["optimizer"]["class_name"],
    "epoch": json.loads(metadata["training_state"])["epoch"],
}
with open(os.path.join(here, "lamina_model.python.json"), "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
print({k: (v["dtype"], v["shape"]) for k, v in out["tensors"].items()})
