// The PyTorch part of `npm run bench`: finds a Python that can `import torch` (Debian's python3-torch
// lives in /usr/bin/python3, which a pyenv or venv python3 on PATH may hide), runs bench/torch_step.py
// and turns its JSON into BenchRecords, or keeps it running (TorchServer) for turns taken with the
// lab's step (bench/torch-rounds.ts). Where no Python has torch, PyTorch is skipped with a note;
// `--install-torch` first runs `apt-get install -y python3-torch` (never done without the flag).

import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { BenchRecord } from './core.ts';
import type { BenchPlan } from './plan.ts';
import type { TorchTurnRequest, TorchTurns } from './torch-rounds.ts';

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

/** A Python with torch, or undefined after a note in the log (installing it first with `install`). */
function torchPython(log: (l: string) => void, install: boolean): { python: string; version: string } | undefined {
  let found = findTorchPython();
  if (!found && install && installTorch(log)) found = findTorchPython();
  if (!found) log('PyTorch: no python with torch (apt-get install python3-torch, or pass --install-torch): skipped');
  return found;
}

const SCRIPT = resolve(import.meta.dirname, 'torch_step.py');

/**
 * bench/torch_step.py --serve in one long-lived process: each request is a line of JSON on its stdin,
 * each answer a line on its stdout, taken in order. close() ends its stdin, and so the process.
 */
export class TorchServer implements TorchTurns {
  private readonly pending: { resolve: (times: number[]) => void; reject: (e: Error) => void }[] = [];
  private gone: string | undefined;

  private constructor(
    private readonly child: ChildProcessByStdio<Writable, Readable, null>,
    lines: Interface,
    readonly version: string,
    readonly threads: number,
  ) {
    lines.on('line', (line) => this.answer(line));
    child.on('exit', (code, signal) => this.fail(`the PyTorch process exited (${signal ?? `exit ${code}`})`));
    child.stdin.on('error', (e) => this.fail(`the PyTorch process's input failed (${e.message})`));
  }

  /** Starts the process and waits for its first line; undefined (with a note in the log) where there is no PyTorch. */
  static async start(threads: number, log: (l: string) => void, install = false): Promise<TorchServer | undefined> {
    const found = torchPython(log, install);
    if (!found) return undefined;
    const child = spawn(found.python, [SCRIPT, '--serve', '--threads', String(threads)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout });
    try {
      const first = await new Promise<string>((ok, no) => {
        lines.once('line', ok);
        child.once('error', no);
        child.once('exit', (code) => no(new Error(`exit ${code}`)));
      });
      const hello = JSON.parse(first) as { torch: string; threads: number };
      log(`PyTorch ${hello.torch} (${found.python}), ${hello.threads} threads, one process for the turns`);
      return new TorchServer(child, lines, hello.torch, hello.threads);
    } catch (e) {
      log(`PyTorch server did not start (${(e as Error).message}): skipped`);
      child.kill();
      return undefined;
    }
  }

  time(req: TorchTurnRequest): Promise<number[]> {
    if (this.gone) return Promise.reject(new Error(this.gone));
    return new Promise((ok, no) => {
      this.pending.push({ resolve: ok, reject: no });
      this.child.stdin.write(JSON.stringify(req) + '\n');
    });
  }

  close(): void {
    this.fail('the PyTorch process was closed');
    this.child.stdin.end();
  }

  private answer(line: string): void {
    const waiting = this.pending.shift();
    if (!waiting) return;
    const a = JSON.parse(line) as { times?: number[]; error?: string };
    if (a.times) waiting.resolve(a.times);
    else waiting.reject(new Error(`PyTorch: ${a.error ?? line}`));
  }

  private fail(why: string): void {
    this.gone ??= why;
    for (const p of this.pending.splice(0)) p.reject(new Error(why));
  }
}

export function runTorchBench(plan: BenchPlan, threads: number, log: (l: string) => void, install = false): BenchRecord[] {
  const found = torchPython(log, install);
  if (!found) return [];
  log(`PyTorch ${found.version} (${found.python}), ${threads} threads`);
  const t = plan.torch;
  const r = spawnSync(
    found.python,
    [
      SCRIPT,
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
