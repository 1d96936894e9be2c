// Curves: the debiased moving average on the full series (and why a window must not be smoothed on its
// own), x-axes in epochs / iterations / images, float32-exact CSV and JSON export of one or more runs.

import { describe, expect, it } from 'vitest';
import { formatConfigQuery, parseConfigQueryStrict } from '../experiment/config.ts';
import { SeriesBuilder } from './run-series.ts';
import {
  alignSeries,
  axisScale,
  curvesJson,
  decimatedIndices,
  emaSmooth,
  float32String,
  LossSmoother,
  smoothedLossSeries,
  stepX,
  stepsCsv,
  testErrorSeries,
  testX,
  testsCsv,
  valueAt,
  visibleRange,
  type CurveRun,
} from './curves.ts';

const config = formatConfigQuery(parseConfigQueryStrict('protocol=gcr&depth=20&batch=128&seed=2'));

function run(name: string, n: number, withMs = true): CurveRun {
  const b = new SeriesBuilder();
  b.pushTest({ step: 0, epoch: 0, testError: 0.9, evaluated: 10_000 });
  for (let s = 1; s <= n; s++) {
    b.pushStep({
      step: s,
      epoch: (s * 128) / 50_000,
      lr: s < 3 ? 0.1 : 0.01,
      loss: 2.3 / s + 0.1 * Math.sin(s),
      trainError: (s % 7) / 128,
      ...(withMs ? { ms: 250 * s } : {}),
    });
  }
  b.pushTest({ step: n, epoch: (n * 128) / 50_000, testError: 0.4321, evaluated: 10_000 });
  return { name, bundle: { config, ...b.build(), meta: { trainImages: 50_000 } } };
}

describe('emaSmooth', () => {
  it('is the debiased EMA: starts at the first value, hand-computed values, flat input stays flat', () => {
    expect(Array.from(emaSmooth([1, 2, 3], 0.5))).toEqual([1, 1.25 / 0.75, 2.125 / 0.875]);
    expect(Array.from(emaSmooth([4, 4, 4, 4]))).toEqual([4, 4, 4, 4].map(() => expect.closeTo(4, 12)));
    expect(Array.from(emaSmooth([1, 2, 3], 0))).toEqual([1, 2, 3]);
    const s = emaSmooth([1, NaN, 3], 0.5);
    expect(s[1]).toBeNaN();
    expect(s[2]).toBeCloseTo((0.25 + 1.5) / 0.75, 12); // the NaN neither counts nor resets
    expect(() => emaSmooth([1], 1)).toThrow(/weight/);
  });

  it('a zoomed window reads the full-series values: smoothing only the window would change them', () => {
    const { steps } = run('a', 300).bundle;
    const full = emaSmooth(steps.loss, 0.9);
    const x = stepX(steps, 'iterations', axisScale(config));
    const [a, b] = visibleRange(x, 100, 199);
    expect([a, b]).toEqual([99, 199]);
    const windowOnly = emaSmooth(steps.loss.subarray(a, b), 0.9);
    expect(Math.abs(windowOnly[0]! - full[a]!)).toBeGreaterThan(1e-3);
    // Decimation takes every k-th point of the full array: the same values at the same steps.
    expect(emaSmooth(steps.loss, 0.9)[150]).toBe(full[150]);
  });
});

describe('x-axes', () => {
  it('gives iterations, images and epochs for steps and tests on one scale', () => {
    const { bundle } = run('a', 391);
    const scale = axisScale(bundle.config, bundle.meta);
    expect(scale).toEqual({ batch: 128, trainImages: 50_000 });
    expect(stepX(bundle.steps, 'iterations', scale)[390]).toBe(391);
    expect(stepX(bundle.steps, 'images', scale)[390]).toBe(391 * 128);
    expect(stepX(bundle.steps, 'epochs', scale)[390]).toBeCloseTo(1.00096, 12);
    expect(Array.from(testX(bundle.tests, 'epochs', scale))).toEqual([0, expect.closeTo(1.00096, 12)]);
    expect(axisScale('batch=16', { trainImages: 500 })).toEqual({ batch: 16, trainImages: 500 });
  });

  it('finds the visible index range by binary search', () => {
    const x = [0, 1, 2, 2, 3, 5];
    expect(visibleRange(x, 2, 3)).toEqual([2, 5]);
    expect(visibleRange(x, 3.5, 4)).toEqual([5, 5]);
    expect(visibleRange(x, -1, 10)).toEqual([0, 6]);
  });
});

describe('export', () => {
  it('writes float32 values with float32 digits, exactly recoverable', () => {
    expect(float32String(Math.fround(0.1))).toBe('0.1');
    expect(float32String(Math.fround(2.302585))).toBe('2.302585');
    let s = 7;
    for (let i = 0; i < 2000; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const v = Math.fround((s / 2 ** 32) * 10 ** ((s % 9) - 4));
      expect(Math.fround(Number(float32String(v)))).toBe(v);
    }
  });

  it('CSV of steps and tests: header, one row per point, several runs, quoted names, smoothing of the full series', () => {
    const a = run('gcr, seed "2"', 5);
    const b = run('plain', 3);
    const csv = stepsCsv([a, b], 0.5);
    const rows = csv.trim().split('\n');
    expect(rows[0]).toBe('run,step,epoch,images,lr,loss,loss_smoothed,train_error,ms');
    expect(rows).toHaveLength(1 + 5 + 3);
    expect(rows[1]!.startsWith('"gcr, seed ""2""",1,0.00256,128,0.1,')).toBe(true);
    const cells = rows[5]!.split(',').slice(2); // the quoted name holds one comma
    expect(cells[0]).toBe('5');
    expect(Math.fround(Number(cells[4]))).toBe(a.bundle.steps.loss[4]);
    expect(Number(cells[5])).toBe(emaSmooth(a.bundle.steps.loss, 0.5)[4]);
    expect(cells[7]).toBe('1250');
    expect(rows[6]!.startsWith('plain,1,')).toBe(true);
    // A run without step times: no ms column for anyone.
    expect(stepsCsv([a, run('no-ms', 2, false)]).split('\n')[0]).toBe('run,step,epoch,images,lr,loss,loss_smoothed,train_error');
    expect(testsCsv([a]).trim().split('\n')).toEqual([
      'run,step,epoch,images,test_error,evaluated',
      '"gcr, seed ""2""",0,0,0,0.9,10000',
      '"gcr, seed ""2""",5,0.0128,640,0.4321,10000',
    ]);
  });

  it('JSON of a run: columns as arrays, the result with the best flagged as chosen on the test set', () => {
    const a = run('a', 4);
    const meta = {
      name: 'a',
      seed: 2,
      backend: 'wasm',
      startedAt: '2026-11-24T00:00:00Z',
      endedAt: null,
      status: 'finished',
      trainImages: 50_000,
      maxSteps: null,
      evalLimit: null,
      imagesPerSecond: 100,
      trainSeconds: 5,
      divergedAt: null,
      producer: 'test',
    } as const;
    const j = JSON.parse(curvesJson({ ...a.bundle, meta }));
    expect(j).toMatchObject({ format: 'resnet-lab-curves', version: 1, config, meta: { name: 'a' }, smoothing: 0.98 });
    expect(j.steps.step).toEqual([1, 2, 3, 4]);
    expect(j.steps.loss.map(Math.fround)).toEqual(Array.from(a.bundle.steps.loss));
    expect(j.steps.lossSmoothed).toEqual(Array.from(emaSmooth(a.bundle.steps.loss)));
    expect(j.tests.testError).toEqual([0.9, 0.4321]);
    expect(j.result.final.testError).toBe(0.4321);
    expect(j.result.best).toMatchObject({ testError: 0.4321, chosenOnTestSet: true });
  });
});

describe('several runs on one chart (Compare)', () => {
  it('decimates to evenly spaced indices, keeping the first and the last', () => {
    expect(decimatedIndices(0, 10)).toEqual([]);
    expect(decimatedIndices(5, 10)).toEqual([0, 1, 2, 3, 4]);
    expect(decimatedIndices(10, 4)).toEqual([0, 3, 6, 9]);
    expect(decimatedIndices(11, 4)).toEqual([0, 3, 6, 9, 10]);
    const big = decimatedIndices(64_000, 300);
    expect(big.length).toBeLessThanOrEqual(301);
    expect(big[0]).toBe(0);
    expect(big[big.length - 1]).toBe(63_999);
  });

  it('reads a series between its points by linear interpolation, nothing outside it or next to a NaN', () => {
    const s = { x: [0, 1, 2, 4], y: [10, 20, NaN, 0] };
    expect(valueAt(s, 0)).toBe(10);
    expect(valueAt(s, 0.25)).toBe(12.5);
    expect(valueAt(s, 1)).toBe(20);
    expect(valueAt(s, 1.5)).toBeNull();
    expect(valueAt(s, 4)).toBe(0);
    expect(valueAt(s, -0.1)).toBeNull();
    expect(valueAt(s, 4.1)).toBeNull();
    expect(valueAt({ x: [], y: [] }, 0)).toBeNull();
  });

  it('smooths a 64k-step run over its whole series, then draws a few hundred of those exact values', () => {
    const n = 64_000;
    const steps = { step: new Uint32Array(n), loss: new Float32Array(n) };
    for (let i = 0; i < n; i++) {
      steps.step[i] = i + 1;
      steps.loss[i] = 2.3 * Math.exp(-i / 8000) + 0.3 * Math.sin(i * 0.7);
    }
    const scale = { batch: 128, trainImages: 50_000 };
    const series = smoothedLossSeries(steps, 'iterations', scale, 0.99);
    const full = emaSmooth(steps.loss, 0.99);
    const rows = alignSeries([series], 300, true);
    expect(rows.length).toBeLessThanOrEqual(301);
    expect(rows[rows.length - 1]!.x).toBe(n);
    for (const r of rows) expect(r.s0).toBe(full[r.x - 1]); // the full-series value at that step
    // Drawing more points changes which points are drawn, never their values.
    const finer = alignSeries([series], 1000, true);
    const at = new Map(finer.map((r) => [r.x, r.s0]));
    for (const r of rows) if (at.has(r.x)) expect(at.get(r.x)).toBe(r.s0);
  });

  it('puts runs of different batch sizes on one x grid: together on epochs and images, apart on iterations', () => {
    // 512 training images: run A at batch 8 (64 steps an epoch), run B at batch 16 (32), two epochs each.
    const sa = { batch: 8, trainImages: 512 };
    const sb = { batch: 16, trainImages: 512 };
    const a = { step: Uint32Array.from({ length: 128 }, (_, i) => i + 1), loss: Float32Array.from({ length: 128 }, (_, i) => 2 - i / 100) };
    const b = { step: Uint32Array.from({ length: 64 }, (_, i) => i + 1), loss: Float32Array.from({ length: 64 }, (_, i) => 2.2 - i / 50) };
    const tests = (steps: number[], e: number[]) => ({ step: steps, testError: e });
    const ta = tests([0, 64, 128], [0.9, 0.5, 0.4]);
    const tb = tests([0, 32, 64], [0.9, 0.6, 0.45]);

    const byEpoch = alignSeries([testErrorSeries(ta, 'epochs', sa), testErrorSeries(tb, 'epochs', sb)], Infinity, false);
    expect(byEpoch).toEqual([
      { x: 0, s0: 90, s1: 90 },
      { x: 1, s0: 50, s1: 60 },
      { x: 2, s0: 40, s1: 45 },
    ]);
    // On iterations epoch 1 of B is at A's step 32: measured values only, no interpolation.
    const byIteration = alignSeries([testErrorSeries(ta, 'iterations', sa), testErrorSeries(tb, 'iterations', sb)], Infinity, false);
    expect(byIteration).toEqual([
      { x: 0, s0: 90, s1: 90 },
      { x: 32, s0: null, s1: 60 },
      { x: 64, s0: 50, s1: 45 },
      { x: 128, s0: 40, s1: null },
    ]);
    expect(testErrorSeries(tests([1], [0.001]), 'epochs', sa).y[0]).toBe(0.5); // the log axis floor

    // Smoothed losses on images: B read at A's points by interpolation (one tooltip reads both), nothing before B's first.
    const rows = alignSeries([smoothedLossSeries(a, 'images', sa, 0), smoothedLossSeries(b, 'images', sb, 0)], 1000, true);
    const at = (x: number) => rows.find((r) => r.x === x)!;
    expect(at(8)).toEqual({ x: 8, s0: expect.closeTo(2, 6), s1: null });
    expect(at(24).s1).toBeCloseTo((2.2 + 2.18) / 2, 6);
    expect(at(1024)).toEqual({ x: 1024, s0: expect.closeTo(2 - 127 / 100, 6), s1: expect.closeTo(2.2 - 63 / 50, 6) });
    expect(rows).toHaveLength(128); // B's x are all among A's
  });
});

describe('LossSmoother', () => {
  it('starts at the first value (debiased) and follows a constant exactly', () => {
    const s = new LossSmoother(0.9);
    expect(s.push(2)).toBeCloseTo(2, 12);
    expect(s.push(2)).toBeCloseTo(2, 12);
  });
  it('lags a step change and converges to it', () => {
    const s = new LossSmoother(0.9);
    for (let i = 0; i < 50; i++) s.push(3);
    const first = s.push(1);
    expect(first).toBeGreaterThan(2.5);
    let last = first;
    for (let i = 0; i < 200; i++) last = s.push(1);
    expect(last).toBeCloseTo(1, 6);
  });
});
