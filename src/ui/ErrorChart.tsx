// Test error per epoch, with the published numbers for the configuration as labelled horizontal lines
// (paper, gcr and neon by depth; gcr's block-variant, solver and BN-momentum tables where they apply).
// A row the configuration exactly matches is named under the chart. An imported run's test error is
// drawn as an overlay (orange, src/ui/workbench/overlay.ts). The x-axis fits the run's progress so far,
// or shows the planned run, or a zoom (chart-x.tsx); the published lines are drawn whatever the range.
import { memo, useDeferredValue, useMemo } from 'react';
import { CartesianGrid, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { RunRecord } from '../state/store.ts';
import { referencesFor, type ReferenceSource } from '../state/references.ts';
import { ERROR_TICKS, fitEnd, windowIndices, type XWindow, type XY } from './chart-data.ts';
import { useXAxis, XRangeControls, ZoomBox, type XAxisState } from './chart-x.tsx';
import { epochs, percent } from './format.ts';
import { useLab } from './store-context.tsx';
import { overlayErrors } from './workbench/overlay.ts';

const COLORS: Record<ReferenceSource, string> = { paper: '#b91c1c', gcr: '#15803d', neon: '#7c3aed' };
const MARGIN = { top: 8, right: 16, bottom: 18, left: 4 };
const Y_WIDTH = 40;
const PLOT_INSET = { left: MARGIN.left + Y_WIDTH, right: MARGIN.right };
// Props that never change keep their identity, so recharts does not recompute axes on every redraw.
const X_LABEL = { value: 'epoch', position: 'insideBottom', offset: -8 } as const;
const Y_DOMAIN: [number, number] = [1, 100];
// recharts' insideBottom* draws the label above a horizontal line, insideTop* below it.
const LABEL_POSITIONS = ['insideBottomRight', 'insideTopRight', 'insideBottomLeft', 'insideTopLeft'] as const;
// Dots are not clipped at the plot's edge (the evaluation at epoch 0 sits on it); points beyond are.
const DOT = { r: 3, clipDot: false };
const OVERLAY_DOT = { r: 2, clipDot: false };
const tooltipValue = (v: unknown) => (typeof v === 'number' ? `${v.toFixed(2)}%` : String(v));
const tooltipLabel = (v: unknown) => `epoch ${String(v)}`;

/**
 * Where the run's data ends on the fitted grid (chart-data.ts fitEnd): the later of its last step and
 * its last evaluation. It moves in 10% steps, so selecting it redraws this chart rarely, not every step.
 */
function fittedProgress(record: RunRecord | undefined): number {
  if (!record) return 0;
  const step = record.steps[record.steps.length - 1]?.epoch ?? 0;
  const test = record.epochs[record.epochs.length - 1]?.epoch ?? 0;
  return fitEnd(Math.max(step, test));
}

/** The points of `all` (x ascending) inside [from, to] and one beyond each side. */
function inWindow(all: XY[], from: number, to: number): XY[] {
  const [a, b] = windowIndices(all.length, (i) => all[i].x, from, to);
  return a === 0 && b === all.length ? all : all.slice(a, b);
}

export function ErrorChart() {
  const record = useLab((s) => s.record);
  // Redraw when an epoch's test error arrives, not on every step.
  const epochCount = useLab((s) => s.record?.epochs.length ?? 0);
  const config = useLab((s) => s.config);
  // The lines belong to the run being shown, or (before any run) to the configuration being edited.
  const shownConfig = useMemo(() => (record ? record.config : config), [record, config]);
  const lines = useMemo(() => referencesFor(shownConfig).slice(0, 5), [shownConfig]);

  // Deferred: a move of the fitted axis redraws the plot in interruptible slices.
  const progress = useDeferredValue(useLab((s) => fittedProgress(s.record)));

  const view = useMemo(() => {
    const epochs = record?.epochs ?? [];
    const points = epochs.map((e) => ({ x: e.epoch, y: Math.max(e.testError * 100, 0.5) }));
    return {
      points,
      planned: record ? Math.max(shownConfig.epochs, record.totalSteps / record.stepsPerEpoch) : shownConfig.epochs,
      last: epochs[epochs.length - 1],
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the record is mutable: epochCount says it grew
  }, [record, epochCount, shownConfig]);

  const overlayRun = useLab((s) => s.overlay);
  const overlay = useMemo(() => (overlayRun ? overlayErrors(overlayRun.bundle.tests) : []), [overlayRun]);
  const overlayFinal = overlayRun?.bundle.result.final;
  const overlayEnd = overlay[overlay.length - 1]?.x ?? 0;
  const axis = useXAxis(
    record?.runId,
    { data: record ? progress : fitEnd(overlayEnd), planned: Math.max(view.planned, overlayEnd) },
    record ? 2 / record.stepsPerEpoch : 1e-3,
  );
  const { from, to } = axis.window;
  const shownPoints = useMemo(() => inWindow(view.points, from, to), [view.points, from, to]);
  const shownOverlay = useMemo(() => inWindow(overlay, from, to), [overlay, from, to]);
  const match = lines.find((l) => l.matches);
  // One label per distinct value ("gcr, neon 8.29%"), alternating above and below the lines, right then
  // left, so close values (8.75 and 8.29 are 2 px apart) stay readable.
  const labels = useMemo(() => {
    const byValue = new Map<number, string[]>();
    for (const l of lines) byValue.set(l.row.error, [...(byValue.get(l.row.error) ?? []), l.row.source]);
    return new Map(
      [...byValue.entries()]
        .sort((a, b) => b[0] - a[0])
        .map(([value, sources], i) => [
          value,
          { text: `${[...new Set(sources)].join(', ')} ${value}%`, position: LABEL_POSITIONS[i % LABEL_POSITIONS.length] },
        ]),
    );
  }, [lines]);
  return (
    <section
      className="panel chart"
      aria-labelledby="error-title"
      data-testid="error-chart"
      data-points={view.points.length}
      data-overlay-points={overlay.length}
      data-x-view={axis.view.kind}
      data-x-min={from}
      data-x-max={to}
    >
      <div className="chart-head">
        <h2 id="error-title">Test error</h2>
        <div className="chart-tools">
          <XRangeControls axis={axis} label="Error x range" />
          <span className="muted small">log scale, %</span>
        </div>
      </div>
      <ZoomBox axis={axis} inset={PLOT_INSET}>
        <ErrorPlot points={shownPoints} overlay={shownOverlay} lines={lines} labels={labels} window={axis.window} format={axis.format} />
      </ZoomBox>
      <ul className="reference-list" aria-label="Published results">
        {lines.length === 0 && <li className="muted">No published result for ResNet-{shownConfig.depth}.</li>}
        {lines.map((l) => (
          <li key={l.row.name} className={l.matches ? 'matches' : undefined}>
            <span className="swatch" style={{ background: COLORS[l.row.source] }} />
            {l.label}
            {l.row.note ? <span className="muted"> ({l.row.note})</span> : null}
          </li>
        ))}
      </ul>
      <p className="chart-caption" data-testid="error-caption">
        {view.last
          ? `Test error ${percent(view.last.testError)} after ${epochs(view.last.epoch)} epoch${view.last.epoch === 1 ? '' : 's'} (${view.last.evaluated.toLocaleString('en-US')} test images).`
          : 'Measured on the test set before training and after every epoch.'}
        {match ? ` Your configuration is exactly the published row “${match.row.name}”.` : ''}
        {overlayRun && overlayFinal
          ? ` Imported (orange): ${percent(overlayFinal.testError)} after ${epochs(overlayFinal.epoch)} epochs.`
          : ''}
      </p>
    </section>
  );
}

interface PlotProps {
  points: XY[];
  overlay: XY[];
  lines: ReturnType<typeof referencesFor>;
  labels: Map<number, { text: string; position: (typeof LABEL_POSITIONS)[number] }>;
  window: XWindow;
  format: XAxisState['format'];
}

/** The recharts plot, redrawn only when its points, lines or window change. */
const ErrorPlot = memo(function ErrorPlot({ points, overlay, lines, labels, window, format }: PlotProps) {
  const xDomain = useMemo<[number, number]>(() => [window.from, window.to], [window]);
  const labelled = new Set<number>();
  return (
    <ResponsiveContainer width="100%" height="100%">
      <LineChart data={points} margin={MARGIN}>
        <CartesianGrid stroke="#e5e7eb" />
        <XAxis
          type="number"
          dataKey="x"
          domain={xDomain}
          ticks={window.ticks}
          allowDecimals
          allowDataOverflow
          tickFormatter={format}
          label={X_LABEL}
        />
        <YAxis type="number" scale="log" domain={Y_DOMAIN} ticks={ERROR_TICKS} allowDataOverflow width={Y_WIDTH} />
        <Tooltip formatter={tooltipValue} labelFormatter={tooltipLabel} />
        {lines.map((l) => {
          const label = labelled.has(l.row.error) ? undefined : labels.get(l.row.error);
          labelled.add(l.row.error);
          return (
            <ReferenceLine
              key={l.row.name}
              y={l.row.error}
              stroke={COLORS[l.row.source]}
              strokeDasharray={l.matches ? undefined : '5 4'}
              strokeWidth={l.matches ? 2 : 1}
              ifOverflow="extendDomain"
              label={label && { value: label.text, position: label.position, fill: COLORS[l.row.source], fontSize: 11 }}
            />
          );
        })}
        <Line dataKey="y" name="test error" stroke="#0f172a" strokeWidth={2} dot={DOT} isAnimationActive={false} />
        {overlay.length > 0 && (
          <Line
            data={overlay}
            dataKey="y"
            name="imported"
            stroke="#ea580c"
            strokeWidth={1.5}
            strokeDasharray="5 3"
            dot={OVERLAY_DOT}
            isAnimationActive={false}
          />
        )}
      </LineChart>
    </ResponsiveContainer>
  );
});
