"""Makes the ONNX files that ONNXImportTests imports, and onnxruntime's outputs for them.

Run with the peers' venv (torch, onnx, onnxruntime):
    /root/peers-venv/bin/python Tests/LaminaTests/Fixtures/generate_onnx_import_fixtures.py

Writes into Fixtures/onnx/:
- torch_cnn.onnx: a small PyTorch convnet (Conv2d with padding, BatchNorm2d in eval mode, ReLU,
  MaxPool2d, a stride-2 Conv2d whose padding is not TensorFlow's "same", LeakyReLU,
  AdaptiveAvgPool2d, Flatten, Linear, Softmax) exported by torch.onnx.export, NCHW input.
- helper_lstm.onnx: a graph built with onnx.helper: a time-major LSTM (ONNX's gate order and
  two biases), Squeeze of Y_h, Gemm with transB, Sigmoid; Concat with a second input's
  BatchNormalization (the ONNX operator, inference mode) and Tanh.
- torch_lstm.onnx: a PyTorch LSTM classifier (batch_first, the last hidden state through Linear
  and sigmoid) exported by torch.onnx.export with a dynamic batch: its initial states are zeros
  expanded to a shape computed from the input (Shape, Gather, Unsqueeze, Concat, Expand).
- onnx_import_reference.json: for each file, the inputs (ONNX layout) and onnxruntime's
  outputs.
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx")
os.makedirs(here, exist_ok=True)
torch.manual_seed(0)
rng = np.random.default_rng(0)


class CNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 6, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(6)
        self.pool = torch.nn.MaxPool2d(2)
        self.conv2 = torch.nn.Conv2d(6, 8, 3, stride=2, padding=1)
        self.act = torch.nn.LeakyReLU(0.1)
        self.gap = torch.nn.AdaptiveAvgPool2d(1)
        self.flatten = torch.nn.Flatten()
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn(self.conv1(x))))
        x = self.act(self.conv2(x))
        return torch.softmax(self.fc(self.flatten(self.gap(x))), dim=1)


cnn = CNN()
with torch.no_grad():   # running statistics away from 0 and 1
    cnn.bn.running_mean.copy_(torch.randn(6) * 0.1)
    cnn.bn.running_var.copy_(torch.rand(6) + 0.5)
    cnn.bn.weight.copy_(torch.rand(6) + 0.5)
    cnn.bn.bias.copy_(torch.randn(6) * 0.1)
cnn.eval()
cnn_path = os.path.join(here, "torch_cnn.onnx")
torch.onnx.export(cnn, torch.randn(2, 3, 8, 8), cnn_path, opset_version=17, input_names=["image"], output_names=["probabilities"],
                  dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}}, dynamo=False)

steps, features, units = 5, 3, 4
W = rng.normal(0, 0.5, (1, 4 * units, features)).astype(np.float32)
R = rng.normal(0, 0.5, (1, 4 * units, units)).astype(np.float32)
B = rng.normal(0, 0.2, (1, 8 * units)).astype(np.float32)
G = rng.normal(0, 0.5, (2, units)).astype(np.float32)   # Gemm weight, transposed (transB = 1)
C = rng.normal(0, 0.1, (2,)).astype(np.float32)
nodes = [
    helper.make_node("LSTM", ["sequence", "W", "R", "B"], ["Y", "Y_h"], name="lstm", hidden_size=units),
    helper.make_node("Squeeze", ["Y_h", "axis0"], ["last"], name="last"),
    helper.make_node("Gemm", ["last", "G", "C"], ["logits"], name="classifier", transB=1),
    helper.make_node("Sigmoid", ["logits"], ["score"], name="score"),
    helper.make_node("BatchNormalization", ["extra", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["extra_bn"], name="extra_bn",
                     epsilon=1e-3),
    helper.make_node("Tanh", ["extra_bn"], ["extra_tanh"], name="extra_tanh"),
    helper.make_node("Concat", ["score", "extra_tanh"], ["joined"], name="joined", axis=1),
]
graph = helper.make_graph(
    nodes, "helper_lstm",
    [helper.make_tensor_value_info("sequence", TensorProto.FLOAT, [steps, "batch", features]),
     helper.make_tensor_value_info("extra", TensorProto.FLOAT, ["batch", 3])],
    [helper.make_tensor_value_info("joined", TensorProto.FLOAT, ["batch", 5])],
    [numpy_helper.from_array(W, "W"), numpy_helper.from_array(R, "R"), numpy_helper.from_array(B, "B"),
     numpy_helper.from_array((rng.random(3) + 0.5).astype(np.float32), "bn_scale"),
     numpy_helper.from_array(rng.normal(0, 0.1, 3).astype(np.float32), "bn_bias"),
     numpy_helper.from_array(rng.normal(0, 0.1, 3).astype(np.float32), "bn_mean"),
     numpy_helper.from_array((rng.random(3) + 0.5).astype(np.float32), "bn_var"),
     numpy_helper.from_array(G, "G"), numpy_helper.from_array(C, "C"), numpy_helper.from_array(np.array([0], np.int64), "axis0")])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="onnx.helper")
model.ir_version = 8
onnx.checker.check_model(model, full_check=True)
lstm_path = os.path.join(here, "helper_lstm.onnx")
onnx.save(model, lstm_path)

class LSTMClassifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 4, batch_first=True)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return torch.sigmoid(self.fc(h.squeeze(0)))


lstm_classifier = LSTMClassifier().eval()
torch_lstm_path = os.path.join(here, "torch_lstm.onnx")
torch.onnx.export(lstm_classifier, torch.randn(2, steps, features), torch_lstm_path, opset_version=17, input_names=["sequence"],
                  output_names=["score"], dynamic_axes={"sequence": {0: "batch"}, "score": {0: "batch"}}, dynamo=False)

reference = {}
cases = {
    "torch_cnn": (cnn_path, {"image": rng.normal(0, 1, (2, 3, 8, 8)).astype(np.float32)}),
    "helper_lstm": (lstm_path, {"sequence": rng.normal(0, 1, (steps, 3, features)).astype(np.float32),
                                "extra": rng.normal(0, 1, (3, 3)).astype(np.float32)}),
    "torch_lstm": (torch_lstm_path, {"sequence": rng.normal(0, 1, (3, steps, features)).astype(np.float32)}),
}
for name, (path, feeds) in cases.items():
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    outputs = session.run(None, feeds)
    reference[name] = {
        "file": os.path.basename(path),
        "ops": sorted({n.op_type for n in onnx.load(path).graph.node}),
        "inputs": {k: {"shape": list(v.shape), "data": v.ravel().tolist()} for k, v in feeds.items()},
        "outputs": [{"shape": list(o.shape), "data": o.astype(np.float64).ravel().tolist()} for o in outputs],
    }
with open(os.path.join(here, "onnx_import_reference.json"), "w") as f:
    json.dump(reference, f, indent=1)
print({k: v["ops"] for k, v in reference.items()})
