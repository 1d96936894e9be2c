// Training loss per iteration, raw (faint) and smoothed, on a linear or log scale, x in epochs; an
// imported run's smoothed loss as an overlay (orange, src/ui/workbench/overlay.ts).
// Drawn from a decimated copy of the record (a few hundred points whatever the run's length). The plot
// redraws from a deferred value (useDeferredValue), so React renders it in interruptible slices rather
// than in one long task.
import { memo, useDeferredValue, useMemo, useState } from 'react';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { RunRecord } from '../state/store.ts';
import { Segmented, SCALE_OPTIONS } from './segmented.tsx';
import { decimateEvery, decimateMinMax, linearTicks, logTicks, type XY } from './chart-data.ts';
import { useLab } from './store-context.tsx';
import { overlayLoss } from './workbench/overlay.ts';

const MAX_RAW_POINTS = 800;
const MAX_SMOOTH_POINTS = 400;

interface LossView {
  raw: XY[];
  smooth: XY[];
  n: number;
  lo: number;
  hi: number;
  xMax: number;
  firstLoss?: number;
  lastLoss?: number;
}

function lossView(record: RunRecord | undefined): LossView {
  const steps = record?.steps ?? [];
  const n = steps.length;
  const raw = decimateMinMax(n, (i) => steps[i].epoch, (i) => steps[i].loss, MAX_RAW_POINTS);
  const smooth = decimateEvery(n, (i) => steps[i].epoch, (i) => record!.smoothed[i], MAX_SMOOTH_POINTS);
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of raw) {
    lo = Math.min(lo, p.y);
    hi = Math.max(hi, p.y);
  }
  const k = Math.min(5, n);
  const mean = (from: number, to: number) => {
    let s = 0;
    for (let i = from; i < to; i++) s += steps[i].loss;
    return s / (to - from);
  };
  return {
    raw,
    smooth,
    n,
    lo,
    hi,
    xMax: record ? Math.max(record.totalSteps / record.stepsPerEpoch, steps[n - 1]?.epoch ?? 0) : 1,
    firstLoss: n ? mean(0, k) : undefined,
    lastLoss: n ? mean(n - k, n) : undefined,
  };
}

export function LossChart() {
  const record = useLab((s) => s.record);
  const revision = useLab((s) => s.revision);
  const deferredRevision = useDeferredValue(revision);
  const [scale, setScale] = useState<'linear' | 'log'>('linear');
  // `deferredRevision` says the (mutable) record grew.
  const view = useMemo(() => lossView(record), [record, deferredRevision]);
  const overlayRun = useLab((s) => s.overlay);
  const overlay = useMemo(() => (overlayRun ? overlayLoss(overlayRun.bundle.steps) : EMPTY), [overlayRun]);

  return (
    <section
      className="panel chart"
      aria-labelledby="loss-title"
      data-testid="loss-chart"
      data-points={view.n}
      data-first-loss={view.firstLoss}
      data-last-loss={view.lastLoss}
      data-overlay-points={overlay.length}
    >
      <div className="chart-head">
        <h2 id="loss-title">Training loss</h2>
        <Segmented label="Loss scale" options={SCALE_OPTIONS} value={scale} onChange={setScale} />
      </div>
      <div className="chart-box">
        <LossPlot view={view} scale={scale} overlay={overlay} />
      </div>
      <p className="chart-caption" data-testid="loss-caption">
        {view.n === 0
          ? 'Raw loss per iteration (light) and smoothed (dark).'
          : `${view.n.toLocaleString('en-US')} iterations; loss ${view.firstLoss!.toFixed(3)} at the start, ${view.lastLoss!.toFixed(3)} now (mean of 5).`}
      </p>
    </section>
  );
}

// Props that never change keep their identity, so recharts does not recompute axes on every redraw.
const MARGIN = { top: 8, right: 16, bottom: 18, left: 4 };
const X_LABEL = { value: 'epoch', position: 'insideBottom', offset: -8 } as const;
const LINEAR_DOMAIN: [number, 'auto'] = [0, 'auto'];
const tick = (v: number) => String(Number(v.toPrecision(3)));
const tooltipValue = (v: unknown) => (typeof v === 'number' ? v.toFixed(4) : String(v));
const tooltipLabel = (v: unknown) => `epoch ${typeof v === 'number' ? v.toFixed(3) : String(v)}`;
const EMPTY: XY[] = [];

/** The recharts plot; mounted from the start (empty before a run) so its first mount is not during training. */
const LossPlot = memo(function LossPlot({ view, scale, overlay }: { view: LossView; scale: 'linear' | 'log'; overlay: XY[] }) {
  const xMax = Math.max(view.xMax, overlay[overlay.length - 1]?.x ?? 0);
  const xTicks = useMemo(() => linearTicks(xMax), [xMax]);
  const xDomain = useMemo(() => [0, xTicks[xTicks.length - 1]], [xTicks]);
  // The log axis moves only when the range grows or shrinks past a power-of-1.25 step.
  const q = (v: number) => 1.25 ** Math.round(Math.log(v) / Math.log(1.25));
  const lo = view.n === 0 ? 0.1 : Math.max(1e-4, q(view.lo * 0.9));
  const hi = view.n === 0 ? 10 : Math.max(q(view.hi * 1.1), lo * 1.2);
  const logDomain = useMemo<[number, number]>(() => [lo, hi], [lo, hi]);
  const logTickValues = useMemo(() => logTicks(lo, hi), [lo, hi]);
  return (
    <ResponsiveContainer width="100%" height="100%">
      <LineChart margin={MARGIN}>
        <CartesianGrid stroke="#e5e7eb" />
        <XAxis type="number" dataKey="x" domain={xDomain} ticks={xTicks} tickFormatter={tick} label={X_LABEL} allowDecimals />
        {scale === 'log' ? (
          <YAxis type="number" scale="log" domain={logDomain} ticks={logTickValues} allowDataOverflow width={48} />
        ) : (
          <YAxis type="number" domain={LINEAR_DOMAIN} width={48} tickFormatter={tick} />
        )}
        <Tooltip formatter={tooltipValue} labelFormatter={tooltipLabel} />
        <Line data={view.raw} dataKey="y" name="loss" stroke="#93c5fd" strokeWidth={1} dot={false} isAnimationActive={false} />
        <Line data={view.smooth} dataKey="y" name="smoothed" stroke="#1d4ed8" strokeWidth={2} dot={false} isAnimationActive={false} />
        {overlay.length > 0 && (
          <Line data={overlay} dataKey="y" name="imported (smoothed)" stroke="#ea580c" strokeWidth={1.5} strokeDasharray="5 3" dot={false} isAnimationActive={false} />
        )}
      </LineChart>
    </ResponsiveContainer>
  );
});
