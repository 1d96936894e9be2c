// One training step's kernels by total time (tf.profile), the same way in Node and in a browser worker:
// what bench/profile.ts prints. No Node or DOM imports; the caller has chosen the backend. tfjs-wasm's
// kernels are synchronous, so their times are wall-clock times of the kernel itself. Rows in
// parentheses are not kernels but scopes that tf.profile also records (a tf.customGrad's forward
// function, named tidies): their time includes the kernels inside them, which have rows of their own,
// so they are left out of the total.

import * as tf from '@tensorflow/tfjs-core';
import { createSolver } from '../src/train/solvers.ts';
import { solverParamsOf, trainOnBatch } from '../src/train/trainer.ts';
import { ResNet } from '../src/model/resnet.ts';
import { BatchSampler, computeStats } from '../src/data/batches.ts';
import { createRng } from '../src/util/rng.ts';
import { labPoolStats, labThreads, labWaitForHelpers, labWasmInfo } from '../src/kernels/lab-wasm.ts';
import type { KernelOptions } from '../src/kernels/options.ts';
import { experimentFor, median, randomSplit, wasmHeapBytes } from './core.ts';

export interface ProfileOptions {
  /** XNNPACK's threads, where they should differ from the lab's (initBackend's xnnpackThreads). */
  xnnpackThreads?: number;
  depth: number;
  batch: number;
  /** Extra configuration query ("block=relu-bnafter", "shortcut=B"). */
  extra: string;
  /** Timed steps before the profiled one (after one warm-up). */
  steps: number;
  top: number;
  /** Also list the tensor memory along the step. */
  memory: boolean;
  /**
   * The kernel options the caller handed initBackend (src/kernels/options.ts), to compare: the lab's
   * kernels off, no Winograd, another tile or chunk count. Only printed here; initBackend applies them.
   */
  kernels?: Partial<KernelOptions>;
  /** CPU time of the process in ms, where there is one (Node): printed beside the wall clock. */
  cpuMs?: () => number;
}

/** The report's lines: a summary, then one row per kernel (and scope), most time first. */
export async function profileStep(backendName: string, o: ProfileOptions): Promise<string[]> {
  await labWaitForHelpers(tf.backend(), 10_000);
  const exp = experimentFor(o.depth, o.batch, o.extra);
  const split = randomSplit(o.batch * 2, 1);
  const model = ResNet.create(exp.spec, 1);
  const solver = createSolver(exp.solver);
  const params = solverParamsOf(model);
  const b = new BatchSampler(split, computeStats(split), exp.data, createRng(3)).next(o.batch);
  const step = async () => {
    const { loss, error } = trainOnBatch(model, solver, params, b.x, b.y, 0.01, 0.1);
    await loss.data();
    tf.dispose([loss, error]);
  };
  await step();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < o.steps; i++) {
    const c0 = o.cpuMs?.();
    const t0 = performance.now();
    await step();
    wall.push(performance.now() - t0);
    if (c0 !== undefined) cpu.push(o.cpuMs!() - c0);
  }
  const pool0 = labPoolStats(tf.backend());
  const prof = await tf.profile(step);
  const pool1 = labPoolStats(tf.backend());
  model.dispose();
  solver.dispose();
  const flavour = labWasmInfo(tf.backend())?.flavour;
  const threads = labThreads(tf.backend());

  const isScope = (name: string) => name === 'unnamed scope' || name === 'forward' || name === 'backward' || name.endsWith('__op');
  const byName = new Map<string, { ms: number; n: number }>();
  let total = 0;
  for (const k of prof.kernels) {
    const ms = k.kernelTimeMs as number;
    if (!isScope(k.name)) total += ms;
    const e = byName.get(k.name) ?? { ms: 0, n: 0 };
    e.ms += ms;
    e.n++;
    byName.set(k.name, e);
  }
  const cpuText = cpu.length > 0 ? `, ${median(cpu).toFixed(0)} ms CPU (min ${Math.min(...cpu).toFixed(0)})` : '';
  const lines = [
    `${backendName} resnet${o.depth} b${o.batch}${o.extra ? ` ${o.extra}` : ''}${flavour != null ? ` (lab kernels: ${flavour}, ${o.kernels?.labFilterGradTaps === false ? 'filter gradient as matrix products' : `filter gradient on ${threads} thread(s)`}${o.kernels?.labConv === false ? ', convolutions in XNNPACK' : o.kernels?.winograd === false ? ', direct 3x3 convolutions' : ''})` : ' (lab kernels off)'}: step ${median(wall).toFixed(0)} ms wall (min ${Math.min(...wall).toFixed(0)})${cpuText}, median of ${wall.length}; ` +
      `kernels ${total.toFixed(0)} ms in the profiled step, peak tf.memory() ${(prof.peakBytes / 2 ** 20).toFixed(1)} MiB, wasm heap ${((wasmHeapBytes() ?? NaN) / 2 ** 20).toFixed(1)} MiB`,
  ];
  if (pool0 != null && pool1 != null && pool1.calls > pool0.calls) {
    // How evenly the split kernels' parts finish: the caller's own parts, then its wait for the helpers.
    lines.push(
      `lab kernels split over helper threads: ${pool1.calls - pool0.calls} calls in the profiled step, the caller's parts ` +
        `${(pool1.ownMs - pool0.ownMs).toFixed(1)} ms, then ${(pool1.waitMs - pool0.waitMs).toFixed(1)} ms waiting for the helpers`,
    );
  }
  for (const [name, e] of [...byName].sort((x, y) => y[1].ms - x[1].ms).slice(0, o.top)) {
    lines.push(
      `${(isScope(name) ? `(${name})` : name).padEnd(28)} ${e.ms.toFixed(1).padStart(8)} ms ${((100 * e.ms) / total).toFixed(1).padStart(5)}%  x${e.n}`,
    );
  }
  if (o.memory) {
    const k = prof.kernels;
    const every = Math.max(1, Math.floor(k.length / 60));
    for (let i = 0; i < k.length; i += every) {
      lines.push(
        `${String(i).padStart(5)} ${k[i]!.name.padEnd(24)} ${(k[i]!.totalBytesSnapshot / 2 ** 20).toFixed(0).padStart(6)} MiB ${k[i]!.outputShapes.map((s) => `[${s}]`).join(' ')}`,
      );
    }
  }
  return lines;
}
