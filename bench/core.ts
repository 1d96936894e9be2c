// The measurements of `npm run bench` that run the same way in Node and in a browser worker: the bare
// training step, the lab's training loop (Trainer.run), the data pipeline, test-set evaluation and
// tensor-count drift. Each returns BenchRecords in the schema of issue 4. No Node or DOM imports: the
// caller has already chosen the backend (src/backend/setup.ts) and loaded the data.
// What it is not: the orchestration (bench/run.ts), the browser driver (bench/browser.ts) or PyTorch.

import * as tf from '@tensorflow/tfjs-core';
import { parseConfigQueryStrict } from '../src/experiment/config.ts';
import { resolveExperiment, type Experiment } from '../src/train/experiment.ts';
import { createSolver } from '../src/train/solvers.ts';
import { solverParamsOf, trainOnBatch, Trainer } from '../src/train/trainer.ts';
import { evaluateModel } from '../src/train/evaluate.ts';
import { ResNet } from '../src/model/resnet.ts';
import { BatchSampler, computeStats, newBatchBuffers, type DataStats } from '../src/data/batches.ts';
import { createRng } from '../src/util/rng.ts';
import type { CifarData, CifarSplit } from '../src/data/cifar.ts';

export type BenchWhat = 'train-step' | 'loop' | 'data' | 'eval' | 'gpu-step' | 'gpu-kernel';
export type BenchBackend = 'wasm' | 'cpu' | 'webgl' | 'webgpu' | 'pytorch-cpu';
export type BenchContext = 'node' | 'browser-worker' | 'python';

/** One measurement (issue 4's schema plus extra fields). */
export interface BenchRecord {
  what: BenchWhat;
  /** "resnet20", ...; for 'data', the protocol's pipeline ("gcr pipeline"). */
  model: string;
  batch: number;
  backend: BenchBackend;
  context: BenchContext;
  medianMs: number;
  imagesPerSec: number;
  threads: number;
  /** A software GPU (SwiftShader) or a CPU backend posing as one. */
  software: boolean;
  /** Timed repetitions (steps, batches) behind medianMs, after `warmup` untimed ones. */
  steps?: number;
  warmup?: number;
  minMs?: number;
  /** Extra configuration beyond depth (block variant, shortcut, memory format, ...). */
  variant?: string;
  /**
   * Peak tf.memory().numBytes during one step (model, optimiser state and every live tensor). tfjs
   * counts bytes per tensor object, so a buffer shared by several tensors (reshapes, tensors saved by
   * two ops) counts more than once: an upper bound of the buffers' size.
   */
  peakBytes?: number;
  /** wasm: the wasm heap's size after the steps, the memory the buffers really took (process peak so far). */
  heapBytes?: number;
  /** 'loop': tensors alive after the last step minus after the first measured one (0 = no leak). */
  tensorDrift?: number;
  /** 'loop': steps the drift was measured over. */
  driftSteps?: number;
  /**
   * 'loop': median of the bare step on the same backend and context, and loop / bare (fastest steps,
   * report.ts overheadOf). With pairedRounds, the bare steps were measured in turns with the loop's
   * (bareMinMs their fastest); without, bareMs is the train-step record's median.
   */
  bareMs?: number;
  bareMinMs?: number;
  /** 'loop': rounds of (bare steps, loop steps) measured in turns (StepPlan.rounds), and each round's medians. */
  pairedRounds?: number;
  pairs?: { bareMs: number; loopMs: number }[];
  /**
   * 'train-step' of the deep model (BenchPlan.depthRatio): its steps and the shallow model's measured
   * in turns, each round's two medians, and the median of the rounds' deep / shallow.
   */
  depthPairs?: { shallowMs: number; deepMs: number }[];
  depthRatio?: number;
  depthRatioTo?: string;
  /**
   * 'train-step' of the lab measured in turns with PyTorch (bench/torch-rounds.ts), one entry per
   * round: PyTorch's faster median of that round (its memory format in torchFormat), then the lab's
   * median. vsPytorch is then the median of the rounds' labMs / torchMs.
   */
  torchPairs?: { torchMs: number; torchFormat: string; labMs: number }[];
  overhead?: number;
  /** 'train-step' on a GPU backend: synchronous GPU-to-CPU reads (readSync/dataSync) during one step. */
  syncReads?: number;
  /** 'train-step', 'loop': ours / PyTorch's best median (channels-last or default), same model and batch. */
  vsPytorch?: number;
  /** The same with the fastest step of each (steadier on a shared machine). */
  vsPytorchFastest?: number;
  /**
   * 'eval': how long each evaluation held the lab's loop up (core.ts timeEvalHoldUp), in order, and
   * the median of those after the first (which also sets evaluation up, as the untimed warm-up pass
   * of medianMs does).
   */
  holdUps?: number[];
  holdUpMs?: number;
  note?: string;
  /** Why the measurement could not be made (then medianMs is NaN, null in JSON). */
  failed?: string;
  /**
   * 'gpu-step' (one WebGPU training step, bench/gpu-counters.ts): compute dispatches, distinct
   * pipelines, bytes written to the GPU and mapped back. Its medianMs is the step's; variant "stock"
   * for tfjs-webgpu's own kernels.
   */
  dispatches?: number;
  pipelines?: number;
  bytesUploaded?: number;
  bytesReadBack?: number;
  /**
   * 'gpu-kernel' (one kernel's dispatches of a step with one launch shape): its name, calls, threads
   * launched per call (in `threads`), the longest chain of multiply-adds in one thread, and its share
   * of the step's multiply-adds. medianMs and imagesPerSec are 0: kernels are not timed.
   */
  kernel?: string;
  calls?: number;
  serialMacsPerThread?: number;
  macShare?: number;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The lab's default experiment (gcr protocol, paper block, option A) at a depth and batch, plus extra query keys. */
export function experimentFor(depth: number, batch: number, extra = ''): Experiment {
  const protocol = /(^|&)protocol=/.test(extra) ? '' : 'protocol=gcr&';
  return resolveExperiment(parseConfigQueryStrict(`${protocol}depth=${depth}&batch=${batch}${extra ? `&${extra}` : ''}`));
}

export { randomSplit } from '../src/data/random-split.ts';

export interface StepTiming {
  times: number[];
  peakBytes: number;
  /** wasm: the size of the wasm heap after the steps (it only grows: the process's peak so far). */
  heapBytes?: number;
  syncReads?: number;
}

/** The wasm backend's heap size in bytes, or undefined on other backends. */
export function wasmHeapBytes(): number | undefined {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.buffer.byteLength;
}

export interface StepOptions {
  warmup: number;
  steps: number;
  /** Stop timing once this many milliseconds of timed steps have run (at least 3 steps). */
  budgetMs?: number;
  /** Count synchronous reads from the backend in one extra step (GPU backends). */
  countSyncReads?: boolean;
  /** Profile one extra step for its peak bytes (default true). */
  peak?: boolean;
}

/** Counts backend.readSync calls while f runs (every dataSync/arraySync ends there). */
async function countReads(f: () => Promise<void>): Promise<number> {
  const backend = tf.backend() as unknown as { readSync: (id: unknown) => unknown };
  const original = backend.readSync;
  let n = 0;
  backend.readSync = function (this: unknown, id: unknown) {
    n++;
    return original.call(this, id);
  };
  try {
    await f();
  } finally {
    backend.readSync = original;
  }
  return n;
}

/**
 * The bare training step (trainOnBatch: forward, backward, solver update, BN statistics) on one fixed
 * batch, timed until its loss is read back. Returns each timed step's milliseconds and the peak tensor
 * memory of one profiled step.
 */
export async function timeBareSteps(exp: Experiment, split: CifarSplit, stats: DataStats, opts: StepOptions): Promise<StepTiming> {
  const { batch } = exp.config;
  const model = ResNet.create(exp.spec, 1);
  const solver = createSolver(exp.solver);
  const params = solverParamsOf(model);
  const b = new BatchSampler(split, stats, exp.data, createRng(3)).next(batch);
  const step = async () => {
    const { loss, error } = trainOnBatch(model, solver, params, b.x, b.y, 0.01, 0.1);
    await loss.data();
    loss.dispose();
    error.dispose();
  };
  try {
    for (let i = 0; i < opts.warmup; i++) await step();
    const times: number[] = [];
    let spent = 0;
    for (let i = 0; i < opts.steps; i++) {
      const t0 = performance.now();
      await step();
      const dt = performance.now() - t0;
      times.push(dt);
      spent += dt;
      if (opts.budgetMs !== undefined && spent > opts.budgetMs && times.length >= 3) break;
    }
    let peakBytes = NaN;
    if (opts.peak !== false) peakBytes = (await tf.profile(step)).peakBytes;
    const syncReads = opts.countSyncReads ? await countReads(step) : undefined;
    const heapBytes = wasmHeapBytes();
    return { times, peakBytes, ...(heapBytes !== undefined ? { heapBytes } : {}), ...(syncReads !== undefined ? { syncReads } : {}) };
  } finally {
    model.dispose();
    solver.dispose();
  }
}

/**
 * Two depths' bare steps measured in turns (shallow then deep, `rounds` times): each round's medians
 * and the median of the rounds' deep / shallow, the step-time ratio with slow drifts of a shared
 * machine's speed cancelled out (as pairedLoop does for the loop's overhead).
 */
export async function pairedDepths(
  rounds: number,
  shallow: () => Promise<number[]>,
  deep: () => Promise<number[]>,
): Promise<{ pairs: { shallowMs: number; deepMs: number }[]; ratio: number }> {
  const pairs: { shallowMs: number; deepMs: number }[] = [];
  for (let r = 0; r < Math.max(1, rounds); r++) {
    const s = median(await shallow());
    const d = median(await deep());
    pairs.push({ shallowMs: s, deepMs: d });
  }
  return { pairs, ratio: median(pairs.map((p) => p.deepMs / p.shallowMs)) };
}

/**
 * The loop against the bare step, measured in turns (plan.rounds times each, bare first), so that
 * other work on a shared machine weighs on both alike: one 'loop' record with the loop's intervals,
 * the bare steps' median and fastest, and each round's two medians (`pairs`: report.ts judges the
 * overhead by the median of the rounds' loop / bare, a paired comparison that slow drifts of the
 * machine's speed cancel out of).
 */
export async function pairedLoop(
  plan: { depth: number; batch: number; warmup: number; steps: number; rounds?: number },
  bare: () => Promise<number[]>,
  loop: () => Promise<number[]>,
  base: Pick<BenchRecord, 'backend' | 'context' | 'threads' | 'software'>,
  note: string,
): Promise<BenchRecord> {
  const rounds = Math.max(1, plan.rounds ?? 1);
  const bareTimes: number[] = [];
  const loopTimes: number[] = [];
  const pairs: { bareMs: number; loopMs: number }[] = [];
  for (let r = 0; r < rounds; r++) {
    const b = await bare();
    const l = await loop();
    bareTimes.push(...b);
    loopTimes.push(...l);
    pairs.push({ bareMs: median(b), loopMs: median(l) });
  }
  const ms = median(loopTimes);
  return {
    what: 'loop',
    model: `resnet${plan.depth}`,
    batch: plan.batch,
    ...base,
    medianMs: ms,
    imagesPerSec: (plan.batch * 1000) / ms,
    steps: loopTimes.length,
    warmup: plan.warmup,
    minMs: Math.min(...loopTimes),
    bareMs: median(bareTimes),
    bareMinMs: Math.min(...bareTimes),
    pairedRounds: rounds,
    pairs,
    note: `${note}; bare step and loop measured in turns, ${rounds} x (${plan.steps} bare, ${plan.steps} loop steps)`,
  };
}

export interface LoopTiming {
  /** Milliseconds between consecutive step events after the warm-up. */
  intervals: number[];
  /** tf.memory().numTensors seen in each step event. */
  tensors: number[];
}

/**
 * The lab's own loop, as the CLI runs it: Trainer.run (sampling and augmenting each batch, the step,
 * the schedule, reading the loss and error back, the callbacks) for warmup + steps iterations. The
 * evaluation before the first step and after the last are outside the timed intervals.
 */
export async function timeLoop(
  exp: Experiment,
  data: CifarData,
  stats: DataStats,
  opts: { warmup: number; steps: number; evalLimit?: number },
): Promise<LoopTiming> {
  const trainer = new Trainer(
    exp,
    { train: data.train, test: data.test },
    {
      stats,
      maxSteps: opts.warmup + opts.steps,
      evalLimit: opts.evalLimit ?? 100,
    },
  );
  const stamps: number[] = [];
  const tensors: number[] = [];
  try {
    await trainer.run({
      onStep: () => {
        stamps.push(performance.now());
        tensors.push(tf.memory().numTensors);
      },
    });
  } finally {
    trainer.dispose();
  }
  const intervals: number[] = [];
  for (let i = Math.max(1, opts.warmup); i < stamps.length; i++) intervals.push(stamps[i]! - stamps[i - 1]!);
  return { intervals, tensors };
}

/** Drift of the tensor count over a loop: count after the last step minus after the first. */
export function tensorDrift(tensors: readonly number[]): number {
  return tensors.length < 2 ? 0 : tensors[tensors.length - 1]! - tensors[0]!;
}

/**
 * The input pipeline alone: BatchSampler.next (preprocessing, augmentation, batching) as the trainer
 * calls it, written into one batch array again and again as the trainer does. Returns milliseconds
 * per batch, one entry per timed batch.
 */
export function timeDataPipeline(exp: Experiment, split: CifarSplit, stats: DataStats, batches: number): number[] {
  const sampler = new BatchSampler(split, stats, exp.data, createRng(5));
  const { batch } = exp.config;
  const buffers = newBatchBuffers(batch); // one array for every batch, as the trainer writes them
  for (let i = 0; i < 20; i++) sampler.next(batch, buffers);
  const times: number[] = [];
  for (let i = 0; i < batches; i++) {
    const t0 = performance.now();
    sampler.next(batch, buffers);
    times.push(performance.now() - t0);
  }
  return times;
}

/** Test-set evaluation as the trainer runs it (evaluateModel, batches of 500). Returns total ms. */
export async function timeEval(exp: Experiment, test: CifarSplit, stats: DataStats, images: number, batch = 500): Promise<number> {
  const model = ResNet.create(exp.spec, 1);
  try {
    await evaluateModel(model, test, stats, exp.data, { limit: Math.min(batch, images), batch }); // warm-up
    const t0 = performance.now();
    await evaluateModel(model, test, stats, exp.data, { limit: images, batch });
    return performance.now() - t0;
  } finally {
    model.dispose();
  }
}

/**
 * How long test-set evaluations hold the lab's loop up. Trainer.run trains on the first
 * `stepsPerEpoch` batches of the training split only, so that it evaluates `images` test images every
 * stepsPerEpoch steps, as it does at the end of every real epoch, and is stopped (no final evaluation)
 * one step after the `evals`-th. An evaluation's hold-up is the interval between the step before it
 * and the step after it, less the median interval between steps with no evaluation between them
 * (after the first epoch's first step, a warm-up). Returns one hold-up per evaluation, in order.
 */
export async function timeEvalHoldUp(
  exp: Experiment,
  data: CifarData,
  stats: DataStats,
  opts: { stepsPerEpoch: number; evals: number; images: number },
): Promise<{ holdUps: number[]; stepMs: number }> {
  const n = opts.stepsPerEpoch * exp.config.batch;
  if (n > data.train.n) throw new Error(`eval hold-up needs ${n} training images, the split has ${data.train.n}`);
  const train: CifarSplit = { n, images: data.train.images.subarray(0, n * 3072), labels: data.train.labels.subarray(0, n) };
  const trainer = new Trainer(exp, { train, test: data.test }, { stats, evalLimit: opts.images });
  const stamps: number[] = [];
  const evalAfter = new Set<number>();
  const lastStep = opts.stepsPerEpoch * opts.evals + 1;
  try {
    await trainer.run({
      onStep: () => void stamps.push(performance.now()),
      onEpoch: (e) => void (e.step > 0 && evalAfter.add(e.step)),
      between: () => stamps.length >= lastStep,
    });
  } finally {
    trainer.dispose();
  }
  if (stamps.length < lastStep || evalAfter.size < opts.evals)
    throw new Error(`eval hold-up: the loop stopped after ${stamps.length} steps, ${evalAfter.size} evaluations`);
  const plain: number[] = [];
  const holds: number[] = [];
  for (let s = 2; s < stamps.length; s++) {
    const interval = stamps[s]! - stamps[s - 1]!; // from step s to step s + 1 (1-based)
    if (evalAfter.has(s)) holds.push(interval);
    else plain.push(interval);
  }
  const stepMs = median(plain);
  return { holdUps: holds.map((h) => h - stepMs), stepMs };
}

export { computeStats };
