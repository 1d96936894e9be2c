// The PyTorch part of `npm run bench`: finds a Python that can `import torch` (Debian's python3-torch
// lives in /usr/bin/python3, which a pyenv or venv python3 on PATH may hide), runs bench/torch_step.py
// and turns its JSON into BenchRecords. Where no Python has torch, PyTorch is skipped with a note;
// `--install-torch` first runs `apt-get install -y python3-torch` (never done without the flag).

import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { BenchRecord } from './core.ts';
import type { BenchPlan } from './plan.ts';

const CANDIDATES = ['/usr/bin/python3', 'python3', 'python'];

/** The first Python that imports torch, or undefined. */
export function findTorchPython(): { python: string; version: string } | undefined {
  for (const python of CANDIDATES) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return { python, version: r.stdout.trim() };
  }
  return undefined;
}

/** apt-get install -y python3-torch (as root, or through sudo). */
export function installTorch(log: (l: string) => void): boolean {
  const root = process.getuid?.() === 0;
  const cmd = root ? 'apt-get' : 'sudo';
  const pre = root ? [] : ['apt-get'];
  log('installing python3-torch with apt-get (--install-torch)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync(cmd, [...pre, 'update', '-qq'], { stdio: 'inherit', env });
  if (update.status !== 0) return false;
  return spawnSync(cmd, [...pre, 'install', '-y', '-qq', 'python3-torch'], { stdio: 'inherit', env }).status === 0;
}

interface TorchOutput {
  torch: string;
  threads: number;
  results: { depth: number; batch: number; format: string; medianMs: number; minMs: number; steps: number; warmup: number }[];
}

export function runTorchBench(plan: BenchPlan, threads: number, log: (l: string) => void, install = false): BenchRecord[] {
  let found = findTorchPython();
  if (!found && install && installTorch(log)) found = findTorchPython();
  if (!found) {
    log('PyTorch: no python with torch (apt-get install python3-torch, or pass --install-torch): skipped');
    return [];
  }
  log(`PyTorch ${found.version} (${found.python}), ${threads} threads`);
  const t = plan.torch;
  const r = spawnSync(
    found.python,
    [
      resolve(import.meta.dirname, 'torch_step.py'),
      '--depths',
      t.depths.join(','),
      '--batch',
      String(t.batch),
      '--warmup',
      String(t.warmup),
      '--steps',
      String(t.steps),
      '--threads',
      String(threads),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000 },
  );
  if (r.status !== 0) {
    log(`PyTorch bench failed (exit ${r.status}): skipped`);
    return [];
  }
  const parsed = JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchOutput;
  return parsed.results.map((x) => ({
    what: 'train-step',
    model: `resnet${x.depth}`,
    batch: x.batch,
    backend: 'pytorch-cpu',
    context: 'python',
    medianMs: x.medianMs,
    imagesPerSec: (x.batch * 1000) / x.medianMs,
    threads: parsed.threads,
    software: false,
    steps: x.steps,
    warmup: x.warmup,
    minMs: x.minMs,
    variant: x.format,
    note: `PyTorch ${parsed.torch}, torch.set_num_threads(${parsed.threads}), SGD Nesterov`,
  }));
}
