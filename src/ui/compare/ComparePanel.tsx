// The Compare view (issue 6): the runs ticked in the Runs list, overlaid on a loss chart and a test-error
// chart (x in epochs, iterations or training images; smoothing over each full series), one pinned as
// the baseline, and a summary table: the configuration keys that differ (cells unlike the baseline's
// highlighted), final test error (the headline) and its difference to the baseline, the best epoch
// (flagged: chosen on the test set), training time, backend, images/s and seed.
import { useEffect, useId, useMemo, useRef } from 'react';
import { configFromQuery } from '../../experiment/config.ts';
import { compareSummary, formatPointsDiff, type CompareRunInfo, type SummaryRow } from '../../state/compare.ts';
import { MAX_COMPARE } from '../../state/compare-slice.ts';
import { axisScale, smoothedLossSeries, testErrorSeries, X_AXES, type XAxis } from '../../state/curves.ts';
import type { RunDetail } from '../../storage/run-store.ts';
import type { RunMeta } from '../../storage/schema.ts';
import { count, duration, epochs, percent } from '../format.ts';
import { useLab } from '../store-context.tsx';
import { CompareErrorChart, CompareLossChart, type ChartLine, type ChartSeries } from './CompareCharts.tsx';
import { Segmented } from '../segmented.tsx';
import './compare.css';

/** One colour per selected run, by the order of selection (stable when the baseline changes). */
export const COMPARE_COLORS = ['#1d4ed8', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];
export const BASELINE_COLOR = '#111827';

const AXIS_BUTTONS: Record<XAxis, string> = { epochs: 'Epochs', iterations: 'Iterations', images: 'Images' };
const SMOOTHING = [0, 0.6, 0.9, 0.95, 0.98, 0.99, 0.995];

function colorOf(index: number, baseline: boolean): string {
  return baseline ? BASELINE_COLOR : COMPARE_COLORS[index % COMPARE_COLORS.length]!;
}

const scaleOf = (meta: RunMeta) => axisScale(meta.config, { trainImages: meta.trainImages ?? 50_000 });

/**
 * The previous array when every element is the same object: a new listing of the runs (each checkpoint
 * of a training run makes one) then neither smooths the series again nor redraws the charts.
 */
function useSameElements<T>(next: T[]): T[] {
  const prev = useRef(next);
  if (prev.current.length !== next.length || prev.current.some((v, i) => v !== next[i])) prev.current = next;
  return prev.current;
}

/** Per loaded run: its smoothed loss and test errors for the current axis and smoothing (a 64k-step run is smoothed once). */
function useCurves(details: { detail: RunDetail; meta: RunMeta }[], axis: XAxis, smoothing: number) {
  const cache = useRef(new WeakMap<RunDetail, { axis: XAxis; smoothing: number; loss: ChartSeries; errors: ChartSeries }>());
  const all = details.map(({ detail, meta }) => {
    const hit = cache.current.get(detail);
    if (hit && hit.axis === axis && hit.smoothing === smoothing) return hit;
    const scale = scaleOf(meta);
    const e = detail.epochs;
    const entry = {
      axis,
      smoothing,
      loss: smoothedLossSeries(detail.steps, axis, scale, smoothing),
      errors: testErrorSeries({ step: e.map((p) => p.step), testError: e.map((p) => p.testError) }, axis, scale),
    };
    cache.current.set(detail, entry);
    return entry;
  });
  return { loss: useSameElements(all.map((c) => c.loss)), errors: useSameElements(all.map((c) => c.errors)) };
}

function info(meta: RunMeta, tests: CompareRunInfo['tests']): CompareRunInfo {
  return {
    id: meta.id,
    name: meta.name,
    config: configFromQuery(meta.config), // the stored record's query string
    backend: meta.backend,
    status: meta.status,
    lastStep: meta.lastStep,
    imagesPerSec: meta.imagesPerSec,
    elapsedMs: meta.elapsedMs,
    finalTestError: meta.finalTestError,
    tests,
  };
}

export function ComparePanel() {
  const id = useId();
  const runs = useLab((s) => s.runs);
  const runsState = useLab((s) => s.runsState);
  const ids = useLab((s) => s.compareIds);
  const baselineId = useLab((s) => s.compareBaseline);
  const axis = useLab((s) => s.compareAxis);
  const smoothing = useLab((s) => s.compareSmoothing);
  const details = useLab((s) => s.compareDetails);
  const loading = useLab((s) => s.compareLoading);
  const error = useLab((s) => s.compareError);
  const sync = useLab((s) => s.syncCompare);
  const setAxis = useLab((s) => s.setCompareAxis);
  const setSmoothing = useLab((s) => s.setCompareSmoothing);
  const setBaseline = useLab((s) => s.setCompareBaseline);
  const toggle = useLab((s) => s.toggleCompare);
  const clear = useLab((s) => s.clearCompare);

  // Runs deleted while selected drop out; selected runs' series are loaded (again, when stored again).
  useEffect(() => {
    void sync();
  }, [runs, runsState, sync]);

  // The selected runs still in the list, in selection order, with their colour index.
  const selected = useMemo(() => {
    const byId = new Map(runs.map((r) => [r.id, r]));
    return ids.flatMap((rid, index) => {
      const meta = byId.get(rid);
      return meta ? [{ meta, index, detail: details[rid] }] : [];
    });
  }, [runs, ids, details]);
  const baseline = selected.find((s) => s.meta.id === baselineId)?.meta.id ?? selected[0]?.meta.id;

  const summary = useMemo(
    () =>
      compareSummary(
        selected.map((s) => info(s.meta, s.detail?.epochs)),
        baseline,
      ),
    [selected, baseline],
  );

  // Curves of the loaded runs: smoothing over each full series, once per run, axis and weight.
  const drawn = useMemo(() => selected.filter((s) => s.detail).map((s) => ({ ...s, detail: s.detail! })), [selected]);
  const { loss, errors } = useCurves(drawn, axis, smoothing);
  const list = useMemo<ChartLine[]>(() => {
    // Runs with the same name (the default names say depth, protocol, solver and seed) are told apart by what differs.
    const names = drawn.map((s) => s.meta.name);
    const values = new Map(summary.rows.map((r) => [r.id, r.values]));
    return drawn.map((s) => {
      const v = values.get(s.meta.id) ?? {};
      const extra =
        names.filter((n) => n === s.meta.name).length > 1
          ? Object.entries(v)
              .map(([k, x]) => `${k} ${x}`)
              .join(', ')
          : '';
      return {
        id: s.meta.id,
        name: extra ? `${s.meta.name} (${extra})` : s.meta.name,
        color: colorOf(s.index, s.meta.id === baseline),
        baseline: s.meta.id === baseline,
      };
    });
  }, [drawn, baseline, summary]);

  if (runsState !== 'ready' || runs.length === 0) return null;

  return (
    <section className="panel compare" aria-labelledby={`${id}-title`} data-testid="compare-panel" data-selected={selected.length}>
      <div className="compare-head">
        <h2 id={`${id}-title`}>
          Compare{' '}
          <span className="muted small">
            {selected.length === 0
              ? `tick “Compare” in the Runs list (up to ${MAX_COMPARE} runs)`
              : `${selected.length} of up to ${MAX_COMPARE} runs`}
          </span>
        </h2>
        {selected.length > 0 && (
          <div className="compare-controls">
            <Segmented label="Compare x-axis" options={X_AXES.map((a) => [a, AXIS_BUTTONS[a]] as const)} value={axis} onChange={setAxis} />
            <label className="small">
              Smoothing{' '}
              <select aria-label="Compare smoothing" value={String(smoothing)} onChange={(e) => setSmoothing(Number(e.target.value))}>
                {[...new Set([...SMOOTHING, smoothing])]
                  .sort((a, b) => a - b)
                  .map((w) => (
                    <option key={w} value={String(w)}>
                      {w === 0 ? 'none' : w}
                    </option>
                  ))}
              </select>
            </label>
            <button type="button" onClick={clear}>
              Clear
            </button>
          </div>
        )}
      </div>
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
      {selected.length > 0 && (
        <>
          <div className="compare-charts">
            <CompareLossChart list={list} series={loss} axis={axis} />
            <CompareErrorChart list={list} series={errors} axis={axis} />
          </div>
          {loading.length > 0 && (
            <p className="muted small" role="status">
              Loading {loading.length === 1 ? 'a run' : `${loading.length} runs`} from the history…
            </p>
          )}
          <p className="muted small">
            Loss smoothed over each run's whole series ({smoothing === 0 ? 'no smoothing' : `moving average, weight ${smoothing}`}), then
            drawn at up to 300 points per run; zooming or thinning never changes the values.
            {axis === 'iterations' &&
              new Set(selected.map((s) => axisScale(s.meta.config).batch)).size > 1 &&
              ' The runs have different batch sizes: an iteration is not the same amount of data in each.'}
          </p>
          <SummaryTable
            rows={summary.rows}
            differing={summary.differing}
            selected={selected}
            onBaseline={setBaseline}
            onRemove={(rid) => toggle(rid, false)}
          />
          {summary.common.length > 0 && selected.length > 1 && (
            <p className="small muted" data-testid="compare-common">
              Same in all: {summary.common.map(([k, v]) => `${k} ${v}`).join(', ')}.
            </p>
          )}
        </>
      )}
    </section>
  );
}

function SummaryTable({
  rows,
  differing,
  selected,
  onBaseline,
  onRemove,
}: {
  rows: SummaryRow[];
  differing: string[];
  selected: { meta: RunMeta; index: number }[];
  onBaseline: (id: string) => void;
  onRemove: (id: string) => void;
}) {
  const name = useId();
  const keys = differing.filter((k) => k !== 'seed'); // the seed has its own column
  const seedDiffers = differing.includes('seed');
  return (
    <div className="compare-table-box">
      <table className="compare-table" data-testid="compare-summary">
        <thead>
          <tr>
            <th title="The baseline: drawn black, the differences are to it">Baseline</th>
            <th>Run</th>
            {keys.map((k) => (
              <th key={k} className="compare-key" data-testid="compare-key" data-key={k}>
                {k}
              </th>
            ))}
            <th className={seedDiffers ? 'compare-key' : undefined}>seed</th>
            <th title="Test error at the last evaluation: the number the papers report">Final test error</th>
            <th title="The lowest test error of any evaluation, chosen by looking at the test set, so optimistic">Best epoch</th>
            <th>Training time</th>
            <th>Backend</th>
            <th>Images/s</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => {
            const s = selected[i]!;
            return (
              <tr
                key={r.id}
                className={r.baseline ? 'compare-baseline' : undefined}
                data-testid="compare-row"
                data-run-id={r.id}
                data-baseline={r.baseline}
              >
                <td>
                  <input
                    type="radio"
                    name={name}
                    aria-label={`Baseline ${r.name}`}
                    checked={r.baseline}
                    onChange={() => onBaseline(r.id)}
                  />
                </td>
                <td className="compare-run">
                  <span className="swatch" style={{ background: colorOf(s.index, r.baseline) }} />{' '}
                  <span data-testid="compare-name">{r.name}</span>
                  <div className="muted small">
                    {r.status}, {count(r.steps)} steps
                  </div>
                </td>
                {keys.map((k) => {
                  const differs = r.differsFromBaseline.includes(k as never);
                  return (
                    <td key={k} className={differs ? 'compare-differs' : undefined} data-key={k} data-differs={differs}>
                      {r.values[k as keyof typeof r.values]}
                    </td>
                  );
                })}
                <td
                  className={r.differsFromBaseline.includes('seed') ? 'compare-differs' : undefined}
                  data-key="seed"
                  data-differs={r.differsFromBaseline.includes('seed')}
                >
                  {r.seed}
                </td>
                <td data-testid="compare-final">
                  <strong>{percent(r.final?.testError)}</strong>
                  {r.finalDiff !== undefined && (
                    <span
                      className={`compare-diff ${r.finalDiff > 0 ? 'worse' : r.finalDiff < 0 ? 'better' : ''}`}
                      title="percentage points against the baseline"
                    >
                      {' '}
                      {formatPointsDiff(r.finalDiff)} pp
                    </span>
                  )}
                  {r.final?.epoch !== undefined && (
                    <div className="muted small">
                      epoch {epochs(r.final.epoch)}
                      {r.final.evaluated !== undefined && r.final.evaluated < 10_000 ? `, ${count(r.final.evaluated)} test images` : ''}
                    </div>
                  )}
                </td>
                <td>
                  {r.best ? (
                    <>
                      {percent(r.best.testError)}
                      {r.best.epoch !== undefined && <span className="muted small"> at epoch {epochs(r.best.epoch)}</span>}
                      <div>
                        <span className="flag">chosen on the test set</span>
                      </div>
                    </>
                  ) : (
                    '–'
                  )}
                </td>
                <td>{duration(r.trainSeconds)}</td>
                <td>{r.backend}</td>
                <td>{r.imagesPerSec === undefined ? '–' : r.imagesPerSec.toFixed(r.imagesPerSec < 10 ? 1 : 0)}</td>
                <td>
                  <button type="button" aria-label={`Remove ${r.name} from Compare`} onClick={() => onRemove(r.id)}>
                    Remove
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
