// Decimation of the loss record for drawing; the x-axis window (fit, planned, zoom).
import { describe, expect, it } from 'vitest';
import {
  clampWindow,
  decimateEvery,
  decimateMinMax,
  dragWindow,
  FIT_GROWTH,
  fitEnd,
  linearTicks,
  logTicks,
  rangeTicks,
  tickFormat,
  windowIndices,
  xBounds,
  xWindow,
  zoomBy,
} from './chart-data.ts';

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

describe('the x-axis window', () => {
  // A young default-length run: 30 steps of batch 128 (390.625 steps an epoch), 200 epochs planned.
  const young = { data: 30 / 390.625, planned: 200 };

  it('fits the data so far, not the planned 200 epochs', () => {
    const { from, to } = xBounds({ kind: 'fit' }, young);
    expect(from).toBe(0);
    expect(to).toBeGreaterThanOrEqual(young.data);
    expect(to).toBeLessThanOrEqual(young.data * FIT_GROWTH);
  });
  it('shows the planned run on request, and the data where it goes further', () => {
    expect(xBounds({ kind: 'planned' }, young)).toEqual({ from: 0, to: 200 });
    expect(xBounds({ kind: 'planned' }, { data: 210, planned: 200 })).toEqual({ from: 0, to: 210 });
  });
  it('before any data: the first epoch, or the planned run when shorter', () => {
    expect(xBounds({ kind: 'fit' }, { data: 0, planned: 200 })).toEqual({ from: 0, to: 1 });
    expect(xBounds({ kind: 'fit' }, { data: 0, planned: 0.25 })).toEqual({ from: 0, to: 0.25 });
    expect(xBounds({ kind: 'fit' }, { data: 0, planned: 0 })).toEqual({ from: 0, to: 1 });
  });
  it('a zoom shows what was chosen', () => {
    expect(xBounds({ kind: 'zoom', from: 3, to: 7 }, young)).toEqual({ from: 3, to: 7 });
  });

  it('fitEnd lies on a 10% grid, at or above x, and is its own fixed point', () => {
    for (const x of [1e-5, 0.0768, 0.5, 1, 1.1, 3.7, 163.99, 200]) {
      const e = fitEnd(x);
      expect(e).toBeGreaterThanOrEqual(x);
      expect(e).toBeLessThan(x * FIT_GROWTH * (1 + 1e-12));
      expect(fitEnd(e)).toBe(e);
    }
    expect(fitEnd(0)).toBe(0);
    expect(fitEnd(-1)).toBe(0);
    expect(fitEnd(NaN)).toBe(0);
  });
  it('fitEnd moves a few hundred times over a whole run, not every step', () => {
    const ends = new Set<number>();
    for (let step = 1; step <= 78_125; step++) ends.add(fitEnd(step / 390.625));
    expect(ends.size).toBeLessThan(130);
  });

  it('ticks are round and inside the window', () => {
    expect(rangeTicks(0, 200).ticks).toEqual([0, 50, 100, 150, 200]);
    expect(rangeTicks(0, 0.0845).ticks).toEqual([0, 0.02, 0.04, 0.06, 0.08]);
    expect(rangeTicks(12.3, 17.9).ticks).toEqual([14, 16]);
    const w = xWindow(0.1, 0.13);
    expect(w.ticks[0]).toBeGreaterThanOrEqual(0.1);
    expect(w.ticks[w.ticks.length - 1]).toBeLessThanOrEqual(0.13);
    expect(w.ticks.length).toBeGreaterThanOrEqual(3);
    expect(rangeTicks(5, 5).ticks).toEqual([5]);
  });
  it('tick labels carry the decimals the spacing needs', () => {
    expect(tickFormat(50)(100)).toBe('100');
    expect(tickFormat(0.02)(0.04)).toBe('0.04');
    expect(tickFormat(0.05)(0.1)).toBe('0.10');
    expect(tickFormat(0.5)(100.5)).toBe('100.5');
  });

  it('zooms in and out about the centre, inside [0, end], never narrower than the least span', () => {
    expect(zoomBy({ from: 0, to: 200 }, 0.5, 200, 0.01)).toEqual({ from: 50, to: 150 });
    expect(zoomBy({ from: 50, to: 150 }, 2, 200, 0.01)).toEqual({ from: 0, to: 200 });
    expect(zoomBy({ from: 0, to: 100 }, 2, 200, 0.01)).toEqual({ from: 0, to: 200 }); // moved inside, not cut
    expect(zoomBy({ from: 150, to: 200 }, 2, 200, 0.01)).toEqual({ from: 100, to: 200 });
    expect(zoomBy({ from: 0, to: 200 }, 4, 200, 0.01)).toEqual({ from: 0, to: 200 });
    const tiny = zoomBy({ from: 1, to: 1.01 }, 0.5, 200, 0.01);
    expect(tiny.to - tiny.from).toBeCloseTo(0.01, 12);
    expect(clampWindow(0, 10, 5, 1)).toEqual({ from: 0, to: 5 });
  });

  it('a drag across the plot zooms to the epochs under it, either direction; a click does not', () => {
    const plot = { left: 50, width: 400 };
    const limits = { end: 200, minSpan: 0.01 };
    expect(dragWindow(150, 250, plot, { from: 0, to: 200 }, limits)).toEqual({ from: 50, to: 100 });
    expect(dragWindow(250, 150, plot, { from: 0, to: 200 }, limits)).toEqual({ from: 50, to: 100 });
    expect(dragWindow(0, 250, plot, { from: 0, to: 200 }, limits)).toEqual({ from: 0, to: 100 }); // from the y-axis
    expect(dragWindow(150, 153, plot, { from: 0, to: 200 }, limits)).toBeUndefined();
    const w = dragWindow(250, 450, plot, { from: 10, to: 20 }, limits)!;
    expect(w.from).toBeCloseTo(15, 12);
    expect(w.to).toBeCloseTo(20, 12);
    const narrow = dragWindow(150, 160, plot, { from: 0, to: 0.01 }, limits)!;
    expect(narrow.to - narrow.from).toBeCloseTo(0.01, 12);
  });

  it('windowIndices finds the samples in the window and one beyond each side', () => {
    const x = (i: number) => i / 10; // 0, 0.1, ..., 9.9
    expect(windowIndices(100, x, 2, 3)).toEqual([19, 32]);
    expect(windowIndices(100, x, 0, 100)).toEqual([0, 100]);
    expect(windowIndices(100, x, 20, 30)).toEqual([99, 100]); // past the end: the last sample only
    expect(windowIndices(100, x, -5, -1)).toEqual([0, 1]);
    expect(windowIndices(0, x, 0, 1)).toEqual([0, 0]);
    const eq = [0, 1, 1, 1, 2];
    expect(windowIndices(eq.length, (i) => eq[i], 1, 1)).toEqual([0, 5]);
  });
});
