"""PyTorch's side of the GPU run (scripts/gpu/run.sh): the CIFAR ResNet of bench/torch_step.py on CUDA,
training steps at batch 128 in float32 (TF32 off, as WebGPU computes in float32), in the default and the
channels-last memory format, and a test pass over 10,000 images at batch 500, giving seconds per epoch
(391 steps plus the test pass). Random images: only time matters. Prints one JSON object per line.

    python3 bench/torch_gpu.py --depths 20,56,110 --batch 128

Not the CPU bench (bench/torch_step.py), and not the lab's side (bench/gpu-run.ts).
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_step import ResNet  # noqa: E402


def timed(fn, warmup, steps, budget_s):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times, spent = [], 0.0
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        times.append(dt * 1000)
        spent += dt
        if spent > budget_s and len(times) >= 3:
            break
    return times


def measure(depth, batch, channels_last, args):
    dev = torch.device("cuda")
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = ResNet(depth).to(dev, memory_format=fmt)
    x = torch.randn(batch, 3, 32, 32, device=dev).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,), device=dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    model.train()
    times = timed(step, args.warmup, args.steps, args.budget)
    test = torch.randn(500, 3, 32, 32, device=dev).contiguous(memory_format=fmt)
    model.eval()
    with torch.no_grad():
        passes = math.ceil(args.test_images / 500)
        test_ms = timed(lambda: [model(test).argmax(1) for _ in range(passes)], 1, 3, args.budget)
    steps_per_epoch = math.ceil(50000 / batch)
    med = statistics.median(times)
    return {
        "what": "torch-epoch",
        "model": f"resnet{depth}",
        "batch": batch,
        "format": "channels-last" if channels_last else "default",
        "medianMs": med,
        "minMs": min(times),
        "steps": len(times),
        "testPassMs": statistics.median(test_ms),
        "secondsPerEpoch": (steps_per_epoch * med + statistics.median(test_ms)) / 1000,
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--depths", default="20,56,110")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--budget", type=float, default=10.0, help="seconds of timed steps at most per model")
    p.add_argument("--test-images", type=int, default=10000)
    args = p.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"what": "torch-epoch", "error": "CUDA is not available to this PyTorch"}))
        return
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(json.dumps({"what": "torch", "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0)}), flush=True)
    for depth in [int(d) for d in args.depths.split(",")]:
        for channels_last in (False, True):
            print(json.dumps(measure(depth, args.batch, channels_last, args)), flush=True)


if __name__ == "__main__":
    main()
