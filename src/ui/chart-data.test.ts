// Smoothing and decimation of the loss record for drawing.
import { describe, expect, it } from 'vitest';
import { decimateEvery, decimateMinMax, linearTicks, logTicks, LossSmoother } from './chart-data.ts';

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

describe('decimation', () => {
  const n = 78_000; // a 200-epoch run at batch 128
  const x = (i: number) => i / 391;
  const y = (i: number) => (i === 40_000 ? 50 : 2 - i / n); // one spike

  it('keeps every point of a short run', () => {
    expect(decimateMinMax(10, x, y, 600)).toHaveLength(10);
  });
  it('bounds the points of a long run, keeps its spike and its ends, in x order', () => {
    const d = decimateMinMax(n, x, y, 600);
    expect(d.length).toBeLessThanOrEqual(600);
    expect(d.some((p) => p.y === 50)).toBe(true);
    expect(d[0].x).toBe(0);
    expect(d[d.length - 1].x).toBeCloseTo(x(n - 1), 1);
    for (let i = 1; i < d.length; i++) expect(d[i].x).toBeGreaterThan(d[i - 1].x);
  });
  it('decimateEvery keeps the last point', () => {
    const d = decimateEvery(n, x, y, 500);
    expect(d.length).toBeLessThanOrEqual(501);
    expect(d[d.length - 1].x).toBe(x(n - 1));
    expect(decimateEvery(0, x, y, 5)).toEqual([]);
  });
});

describe('linearTicks', () => {
  it('gives round steps covering the range', () => {
    expect(linearTicks(0.0256)).toEqual([0, 0.01, 0.02, 0.03]);
    expect(linearTicks(200)).toEqual([0, 50, 100, 150, 200]);
    expect(linearTicks(1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(linearTicks(0)).toEqual([0]);
  });
});

describe('logTicks', () => {
  it('gives 1-2-5 ticks in range', () => {
    expect(logTicks(0.05, 2.5)).toEqual([0.05, 0.1, 0.2, 0.5, 1, 2]);
    expect(logTicks(0, 1)).toEqual([]);
  });
});
