// What the charts draw, computed from a run's full record: smoothing of the loss and decimation to a few
// hundred points per line. Decimation is for drawing only; the record keeps every step. Pure functions
// (no React), tested in Vitest.

/** Debiased exponential moving average (as TensorBoard's smoothing): s_t = EMA_t / (1 - w^t). */
export class LossSmoother {
  private ema = 0;
  private count = 0;
  constructor(readonly weight = 0.98) {}

  push(value: number): number {
    this.count++;
    this.ema = this.weight * this.ema + (1 - this.weight) * value;
    return this.ema / (1 - this.weight ** this.count);
  }
}

export interface XY {
  x: number;
  y: number;
}

/**
 * At most about `maxPoints` points from `n` samples (x(i), y(i)): the samples split into buckets of
 * equal count; each bucket contributes its minimum and maximum in the order they occur, so spikes stay
 * visible. Returns every sample when n <= maxPoints.
 */
export function decimateMinMax(n: number, x: (i: number) => number, y: (i: number) => number, maxPoints: number): XY[] {
  if (n <= maxPoints) {
    const out: XY[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = { x: x(i), y: y(i) };
    return out;
  }
  const buckets = Math.max(1, Math.floor(maxPoints / 2));
  const out: XY[] = [];
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor((b * n) / buckets);
    const end = Math.floor(((b + 1) * n) / buckets);
    if (end <= start) continue;
    let lo = start;
    let hi = start;
    for (let i = start + 1; i < end; i++) {
      const v = y(i);
      if (v < y(lo)) lo = i;
      if (v > y(hi)) hi = i;
    }
    const first = Math.min(lo, hi);
    const second = Math.max(lo, hi);
    out.push({ x: x(first), y: y(first) });
    if (second !== first) out.push({ x: x(second), y: y(second) });
  }
  return out;
}

/** At most `maxPoints` evenly spaced samples (always the last one): for smooth lines. */
export function decimateEvery(n: number, x: (i: number) => number, y: (i: number) => number, maxPoints: number): XY[] {
  if (n === 0) return [];
  const stride = Math.max(1, Math.ceil(n / maxPoints));
  const out: XY[] = [];
  for (let i = 0; i < n; i += stride) out.push({ x: x(i), y: y(i) });
  if ((n - 1) % stride !== 0) out.push({ x: x(n - 1), y: y(n - 1) });
  return out;
}

/** Nice log-scale ticks (1, 2, 5 x 10^k) spanning [lo, hi]. */
/** Ticks of the test-error charts (log scale, percent). */
export const ERROR_TICKS = [1, 2, 5, 10, 20, 50, 100];

export function logTicks(lo: number, hi: number): number[] {
  if (!(lo > 0) || !(hi >= lo)) return [];
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(Number(v.toPrecision(3)));
    }
  }
  return ticks;
}

/** About `count` round ticks (1, 2 or 5 x 10^k apart) from 0 up to at least `hi`. */
export function linearTicks(hi: number, count = 5): number[] {
  if (!(hi > 0) || !Number.isFinite(hi)) return [0];
  const raw = hi / count;
  const base = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * base).find((s) => s >= raw) ?? 10 * base;
  const ticks: number[] = [];
  for (let i = 0; i * step < hi + step * 0.999; i++) ticks.push(Number((i * step).toPrecision(6)));
  return ticks;
}
