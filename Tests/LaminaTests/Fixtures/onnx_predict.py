"""Runs a Lamina-exported ONNX model in onnxruntime (ONNXExportTests).

stdin: {"model": path, "inputs": [{"shape": [...], "dtype": "float32" | "int32", "data": [...]}]}
stdout: {"outputs": [{"shape": [...], "data": [...]}], "opset": N}
The model is first checked with onnx.checker (full check, shapes inferred).
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort

request = json.load(sys.stdin)
model = onnx.load(request["model"])
onnx.checker.check_model(model, full_check=True)
session = ort.InferenceSession(request["model"], providers=["CPUExecutionProvider"])
feeds = {}
for spec, given in zip(session.get_inputs(), request["inputs"]):
    feeds[spec.name] = np.asarray(given["data"], dtype=given["dtype"]).reshape(given["shape"])
outputs = session.run(None, feeds)
json.dump({"outputs": [{"shape": list(o.shape), "data": o.astype(np.float64).ravel().tolist()} for o in outputs],
           "opset": model.opset_import[0].version}, sys.stdout)
