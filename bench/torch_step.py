"""PyTorch side of `npm run bench`: one CIFAR ResNet training step (forward, cross-entropy, backward,
SGD Nesterov with weight decay) at the same depth and batch as the lab, on the CPU with a fixed number
of threads, in the default (NCHW) and the channels-last memory format. Prints one JSON object.

The network is the paper's (He et al. 2015, section 4.2): conv3x3-BN-ReLU, three stages of n basic
blocks (16, 32, 64 channels), option A shortcuts (stride-2 subsample + zero channels), global average
pool, linear 64->10; conv biases as the lab's gcr protocol has them. Random input: only time matters.

    /usr/bin/python3 bench/torch_step.py --depths 20,56,110 --batch 128 --steps 10 --threads 2

With --serve it stays up for turns taken with the lab's step (bench/torch-rounds.ts): it prints
{"torch", "threads"}, then answers each line of stdin, {"depth", "batch", "format", "warmup",
"steps"}, with {"times": [ms, ...]} on one line, keeping each model and its optimiser between turns.
It ends at the end of stdin. It does not time the lab.
"""

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=True)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=True)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride = stride
        self.extra = cout - cin

    def forward(self, x):
        r = F.relu(self.bn1(self.conv1(x)))
        r = self.bn2(self.conv2(r))
        s = x
        if self.stride != 1 or self.extra:
            s = x[:, :, :: self.stride, :: self.stride]
            s = F.pad(s, (0, 0, 0, 0, 0, self.extra))
        return F.relu(r + s)


class ResNet(nn.Module):
    def __init__(self, depth):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=True)
        self.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for s, cout in enumerate((16, 32, 64)):
            for i in range(n):
                layers.append(Block(cin, cout, 2 if s > 0 and i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(64, 10)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.layers(h)
        return self.linear(F.adaptive_avg_pool2d(h, 1).flatten(1))


def make_step(depth, batch, channels_last):
    """One training step of a fresh seeded model on one fixed random batch, as a function."""
    torch.manual_seed(0)
    model = ResNet(depth)
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def time_step(step, warmup, steps):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def time_steps(depth, batch, warmup, steps, channels_last):
    return time_step(make_step(depth, batch, channels_last), warmup, steps)


def serve():
    """Answers timing requests from stdin, one JSON line each, until stdin ends."""
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    steps = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        fmt = req["format"]
        if fmt not in ("channels-last", "default"):
            print(json.dumps({"error": f"unknown format {fmt!r}"}), flush=True)
            continue
        key = (req["depth"], req["batch"], fmt)
        if key not in steps:
            steps[key] = make_step(req["depth"], req["batch"], fmt == "channels-last")
        times = time_step(steps[key], req["warmup"], req["steps"])
        print(json.dumps({"times": times}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--depths", default="20,56,110")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--serve", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.serve:
        serve()
        return
    results = []
    for depth in [int(d) for d in args.depths.split(",")]:
        for channels_last in (True, False):
            times = time_steps(depth, args.batch, args.warmup, args.steps, channels_last)
            med = statistics.median(times)
            results.append({
                "depth": depth,
                "batch": args.batch,
                "format": "channels-last" if channels_last else "default",
                "medianMs": med,
                "minMs": min(times),
                "steps": len(times),
                "warmup": args.warmup,
            })
            print(f"pytorch resnet{depth} b{args.batch} {results[-1]['format']}: {med:.1f} ms", file=sys.stderr, flush=True)
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "results": results,
    }))


if __name__ == "__main__":
    main()
