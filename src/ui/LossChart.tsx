// Training loss per iteration, raw (faint) and smoothed, on a linear or log scale, x in epochs; an
// imported run's smoothed loss as an overlay (orange, src/ui/workbench/overlay.ts). The x-axis fits the
// data so far, or shows the planned run, or a zoom (chart-x.tsx).
// Drawn from a decimated copy of the record's steps inside the x window (a few hundred points whatever
// the run's length or the zoom). The plot redraws from a deferred value (useDeferredValue), so React
// renders it in interruptible slices rather than in one long task.
import { memo, useDeferredValue, useMemo, useState } from 'react';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { RunRecord } from '../state/store.ts';
import { Segmented, SCALE_OPTIONS } from './segmented.tsx';
import { decimateEvery, decimateMinMax, fitEnd, logTicks, windowIndices, type XWindow, type XY } from './chart-data.ts';
import { useXAxis, XRangeControls, ZoomBox, type XAxisState } from './chart-x.tsx';
import { useLab } from './store-context.tsx';
import { overlayLoss } from './workbench/overlay.ts';

const MAX_RAW_POINTS = 800;
const MAX_SMOOTH_POINTS = 400;

interface LossView {
  raw: XY[];
  smooth: XY[];
  overlay: XY[];
  /** Steps in the record (not only in the window). */
  n: number;
  /** Lowest and highest raw loss drawn. */
  lo: number;
  hi: number;
  firstLoss?: number;
  lastLoss?: number;
}

/** The points of the record and the overlay inside the window `w`, decimated for drawing. */
function lossView(record: RunRecord | undefined, w: { from: number; to: number }, overlayAll: XY[]): LossView {
  const steps = record?.steps ?? [];
  const n = steps.length;
  const [start, end] = windowIndices(n, (i) => steps[i].epoch, w.from, w.to);
  const m = end - start;
  const raw = decimateMinMax(
    m,
    (i) => steps[start + i].epoch,
    (i) => steps[start + i].loss,
    MAX_RAW_POINTS,
  );
  const smooth = decimateEvery(
    m,
    (i) => steps[start + i].epoch,
    (i) => record!.smoothed[start + i],
    MAX_SMOOTH_POINTS,
  );
  const [o0, o1] = windowIndices(overlayAll.length, (i) => overlayAll[i].x, w.from, w.to);
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
    overlay: o0 === 0 && o1 === overlayAll.length ? overlayAll : overlayAll.slice(o0, o1),
    n,
    lo,
    hi,
    firstLoss: n ? mean(0, k) : undefined,
    lastLoss: n ? mean(n - k, n) : undefined,
  };
}

/** The planned length of the run shown (or of the configuration being edited), in epochs. */
function usePlannedEpochs(record: RunRecord | undefined): number {
  const editing = useLab((s) => s.config.epochs);
  const fromRecord = useMemo(
    () => (record ? Math.max(record.config.epochs, record.totalSteps / record.stepsPerEpoch) : undefined),
    [record],
  );
  return fromRecord ?? editing;
}

export function LossChart() {
  const record = useLab((s) => s.record);
  const revision = useLab((s) => s.revision);
  const deferredRevision = useDeferredValue(revision);
  const [scale, setScale] = useState<'linear' | 'log'>('linear');
  const overlayRun = useLab((s) => s.overlay);
  const overlayAll = useMemo(() => (overlayRun ? overlayLoss(overlayRun.bundle.steps) : EMPTY), [overlayRun]);
  const planned = usePlannedEpochs(record);
  const steps = record?.steps ?? [];
  const overlayEnd = overlayAll[overlayAll.length - 1]?.x ?? 0;
  // The same fitted end as the error chart's (both on the FIT_GROWTH grid), so the two stay aligned.
  const dataEnd = steps.length ? fitEnd(steps[steps.length - 1].epoch) : overlayEnd;
  const axis = useXAxis(record?.runId, { data: dataEnd, planned: Math.max(planned, overlayEnd) }, record ? 2 / record.stepsPerEpoch : 1e-3);
  const { from, to } = axis.window;
  // eslint-disable-next-line react-hooks/exhaustive-deps -- the record is mutable: deferredRevision says it grew
  const view = useMemo(() => lossView(record, { from, to }, overlayAll), [record, deferredRevision, from, to, overlayAll]);

  return (
    <section
      className="panel chart"
      aria-labelledby="loss-title"
      data-testid="loss-chart"
      data-points={view.n}
      data-first-loss={view.firstLoss}
      data-last-loss={view.lastLoss}
      data-overlay-points={overlayAll.length}
      data-x-view={axis.view.kind}
      data-x-min={from}
      data-x-max={to}
      data-x-end={steps[steps.length - 1]?.epoch ?? 0}
    >
      <div className="chart-head">
        <h2 id="loss-title">Training loss</h2>
        <div className="chart-tools">
          <XRangeControls axis={axis} label="Loss x range" />
          <Segmented label="Loss scale" options={SCALE_OPTIONS} value={scale} onChange={setScale} />
        </div>
      </div>
      <ZoomBox axis={axis} inset={PLOT_INSET}>
        <LossPlot view={view} scale={scale} window={axis.window} format={axis.format} />
      </ZoomBox>
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
const Y_WIDTH = 48;
const PLOT_INSET = { left: MARGIN.left + Y_WIDTH, right: MARGIN.right };
const X_LABEL = { value: 'epoch', position: 'insideBottom', offset: -8 } as const;
const LINEAR_DOMAIN: [number, 'auto'] = [0, 'auto'];
const tick = (v: number) => String(Number(v.toPrecision(3)));
const tooltipValue = (v: unknown) => (typeof v === 'number' ? v.toFixed(4) : String(v));
const tooltipLabel = (v: unknown) => `epoch ${typeof v === 'number' ? v.toFixed(3) : String(v)}`;
const EMPTY: XY[] = [];

interface PlotProps {
  view: LossView;
  scale: 'linear' | 'log';
  window: XWindow;
  format: XAxisState['format'];
}

/** The recharts plot; mounted from the start (empty before a run) so its first mount is not during training. */
const LossPlot = memo(function LossPlot({ view, scale, window, format }: PlotProps) {
  const xDomain = useMemo<[number, number]>(() => [window.from, window.to], [window]);
  // The log axis moves only when the range grows or shrinks past a power-of-1.25 step.
  const q = (v: number) => 1.25 ** Math.round(Math.log(v) / Math.log(1.25));
  const empty = !(view.hi >= view.lo);
  const lo = empty ? 0.1 : Math.max(1e-4, q(view.lo * 0.9));
  const hi = empty ? 10 : Math.max(q(view.hi * 1.1), lo * 1.2);
  const logDomain = useMemo<[number, number]>(() => [lo, hi], [lo, hi]);
  const logTickValues = useMemo(() => logTicks(lo, hi), [lo, hi]);
  return (
    <ResponsiveContainer width="100%" height="100%">
      <LineChart margin={MARGIN}>
        <CartesianGrid stroke="#e5e7eb" />
        <XAxis
          type="number"
          dataKey="x"
          domain={xDomain}
          ticks={window.ticks}
          tickFormatter={format}
          label={X_LABEL}
          allowDecimals
          allowDataOverflow
        />
        {scale === 'log' ? (
          <YAxis type="number" scale="log" domain={logDomain} ticks={logTickValues} allowDataOverflow width={Y_WIDTH} />
        ) : (
          <YAxis type="number" domain={LINEAR_DOMAIN} width={Y_WIDTH} tickFormatter={tick} />
        )}
        <Tooltip formatter={tooltipValue} labelFormatter={tooltipLabel} />
        <Line data={view.raw} dataKey="y" name="loss" stroke="#93c5fd" strokeWidth={1} dot={false} isAnimationActive={false} />
        <Line data={view.smooth} dataKey="y" name="smoothed" stroke="#1d4ed8" strokeWidth={2} dot={false} isAnimationActive={false} />
        {view.overlay.length > 0 && (
          <Line
            data={view.overlay}
            dataKey="y"
            name="imported (smoothed)"
            stroke="#ea580c"
            strokeWidth={1.5}
            strokeDasharray="5 3"
            dot={false}
            isAnimationActive={false}
          />
        )}
      </LineChart>
    </ResponsiveContainer>
  );
});
