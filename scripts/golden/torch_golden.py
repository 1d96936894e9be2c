#!/usr/bin/env python3
"""Golden numbers for the lab's model and solver, computed by PyTorch (an independent implementation).

Reads a .safetensors file written by the lab (PyTorch names and layouts) with a reader written here
from the format's spec (so the file format is checked too), builds the same CIFAR ResNet in PyTorch
(option A shortcut with the zero channels appended after the input's, as gcr and the lab do), and
for a fixed input batch records: training-mode logits and loss, a few gradients, the BN running
statistics and parameters after one torch.optim.SGD(nesterov=True) step (Torch7's formula), and
eval-mode logits after the step. Run by scripts/golden/make-golden.ts; needs python3-torch
(Debian). The JSON it prints is committed as src/model/golden.fixture.json, so tests need no Python.
"""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    base = 8 + n
    for name, e in header.items():
        b, end = e["data_offsets"]
        dtype = {"F32": np.float32, "I64": np.int64}[e["dtype"]]
        out[name] = torch.from_numpy(np.frombuffer(data[base + b : base + end], dtype=dtype).reshape(e["shape"]).copy())
    return meta, out


class Block(nn.Module):
    def __init__(self, cin, cout, stride, bias):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=bias)
        self.bn1 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=bias)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
        self.stride, self.cin, self.cout = stride, cin, cout

    def forward(self, x):
        r = F.relu(self.bn1(self.conv1(x)))
        r = self.bn2(self.conv2(r))
        s = x
        if self.stride != 1 or self.cin != self.cout:
            s = x[:, :, :: self.stride, :: self.stride]
            s = F.pad(s, (0, 0, 0, 0, 0, self.cout - self.cin))  # zeros appended after the input channels
        return F.relu(r + s)


class ResNet(nn.Module):
    def __init__(self, n, bias):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=bias)
        self.bn1 = nn.BatchNorm2d(16, eps=1e-5, momentum=0.1)
        cin = 16
        for s, cout in enumerate([16, 32, 64]):
            blocks = []
            for i in range(n):
                blocks.append(Block(cin, cout, 2 if s > 0 and i == 0 else 1, bias))
                cin = cout
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.linear = nn.Linear(64, 10)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.layer3(self.layer2(self.layer1(h)))
        return self.linear(h.mean(dim=(2, 3)))


def golden_input(n):
    """The same formula as makeGoldenInput in src/model/golden.test.ts: NHWC float32, labels i % 10."""
    i = np.arange(n * 32 * 32 * 3, dtype=np.float64)
    x = (np.sin(i * 0.37) + 0.5 * np.cos(i * 0.011)).astype(np.float32).reshape(n, 32, 32, 3)
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.arange(n) % 10


def main():
    path, depth, batch, lr = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    torch.set_num_threads(1)
    meta, tensors = read_safetensors(path)
    model = ResNet((depth - 2) // 6, bias="conv1.bias" in tensors).double()
    missing, unexpected = model.load_state_dict({k: v.double() if v.dtype == torch.float32 else v for k, v in tensors.items()}, strict=True)
    x, y = golden_input(batch)
    x = x.double()
    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, dampening=0, nesterov=True, weight_decay=1e-4)
    opt.zero_grad()
    loss.backward()
    named = dict(model.named_parameters())
    watch = ["conv1.weight", "bn1.weight", "layer2.0.conv1.weight", "layer3.0.bn2.bias", "linear.weight", "linear.bias"]
    if "conv1.bias" in named:
        watch.append("conv1.bias")
    grads = {k: named[k].grad.flatten().tolist() for k in watch}
    opt.step()
    after = {k: named[k].detach().flatten().tolist() for k in watch}
    sd = model.state_dict()
    running = {k: sd[k].flatten().tolist() for k in ["bn1.running_mean", "bn1.running_var", "layer3.0.bn2.running_var"]}
    model.eval()
    with torch.no_grad():
        eval_logits = model(x)
    print(json.dumps({
        "source": f"PyTorch {torch.__version__}, float64, scripts/golden/torch_golden.py",
        "config": meta.get("resnet_lab_config", ""),
        "depth": depth, "batch": batch, "lr": lr,
        "layout": "grads and params in PyTorch layout (conv [out, in, kh, kw], linear [out, in])",
        "trainLogits": logits.detach().flatten().tolist(),
        "loss": loss.item(),
        "grads": grads,
        "paramsAfterStep": after,
        "runningAfterStep": running,
        "evalLogitsAfterStep": eval_logits.flatten().tolist(),
    }))


if __name__ == "__main__":
    main()
