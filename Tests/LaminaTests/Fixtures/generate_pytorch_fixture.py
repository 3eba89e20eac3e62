"""Writes data/pytorch_*.safetensors for PyTorchImportTests: state_dicts of small PyTorch
models (saved with safetensors.torch.save_file, the usual way to share them) and, in
pytorch_io.safetensors, inputs and the outputs PyTorch computes for them.

    pip install torch safetensors && python3 generate_pytorch_fixture.py
"""
import os
import torch
from torch import nn
from safetensors.torch import save_file

torch.manual_seed(0)
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# Conv2d -> BatchNorm2d -> ReLU -> MaxPool -> Flatten (NCHW order!) -> Linear
cnn = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Flatten(), nn.Linear(4 * 4 * 4, 5))
with torch.no_grad():   # non-trivial running statistics and affine parameters
    cnn[1].running_mean.uniform_(-0.5, 0.5)
    cnn[1].running_var.uniform_(0.5, 2.0)
    cnn[1].weight.uniform_(0.5, 1.5)
    cnn[1].bias.uniform_(-0.2, 0.2)
cnn.eval()


class Recurrent(nn.Module):
    """nn.RNN (tanh) -> nn.LSTM -> Linear on the last step; attribute names sort out of order."""
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(3, 4, batch_first=True)
        self.lstm = nn.LSTM(4, 6, batch_first=True)
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        h, _ = self.rnn(x)
        h, _ = self.lstm(h)
        return self.head(h[:, -1])


rec = Recurrent().eval()

x_cnn = torch.randn(3, 2, 8, 8)
x_rec = torch.randn(3, 5, 3)
with torch.no_grad():
    y_cnn, y_rec = cnn(x_cnn), rec(x_rec)

save_file({k: v.contiguous() for k, v in cnn.state_dict().items()}, os.path.join(here, "pytorch_cnn.safetensors"))
save_file({k: v.contiguous() for k, v in rec.state_dict().items()}, os.path.join(here, "pytorch_recurrent.safetensors"))
save_file({"cnn_x_nchw": x_cnn, "cnn_y": y_cnn, "rec_x": x_rec, "rec_y": y_rec},
          os.path.join(here, "pytorch_io.safetensors"), metadata={"torch": torch.__version__})
print({k: tuple(v.shape) for k, v in cnn.state_dict().items()})
print({k: tuple(v.shape) for k, v in rec.state_dict().items()})
