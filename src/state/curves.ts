// A run's curves for charts and export: smoothing over the full series (so it never changes with zoom
// or decimation), x-axis values in epochs, iterations or images, and CSV / JSON export of one or
// several runs. Pure functions over the bundle's typed columns (src/state/bundle.ts); no DOM.

import { parseConfigQuery } from '../experiment/config.ts';
import type { RunBundle, RunMeta } from './bundle.ts';
import { summariseTests, type StepSeries, type TestSeries } from './run-series.ts';

export type XAxis = 'epochs' | 'iterations' | 'images';
export const X_AXES: readonly XAxis[] = ['epochs', 'iterations', 'images'];
export const X_AXIS_LABELS: Record<XAxis, string> = { epochs: 'epochs', iterations: 'iterations', images: 'training images seen' };

/** The smoothing weight the page uses unless the user picks another (TensorBoard's default range). */
export const DEFAULT_SMOOTHING = 0.98;

/**
 * Debiased exponential moving average (TensorBoard's smoothing): ema_t = w ema_{t-1} + (1 - w) v_t,
 * out_t = ema_t / (1 - w^c) with c the finite values seen so far, so the first output equals the first
 * value instead of starting near 0. Computed over the WHOLE series: a zoomed or decimated chart takes
 * its points from this array, so the smoothed value at a step never depends on what is shown.
 * Non-finite values (a diverged step) give NaN there and leave the average unchanged. w = 0: no smoothing.
 */
export function emaSmooth(values: ArrayLike<number>, weight = DEFAULT_SMOOTHING): Float64Array {
  if (!(weight >= 0 && weight < 1)) throw new RangeError(`emaSmooth: weight must be in [0, 1), got ${weight}`);
  const out = new Float64Array(values.length);
  let ema = 0;
  let debias = 1; // w^c
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      out[i] = NaN;
      continue;
    }
    ema = weight * ema + (1 - weight) * v;
    debias *= weight;
    out[i] = ema / (1 - debias);
  }
  return out;
}

/** emaSmooth's debiased average one value at a time, for the loss of a run as it trains (every value counts). */
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

/** Mini-batch size and training images per epoch of a run, for the x-axes. */
export interface AxisScale {
  batch: number;
  trainImages: number;
}

export function axisScale(config: string, meta?: Pick<RunMeta, 'trainImages'>): AxisScale {
  return { batch: parseConfigQuery(config).config.batch, trainImages: meta?.trainImages ?? 50_000 };
}

function xFromSteps(step: ArrayLike<number>, axis: XAxis, scale: AxisScale): Float64Array {
  const out = new Float64Array(step.length);
  const f = axis === 'iterations' ? 1 : axis === 'images' ? scale.batch : scale.batch / scale.trainImages;
  for (let i = 0; i < step.length; i++) out[i] = step[i]! * f;
  return out;
}

/** x of each step point: iterations done, images seen (step x batch) or epochs (images / training images). */
export function stepX(steps: Pick<StepSeries, 'step'>, axis: XAxis, scale: AxisScale): Float64Array {
  return xFromSteps(steps.step, axis, scale);
}

/** x of each test point, on the same scale as stepX (epoch 0 = before training = x 0). */
export function testX(tests: Pick<TestSeries, 'step'>, axis: XAxis, scale: AxisScale): Float64Array {
  return xFromSteps(tests.step, axis, scale);
}

/** Indices [from, to) of the points of a sorted x array inside [lo, hi] (for zooming without re-smoothing). */
export function visibleRange(x: ArrayLike<number>, lo: number, hi: number): [number, number] {
  const first = (v: number, strict: boolean) => {
    let a = 0;
    let b = x.length;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (strict ? x[m]! <= v : x[m]! < v) a = m + 1;
      else b = m;
    }
    return a;
  };
  return [first(lo, false), first(hi, true)];
}

// ---- export ------------------------------------------------------------------------------------

/** Shortest decimal that reads back as the same float32 (losses are float32: no false digits). */
export function float32String(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const f = Math.fround(v);
  for (let p = 1; p <= 9; p++) {
    const s = String(Number(f.toPrecision(p)));
    if (Math.fround(Number(s)) === f) return s;
  }
  return String(f);
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const num = (v: number) => (Number.isFinite(v) ? String(v) : '');
const num32 = (v: number) => (Number.isFinite(v) ? float32String(v) : '');

export interface CurveRun {
  /** Shown in the first column, so several runs fit one file. */
  name: string;
  bundle: Pick<RunBundle, 'config' | 'steps' | 'tests'> & { meta?: Pick<RunMeta, 'trainImages'> };
}

/** CSV of the per-step series: run, step, epoch, images, lr, loss, loss_smoothed, train_error[, ms]. */
export function stepsCsv(runs: CurveRun[], smoothing = DEFAULT_SMOOTHING): string {
  const withMs = runs.length > 0 && runs.every((r) => r.bundle.steps.ms !== undefined);
  const lines = [`run,step,epoch,images,lr,loss,loss_smoothed,train_error${withMs ? ',ms' : ''}`];
  for (const r of runs) {
    const { steps } = r.bundle;
    const scale = axisScale(r.bundle.config, r.bundle.meta);
    const smooth = emaSmooth(steps.loss, smoothing);
    const name = csvField(r.name);
    for (let i = 0; i < steps.step.length; i++) {
      let line = `${name},${steps.step[i]},${num(steps.epoch[i]!)},${steps.step[i]! * scale.batch},${num(steps.lr[i]!)},${num32(steps.loss[i]!)},${num(smooth[i]!)},${num32(steps.trainError[i]!)}`;
      if (withMs) line += `,${num(steps.ms![i]!)}`;
      lines.push(line);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** CSV of the test evaluations: run, step, epoch, images, test_error, evaluated. */
export function testsCsv(runs: CurveRun[]): string {
  const lines = ['run,step,epoch,images,test_error,evaluated'];
  for (const r of runs) {
    const { tests } = r.bundle;
    const scale = axisScale(r.bundle.config, r.bundle.meta);
    const name = csvField(r.name);
    for (let i = 0; i < tests.step.length; i++) {
      lines.push(
        `${name},${tests.step[i]},${num(tests.epoch[i]!)},${tests.step[i]! * scale.batch},${num(tests.testError[i]!)},${tests.evaluated[i]}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** JSON of one run's curves (no weights): configuration, metadata, result and plain arrays, column-wise. */
export function curvesJson(bundle: Pick<RunBundle, 'config' | 'meta' | 'steps' | 'tests'>, smoothing = DEFAULT_SMOOTHING): string {
  const arr = (a: ArrayLike<number>) => Array.from(a, (v) => (Number.isFinite(v) ? v : null));
  const { steps, tests } = bundle;
  return JSON.stringify({
    format: 'resnet-lab-curves',
    version: 1,
    config: bundle.config,
    meta: bundle.meta,
    result: summariseTests(tests),
    smoothing,
    steps: {
      step: arr(steps.step),
      epoch: arr(steps.epoch),
      lr: arr(steps.lr),
      // float32 values written with the digits float32 has, not float64's noise
      loss: Array.from(steps.loss, (v) => (Number.isFinite(v) ? Number(float32String(v)) : null)),
      lossSmoothed: arr(emaSmooth(steps.loss, smoothing)),
      trainError: Array.from(steps.trainError, (v) => (Number.isFinite(v) ? Number(float32String(v)) : null)),
      ...(steps.ms ? { ms: arr(steps.ms) } : {}),
    },
    tests: { step: arr(tests.step), epoch: arr(tests.epoch), testError: arr(tests.testError), evaluated: arr(tests.evaluated) },
  });
}

// ---- several runs on one chart (the Compare view) ------------------------------------------------

/** One run's line: x on the chosen axis (increasing) and the value at each x (NaN: no value). */
export interface Series {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

/**
 * At most about `maxPoints` indices of an n-point series, evenly spaced, first and last always kept.
 * Decimation for drawing: it picks points of an array already computed over the whole series (the
 * smoothed loss), so the values drawn never depend on how many points are drawn.
 */
export function decimatedIndices(n: number, maxPoints: number): number[] {
  if (n <= 0) return [];
  const stride = Math.max(1, Math.ceil(n / Math.max(1, maxPoints)));
  const out: number[] = [];
  for (let i = 0; i < n; i += stride) out.push(i);
  if (out[out.length - 1] !== n - 1) out.push(n - 1);
  return out;
}

/** y at `at` by linear interpolation between the points either side; null outside the series or next to a NaN. */
export function valueAt(s: Series, at: number): number | null {
  const n = s.x.length;
  if (n === 0 || !(at >= s.x[0]!) || !(at <= s.x[n - 1]!)) return null;
  let a = 0;
  let b = n - 1;
  while (b - a > 1) {
    const m = (a + b) >>> 1;
    if (s.x[m]! <= at) a = m;
    else b = m;
  }
  const [xa, xb, ya, yb] = [s.x[a]!, s.x[b]!, s.y[a]!, s.y[b]!];
  const v = at === xa ? ya : at === xb ? yb : ya + ((yb - ya) * (at - xa)) / (xb - xa);
  return Number.isFinite(v) ? v : null;
}

/** One row of an aligned chart: x and one value per series (`s0`, `s1`, ...; null where it has none). */
export type AlignedRow = { x: number } & Record<`s${number}`, number | null>;

/**
 * Several series on one x grid, for one chart with one tooltip: the x of every series' own points
 * (decimated to about `maxPointsEach` each), merged and sorted. Each series has its own values at its
 * own points (exactly); at another series' points it has an interpolated value (`interpolate`, for
 * smooth curves such as the smoothed loss), or none (null) where only measured values make sense
 * (test errors), and none outside its own range. Drawn with connectNulls, each line passes through its
 * own points only.
 */
export function alignSeries(series: readonly Series[], maxPointsEach: number, interpolate: boolean): AlignedRow[] {
  const own = series.map((s) => decimatedIndices(s.x.length, maxPointsEach));
  const xs = new Set<number>();
  series.forEach((s, k) => {
    for (const i of own[k]!) if (Number.isFinite(s.x[i]!)) xs.add(s.x[i]!);
  });
  const sorted = [...xs].sort((a, b) => a - b);
  // For exact (non-interpolated) values: each series' own x -> y.
  const exact = series.map((s, k) => new Map(own[k]!.map((i) => [s.x[i]!, s.y[i]!])));
  return sorted.map((x) => {
    const row: Record<string, number | null> = { x };
    series.forEach((s, k) => {
      const mine = exact[k]!.get(x);
      const v = mine !== undefined ? (Number.isFinite(mine) ? mine : null) : interpolate ? valueAt(s, x) : null;
      row[`s${k}`] = v;
    });
    return row as AlignedRow;
  });
}

/** A run's smoothed training loss on the chosen axis: EMA over the full series, then x (no decimation here). */
export function smoothedLossSeries(
  steps: Pick<StepSeries, 'step' | 'loss'>,
  axis: XAxis,
  scale: AxisScale,
  smoothing = DEFAULT_SMOOTHING,
): Series {
  return { x: stepX(steps, axis, scale), y: emaSmooth(steps.loss, smoothing) };
}

/** A run's test errors in percent on the chosen axis (at least 0.5, as the log-scale error chart draws them). */
export function testErrorSeries(tests: { step: ArrayLike<number>; testError: ArrayLike<number> }, axis: XAxis, scale: AxisScale): Series {
  const y = new Float64Array(tests.testError.length);
  for (let i = 0; i < y.length; i++) y[i] = Math.max(tests.testError[i]! * 100, 0.5);
  return { x: xFromSteps(tests.step, axis, scale), y };
}
