// WebGPU training steps for the bench, in Node (Dawn) and on a GPU server (bench/gpu-run.ts): the
// step with the lab's WebGPU kernels and with tfjs-webgpu's stock ones (variant "stock"), one step
// counted (gpu-counters.ts: dispatches, pipelines, bytes up and back, per-kernel threads and serial
// chains), and optionally a test pass, for seconds per epoch. The caller has started the webgpu
// backend (src/backend/setup.ts) and chosen the data. Not the records' rendering (report.ts).

import * as tf from '@tensorflow/tfjs-core';
import { kernelOptions, useKernelOptions } from '../src/kernels/options.ts';
import type { DispatchWork } from '../src/kernels/webgpu/dispatch.ts';
import { BatchSampler, type DataStats } from '../src/data/batches.ts';
import type { CifarData } from '../src/data/cifar.ts';
import { evaluateModel } from '../src/train/evaluate.ts';
import { createSolver } from '../src/train/solvers.ts';
import { solverParamsOf, trainOnBatch } from '../src/train/trainer.ts';
import { ResNet } from '../src/model/resnet.ts';
import { createRng } from '../src/util/rng.ts';
import { experimentFor, median, type BenchRecord } from './core.ts';
import type { StepPlan } from './plan.ts';
import { countGpuWork, type GpuCounts } from './gpu-counters.ts';

export type WebGpuVariant = 'lab' | 'stock';

export interface WebGpuStepOptions {
  depth: number;
  batch: number;
  /** Extra share-URL keys, e.g. "protocol=paper" (default: the gcr protocol, as the rest of the bench). */
  extra?: string;
  variant: WebGpuVariant;
  data: CifarData;
  stats: DataStats;
  warmup: number;
  /** Timed steps at most; at least one is always timed, the first of them counted. */
  steps: number;
  /** Stop timing after this much (ms) once one step is timed. */
  budgetMs: number;
  /** Also time one pass over the test split (inference, batch 500 as the lab evaluates). */
  testPass?: boolean;
  log?: (line: string) => void;
}

export interface WebGpuStepResult {
  depth: number;
  batch: number;
  variant: WebGpuVariant;
  times: number[];
  counts: GpuCounts;
  testPassMs?: number;
  /** Tensors alive after the timed steps minus before them (0: every step disposes what it makes). */
  tensorDrift: number;
}

/** Steps per CIFAR-10 epoch at a batch size (50,000 training images, the last batch partial). */
export function stepsPerEpoch(batch: number): number {
  return Math.ceil(50000 / batch);
}

/** Seconds per epoch from a step's median and a test pass: the lab's epoch is that many steps, then the test. */
export function secondsPerEpoch(r: Pick<WebGpuStepResult, 'times' | 'batch' | 'testPassMs'>): number {
  return (stepsPerEpoch(r.batch) * median(r.times) + (r.testPassMs ?? 0)) / 1000;
}

/** Measures one model's WebGPU step with the lab's kernels or the stock ones. */
export async function measureWebGpuStep(o: WebGpuStepOptions): Promise<WebGpuStepResult> {
  const backend = tf.backend();
  const before = kernelOptions(backend);
  useKernelOptions(backend, { ...before, labWebGpu: o.variant === 'lab' });
  const exp = experimentFor(o.depth, o.batch, o.extra);
  const model = ResNet.create(exp.spec, 1);
  const solver = createSolver(exp.solver);
  const params = solverParamsOf(model);
  const b = new BatchSampler(o.data.train, o.stats, exp.data, createRng(3)).next(o.batch);
  const step = async () => {
    const { loss, error } = trainOnBatch(model, solver, params, b.x, b.y, 0.01, 0.1);
    await loss.data();
    tf.dispose([loss, error]);
  };
  const log = o.log ?? (() => {});
  try {
    for (let i = 0; i < o.warmup; i++) await step();
    const tensorsBefore = tf.memory().numTensors;
    // The first timed step is also the counted one (the counters only add a few calls per dispatch).
    const times: number[] = [];
    let counts: GpuCounts | undefined;
    let spent = 0;
    for (let i = 0; i < o.steps && (times.length === 0 || spent < o.budgetMs); i++) {
      const stop = i === 0 ? countGpuWork(backend) : undefined;
      const t0 = performance.now();
      await step();
      times.push(performance.now() - t0);
      spent += times[times.length - 1]!;
      if (stop) counts = stop();
    }
    log(`webgpu ${o.variant} resnet${o.depth} batch ${o.batch}: ${counts!.dispatches} dispatches, ${counts!.pipelines} pipelines`);
    const tensorDrift = tf.memory().numTensors - tensorsBefore;
    log(`  ${times.length} timed steps, median ${median(times).toFixed(1)} ms`);
    let testPassMs: number | undefined;
    if (o.testPass) {
      const t0 = performance.now();
      await evaluateModel(model, o.data.test, o.stats, exp.data);
      testPassMs = performance.now() - t0;
      log(`  test pass over ${o.data.test.n} images: ${testPassMs.toFixed(0)} ms`);
    }
    return {
      depth: o.depth,
      batch: o.batch,
      variant: o.variant,
      times,
      counts: counts!,
      tensorDrift,
      ...(testPassMs != null ? { testPassMs } : {}),
    };
  } finally {
    model.dispose();
    solver.dispose();
    useKernelOptions(backend, before);
  }
}

/** One kernel's dispatches of a step with the same launch shape: the bench's gpu-kernel record. */
export interface KernelSummary {
  kernel: string;
  calls: number;
  threads: number;
  serialMacsPerThread: number;
  macs: number;
  /** Its share of the step's multiply-adds (all calls together). */
  macShare: number;
}

/** Groups a step's dispatches by kernel and launch shape, the largest share of multiply-adds first. */
export function summariseKernels(work: readonly DispatchWork[]): KernelSummary[] {
  const total = work.reduce((s, w) => s + w.macs, 0);
  const groups = new Map<string, KernelSummary>();
  for (const w of work) {
    const key = `${w.kernel}|${w.threads}|${w.serialMacsPerThread}`;
    const g = groups.get(key) ?? {
      kernel: w.kernel,
      calls: 0,
      threads: w.threads,
      serialMacsPerThread: w.serialMacsPerThread,
      macs: 0,
      macShare: 0,
    };
    g.calls++;
    g.macs += w.macs;
    groups.set(key, g);
  }
  const list = [...groups.values()];
  for (const g of list) g.macShare = total > 0 ? g.macs / total : 0;
  return list.sort((a, b) => b.macs - a.macs || a.kernel.localeCompare(b.kernel));
}

/** Issue 17's targets for a ResNet-20 step: dispatches, and threads of every kernel with at least 1% of the multiply-adds. */
export const GPU_TARGETS = { maxDispatches: 250, minThreads: 16384, macShareFloor: 0.01 } as const;

/** The kernels of a step that miss the thread target. */
export function underThreaded(kernels: readonly KernelSummary[]): KernelSummary[] {
  return kernels.filter((k) => k.macShare >= GPU_TARGETS.macShareFloor && k.threads < GPU_TARGETS.minThreads);
}

/** The bench's records of one measured WebGPU step: train-step, gpu-step and its gpu-kernel records. */
export function webGpuRecords(r: WebGpuStepResult, base: Pick<BenchRecord, 'context' | 'software'>, note?: string): BenchRecord[] {
  const common = {
    model: `resnet${r.depth}`,
    batch: r.batch,
    backend: 'webgpu' as const,
    threads: 0,
    ...base,
    ...(r.variant === 'stock' ? { variant: 'stock' } : {}),
  };
  const medianMs = median(r.times);
  const step = {
    ...common,
    medianMs,
    minMs: Math.min(...r.times),
    imagesPerSec: (1000 * r.batch) / medianMs,
    steps: r.times.length,
    ...(note ? { note } : {}),
  };
  return [
    { ...step, what: 'train-step' },
    {
      ...step,
      what: 'gpu-step',
      dispatches: r.counts.dispatches,
      pipelines: r.counts.pipelines,
      bytesUploaded: r.counts.bytesUploaded,
      bytesReadBack: r.counts.bytesReadBack,
      tensorDrift: r.tensorDrift,
      driftSteps: r.times.length,
    },
    ...summariseKernels(r.counts.work)
      .filter((k) => k.macs > 0)
      .map((k) => ({
        ...common,
        what: 'gpu-kernel' as const,
        medianMs: 0,
        imagesPerSec: 0,
        kernel: k.kernel,
        calls: k.calls,
        threads: k.threads,
        serialMacsPerThread: k.serialMacsPerThread,
        macShare: k.macShare,
      })),
  ];
}

/**
 * The Node part of the bench on webgpu: each planned model with the lab's kernels, then with the stock
 * ones: the warm-up steps (the first also makes the solver's state), then the timed steps (at least
 * one, however slow a software adapter is), the first of them counted. With `drift`, first that many
 * steps of the lab's kernels, for the tensors left alive (a gpu-step record with tensorDrift).
 */
export async function runNodeWebGpuBench(
  plan: readonly StepPlan[],
  data: CifarData,
  stats: DataStats,
  software: boolean,
  log: (line: string) => void,
  note?: string,
  drift?: StepPlan,
): Promise<BenchRecord[]> {
  const out: BenchRecord[] = [];
  if (drift) {
    const r = await measureWebGpuStep({ ...drift, variant: 'lab', data, stats, budgetMs: Infinity, log });
    log(`  webgpu drift over ${r.times.length} steps: ${r.tensorDrift} tensors`);
    out.push(...webGpuRecords(r, { context: 'node', software }, drift.note).filter((x) => x.what === 'gpu-step'));
  }
  for (const p of plan) {
    for (const variant of ['lab', 'stock'] as const) {
      const r = await measureWebGpuStep({
        depth: p.depth,
        batch: p.batch,
        variant,
        data,
        stats,
        warmup: p.warmup,
        steps: p.steps,
        budgetMs: p.budgetMs ?? 0,
        log,
      });
      out.push(...webGpuRecords(r, { context: 'node', software }, note));
    }
  }
  return out;
}
