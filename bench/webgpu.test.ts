// The WebGPU bench's counts on a real training step (ResNet-8 at batch 2, Dawn in Node on SwiftShader
// here): the lab's kernels and the stock ones each counted, their multiply-adds checked against the
// network's convolutions counted by hand, and the records and targets made from them.

import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/setup.ts';
import { computeStats } from '../src/data/batches.ts';
import { randomSplit } from './core.ts';
import { convMacsPerImage } from './report.ts';
import { gpuTargets } from './report-gpu.ts';
import { measureWebGpuStep, summariseKernels, webGpuRecords, type WebGpuStepResult } from './webgpu.ts';

const BATCH = 2;
const data = { train: randomSplit(64, 1), test: randomSplit(16, 2) };
const stats = computeStats(data.train);
const results: Partial<Record<'lab' | 'stock', WebGpuStepResult>> = {};

beforeAll(async () => {
  await initBackend('webgpu');
  for (const variant of ['lab', 'stock'] as const) {
    results[variant] = await measureWebGpuStep({ depth: 8, batch: BATCH, variant, data, stats, warmup: 1, steps: 2, budgetMs: 0 });
  }
}, 300_000);

describe('WebGPU bench counts', () => {
  it('counts both steps, the lab kernels making fewer dispatches', () => {
    const lab = results.lab!.counts;
    const stock = results.stock!.counts;
    expect(lab.dispatches).toBeGreaterThan(50);
    expect(stock.dispatches).toBeGreaterThan(lab.dispatches);
    expect(lab.pipelines).toBeGreaterThan(5);
    // The loss read at the end of the step is mapped back; nothing else of size.
    expect(lab.bytesReadBack).toBeGreaterThan(0);
    expect(lab.bytesReadBack).toBeLessThan(1024);
    expect(lab.bytesUploaded).toBeGreaterThanOrEqual(BATCH * 3 * 32 * 32 * 4);
  });

  it("adds up the convolutions' multiply-adds as counted by hand", () => {
    // A training step does each convolution's multiply-adds three times (forward, input gradient,
    // filter gradient), except the first layer's input gradient (the images need none); the
    // classifier (64x10) is a matrix product, counted likewise.
    const forward = convMacsPerImage(8) - 640;
    const firstLayer = 3 * 16 * 9 * 32 * 32;
    const conv = BATCH * (3 * forward - firstLayer);
    for (const variant of ['lab', 'stock'] as const) {
      const total = results[variant]!.counts.work.reduce((s, w) => s + w.macs, 0);
      expect(total - conv, variant).toBeGreaterThanOrEqual(BATCH * 640);
      expect(total - conv, variant).toBeLessThanOrEqual(3 * BATCH * 640);
    }
  });

  it("gives stock tfjs's filter gradient its serial chain: batch x output pixels per thread", () => {
    const filter = summariseKernels(results.stock!.counts.work).filter((k) => k.kernel === 'tfjs.Conv2DDerFilterProgram');
    expect(filter.length).toBeGreaterThan(0);
    expect(Math.max(...filter.map((k) => k.serialMacsPerThread))).toBe(BATCH * 32 * 32);
  });

  it('makes train-step, gpu-step and gpu-kernel records, and judges the targets on ResNet-20 only', () => {
    const records = [
      ...webGpuRecords(results.lab!, { context: 'node', software: true }),
      ...webGpuRecords(results.stock!, { context: 'node', software: true }),
    ];
    const step = records.find((r) => r.what === 'gpu-step' && r.variant === undefined)!;
    expect(step.dispatches).toBe(results.lab!.counts.dispatches);
    expect(records.find((r) => r.what === 'train-step' && r.variant === 'stock')?.backend).toBe('webgpu');
    const shares = records.filter((r) => r.what === 'gpu-kernel' && r.variant === undefined).reduce((s, r) => s + r.macShare!, 0);
    expect(shares).toBeCloseTo(1, 6);
    expect(gpuTargets(records)).toEqual([]);
    const as20 = records.map((r) => ({ ...r, model: 'resnet20', batch: 128 }));
    const targets = gpuTargets(as20);
    expect(targets.map((t) => t.met !== undefined)).toEqual([true, true]);
    expect(targets[0]!.detail).toContain(`${results.lab!.counts.dispatches} dispatches`);
  });

  it('leaves no tensor behind over the timed steps', () => {
    expect(results.lab!.tensorDrift).toBe(0);
    expect(results.stock!.tensorDrift).toBe(0);
  });
});
