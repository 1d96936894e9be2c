// The Compare view's two charts: smoothed training loss and test error of the selected runs, one
// colour each, the baseline drawn black and thicker. Every run's loss is smoothed over its full series
// first (src/state/curves.ts), then the runs are put on one x grid of a few hundred points each, so the
// smoothed values never depend on what is drawn, a 64k-step run stays quick, and one tooltip reads all
// runs at the same x.
import { memo, useMemo, useState } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { alignSeries, X_AXIS_LABELS, type AlignedRow, type XAxis as Axis } from '../../state/curves.ts';
import { ERROR_TICKS, linearTicks, logTicks } from '../chart-data.ts';
import { Segmented, SCALE_OPTIONS } from '../segmented.tsx';

/** Points per run on the loss chart (after smoothing the whole series). */
export const MAX_LOSS_POINTS = 300;
const MARGIN = { top: 8, right: 16, bottom: 18, left: 4 };

export interface ChartLine {
  id: string;
  name: string;
  color: string;
  baseline: boolean;
}

export interface ChartSeries {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

const tick = (v: number) => (Math.abs(v) >= 10_000 ? `${Number((v / 1000).toPrecision(3))}k` : String(Number(v.toPrecision(3))));

function xDomainOf(rows: AlignedRow[]): { ticks: number[]; domain: [number, number] } {
  const hi = rows.length ? rows[rows.length - 1]!.x : 1;
  const ticks = linearTicks(hi);
  return { ticks, domain: [0, ticks[ticks.length - 1]!] };
}

function yRange(rows: AlignedRow[], n: number): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of rows) {
    for (let k = 0; k < n; k++) {
      const v = r[`s${k}`];
      if (v !== null && v !== undefined && Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  return Number.isFinite(lo) ? [lo, hi] : [0.1, 10];
}

function lines(list: ChartLine[], width: number, dots: boolean) {
  // The baseline last, so it is drawn on top.
  const order = list.map((l, k) => ({ l, k })).sort((a, b) => Number(a.l.baseline) - Number(b.l.baseline));
  return order.map(({ l, k }) => (
    <Line
      key={l.id}
      dataKey={`s${k}`}
      name={l.baseline ? `${l.name} (baseline)` : l.name}
      stroke={l.color}
      strokeWidth={l.baseline ? width + 1.5 : width}
      dot={dots ? { r: 2.5, fill: l.color } : false}
      connectNulls
      isAnimationActive={false}
    />
  ));
}

export const CompareLossChart = memo(function CompareLossChart({
  list,
  series,
  axis,
}: {
  list: ChartLine[];
  series: ChartSeries[];
  axis: Axis;
}) {
  const [scale, setScale] = useState<'linear' | 'log'>('linear');
  const rows = useMemo(() => alignSeries(series, MAX_LOSS_POINTS, true), [series]);
  const x = useMemo(() => xDomainOf(rows), [rows]);
  const [lo, hi] = yRange(rows, series.length);
  const logDomain: [number, number] = [Math.max(1e-4, lo * 0.9), Math.max(hi * 1.1, lo * 1.2)];
  return (
    <section
      className="compare-chart"
      aria-label="Training loss of the selected runs"
      data-testid="compare-loss"
      data-rows={rows.length}
      data-lines={series.length}
    >
      <div className="chart-head">
        <h3>Training loss (smoothed)</h3>
        <Segmented label="Compare loss scale" options={SCALE_OPTIONS} value={scale} onChange={setScale} />
      </div>
      <div className="compare-chart-box">
        <ResponsiveContainer width="100%" height="100%">
          <LineChart data={rows} margin={MARGIN}>
            <CartesianGrid stroke="#e5e7eb" />
            <XAxis
              type="number"
              dataKey="x"
              domain={x.domain}
              ticks={x.ticks}
              tickFormatter={tick}
              allowDecimals
              label={{ value: X_AXIS_LABELS[axis], position: 'insideBottom', offset: -8 }}
            />
            {scale === 'log' ? (
              <YAxis
                type="number"
                scale="log"
                domain={logDomain}
                ticks={logTicks(logDomain[0], logDomain[1])}
                allowDataOverflow
                width={48}
                tickFormatter={tick}
              />
            ) : (
              <YAxis type="number" domain={[0, 'auto']} width={48} tickFormatter={tick} />
            )}
            <Tooltip
              formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))}
              labelFormatter={(v) => `${X_AXIS_LABELS[axis]} ${typeof v === 'number' ? tick(v) : String(v)}`}
            />
            <Legend verticalAlign="top" height={24} wrapperStyle={{ fontSize: 12 }} />
            {lines(list, 1.5, false)}
          </LineChart>
        </ResponsiveContainer>
      </div>
    </section>
  );
});

export const CompareErrorChart = memo(function CompareErrorChart({
  list,
  series,
  axis,
}: {
  list: ChartLine[];
  series: ChartSeries[];
  axis: Axis;
}) {
  // Test errors are measured values: no interpolation between evaluations.
  const rows = useMemo(() => alignSeries(series, Infinity, false), [series]);
  const x = useMemo(() => xDomainOf(rows), [rows]);
  return (
    <section
      className="compare-chart"
      aria-label="Test error of the selected runs"
      data-testid="compare-error"
      data-rows={rows.length}
      data-lines={series.length}
    >
      <div className="chart-head">
        <h3>Test error</h3>
        <span className="muted small">log scale, %</span>
      </div>
      <div className="compare-chart-box">
        <ResponsiveContainer width="100%" height="100%">
          <LineChart data={rows} margin={MARGIN}>
            <CartesianGrid stroke="#e5e7eb" />
            <XAxis
              type="number"
              dataKey="x"
              domain={x.domain}
              ticks={x.ticks}
              tickFormatter={tick}
              allowDecimals
              label={{ value: X_AXIS_LABELS[axis], position: 'insideBottom', offset: -8 }}
            />
            <YAxis type="number" scale="log" domain={[1, 100]} ticks={ERROR_TICKS} allowDataOverflow width={40} />
            <Tooltip
              formatter={(v) => (typeof v === 'number' ? `${v.toFixed(2)}%` : String(v))}
              labelFormatter={(v) => `${X_AXIS_LABELS[axis]} ${typeof v === 'number' ? tick(v) : String(v)}`}
            />
            <Legend verticalAlign="top" height={24} wrapperStyle={{ fontSize: 12 }} />
            {lines(list, 1.5, true)}
          </LineChart>
        </ResponsiveContainer>
      </div>
    </section>
  );
});
