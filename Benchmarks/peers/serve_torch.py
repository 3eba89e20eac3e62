"""The serving peer a Python user would deploy: the MNIST convnet in PyTorch behind FastAPI +
uvicorn, speaking the same TensorFlow Serving REST protocol as lamina-serve
(POST /v1/models/mnist:predict with {"instances": [...]} of NHWC images -> {"predictions": [...]}).

    pip install fastapi uvicorn torch
    python3 serve_torch.py --port 8501 [--workers N] [--weights mnist_cnn.pt]

--workers N runs N uvicorn worker processes with one PyTorch thread each (how a Python user
deploys on an N-core machine); the default, 1, is one process with PyTorch's own threads.

The model is the same convnet as Benchmarks' CNN workload (Conv 32, pool, Conv 64, pool,
Dense 128, Dense 10); its weights do not change the timing, so random ones are used unless
--weights names a state_dict.
"""
import argparse
import math

import torch
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=8501)
parser.add_argument("--weights")
parser.add_argument("--workers", type=int, default=1)
args, _ = parser.parse_known_args()
if args.workers > 1:
    torch.set_num_threads(1)


class ConvNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 3)
        self.conv2 = torch.nn.Conv2d(32, 64, 3)
        self.fc1 = torch.nn.Linear(64 * 5 * 5, 128)
        self.fc2 = torch.nn.Linear(128, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.relu(self.fc1(torch.flatten(x, 1)))
        return torch.softmax(self.fc2(x), dim=1)


torch.manual_seed(0)
model = ConvNet().eval()
if args.weights:
    model.load_state_dict(torch.load(args.weights))
app = FastAPI()


@app.get("/healthz")
def health():
    return {"status": "ok"}


@app.post("/v1/models/{name}:predict")
async def predict(name: str, request: Request):
    if name != "mnist":
        raise HTTPException(404, f"no model named {name!r}")
    body = await request.json()
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances:
        raise HTTPException(400, "instances must be a non-empty list")
    try:
        x = torch.tensor(instances, dtype=torch.float32)
    except (TypeError, ValueError) as e:
        raise HTTPException(400, str(e))
    if tuple(x.shape[1:]) != (28, 28, 1) or not torch.isfinite(x).all():
        raise HTTPException(400, f"expected finite [n, 28, 28, 1], got {list(x.shape)}")
    with torch.no_grad():
        y = model(x.permute(0, 3, 1, 2))
    return JSONResponse({"predictions": y.tolist()})


if __name__ == "__main__":
    if args.workers > 1:
        # Worker processes import this module by name (and read the same argv).
        import os
        import sys
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        uvicorn.run("serve_torch:app", host="127.0.0.1", port=args.port, log_level="warning", workers=args.workers)
    else:
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
