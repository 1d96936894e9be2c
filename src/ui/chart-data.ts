// What the charts draw, computed from a run's full record: decimation to a few
// hundred points per line, and the x-axis window (the data so far, the planned run, or a zoom) with its
// ticks. Decimation is for drawing only; the record keeps every step. Pure functions (no React), tested
// in Vitest.

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

// ---- the x-axis window --------------------------------------------------------------------------

/** What the x-axis shows: the data so far (default), the planned run, or a window the user zoomed to. */
export type XView = { kind: 'fit' } | { kind: 'planned' } | { kind: 'zoom'; from: number; to: number };

export interface XExtent {
  /** Where the data so far ends (epochs); 0 before the first point. */
  data: number;
  /** Where the planned run ends (epochs: the configuration's, or the step limit's if longer). */
  planned: number;
}

export interface XWindow {
  from: number;
  to: number;
  /** Round ticks inside [from, to], `step` apart. */
  ticks: number[];
  step: number;
}

/** The fitted axis ends on a grid of this ratio: at most 10% empty, and it moves O(log n) times in a run. */
export const FIT_GROWTH = 1.1;

/** The smallest point of the FIT_GROWTH grid at or above x (0 for x <= 0). */
export function fitEnd(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return 0;
  // The tolerance makes fitEnd(fitEnd(x)) === fitEnd(x) despite rounding in the logarithm.
  const e = FIT_GROWTH ** Math.ceil(Math.log(x) / Math.log(FIT_GROWTH) - 1e-9);
  return e >= x ? e : e * FIT_GROWTH;
}

/** A round step (1, 2 or 5 x 10^k) of at least `raw`. */
function niceStep(raw: number): number {
  const base = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * base).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * base;
}

/** About `count` round ticks inside [from, to], and their spacing. */
export function rangeTicks(from: number, to: number, count = 5): { ticks: number[]; step: number } {
  if (!(to > from) || !Number.isFinite(from) || !Number.isFinite(to)) return { ticks: [from], step: 1 };
  const step = niceStep((to - from) / count);
  const ticks: number[] = [];
  for (let i = Math.ceil(from / step - 1e-9); i * step <= to + step * 1e-9; i++) ticks.push(Number((i * step).toPrecision(12)));
  return { ticks, step };
}

/** Tick labels with as many decimals as the spacing needs (0.025 apart: 0.025, 0.050; 50 apart: 100). */
export function tickFormat(step: number): (v: number) => string {
  const decimals = Math.min(10, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
  return (v) => v.toFixed(decimals);
}

/** The end of everything the axis can show: the planned run, or the data if it goes further. */
export function fullEnd(extent: XExtent): number {
  return Math.max(extent.planned, extent.data, 0) || 1;
}

/**
 * Where a view's window starts and ends. 'fit': 0 to the data's end on the FIT_GROWTH grid (before any
 * data, the first epoch, or the planned run if shorter); 'planned': 0 to fullEnd; 'zoom': as chosen.
 */
export function xBounds(view: XView, extent: XExtent): { from: number; to: number } {
  if (view.kind === 'zoom') return { from: view.from, to: view.to };
  if (view.kind === 'planned') return { from: 0, to: fullEnd(extent) };
  return { from: 0, to: extent.data > 0 ? fitEnd(extent.data) : Math.min(1, fullEnd(extent)) };
}

/** A window with its ticks. */
export function xWindow(from: number, to: number): XWindow {
  return { from, to, ...rangeTicks(from, to) };
}

/**
 * A zoom window of `span` (at least `minSpan`) centred at `centre`, moved inside [0, end] (the whole
 * of [0, end] when the span is wider).
 */
export function clampWindow(centre: number, span: number, end: number, minSpan: number): { from: number; to: number } {
  const s = Math.min(Math.max(span, minSpan), end);
  const from = Math.min(Math.max(0, centre - s / 2), end - s);
  return { from: Math.max(0, from), to: Math.max(0, from) + s };
}

/** The window `factor` times as wide as `w` about its centre (factor 0.5: zoom in, 2: zoom out). */
export function zoomBy(w: { from: number; to: number }, factor: number, end: number, minSpan: number): { from: number; to: number } {
  return clampWindow((w.from + w.to) / 2, (w.to - w.from) * factor, end, minSpan);
}

/**
 * The window between two pixel positions of a drag across the plot (`plot`: the plot area's left edge
 * and width in the same pixels), inside the window `w` now shown; at least `minSpan` wide and inside
 * [0, end]. Undefined for a drag narrower than `minPixels` (a click).
 */
export function dragWindow(
  px0: number,
  px1: number,
  plot: { left: number; width: number },
  w: { from: number; to: number },
  limits: { end: number; minSpan: number },
  minPixels = 6,
): { from: number; to: number } | undefined {
  if (!(plot.width > 0) || Math.abs(px1 - px0) < minPixels) return undefined;
  const at = (px: number) => w.from + Math.min(1, Math.max(0, (px - plot.left) / plot.width)) * (w.to - w.from);
  const a = at(Math.min(px0, px1));
  const b = at(Math.max(px0, px1));
  if (!(b > a)) return undefined;
  return clampWindow((a + b) / 2, b - a, Math.max(limits.end, w.to), limits.minSpan);
}

/**
 * Indices [start, end) of the samples with x in [from, to], widened by one sample on each side so
 * lines run to the plot's edges. x(i) must not decrease with i.
 */
export function windowIndices(n: number, x: (i: number) => number, from: number, to: number): [number, number] {
  const lowerBound = (v: number, strict: boolean) => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (strict ? x(mid) <= v : x(mid) < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const start = Math.max(0, lowerBound(from, false) - 1);
  const end = Math.min(n, lowerBound(to, true) + 1);
  return start < end ? [start, end] : [0, 0];
}
