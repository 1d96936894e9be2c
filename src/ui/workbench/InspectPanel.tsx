// "Inside the model": the current network (a paused, stopped or finished run, or loaded weights) on
// the test set, computed in the worker with a progress bar: per-class test error, the 10x10 confusion
// matrix (a cell filters the grid), and a grid of test images with predicted and true labels, the
// most confident mistakes first. Optionally the BN statistics are recomputed over the training set
// first (on a copy of the model), showing the error with and without.
import { useEffect, useId, useMemo, useRef, useState } from 'react';
import { CLASS_NAMES } from '../../data/cifar.ts';
import { mistakesFirst, perClassError, testImageRGBA, type GridItem, type TestAnalysis } from '../../train/analysis.ts';
import type { InspectStage, ModelInspection } from '../../worker/protocol.ts';
import { formatDiff } from '../../state/reference-tables.ts';
import { count, percent } from '../format.ts';
import { useLab } from '../store-context.tsx';

const STAGE_LABEL: Record<InspectStage, string> = {
  test: 'Testing',
  recalibrate: 'Recalibrating BN',
  'test-recalibrated': 'Testing again',
};
const PAGE = 40;
/** The grid reads predictions only; mistakesFirst takes the analysis shape. */
const asAnalysis = (i: ModelInspection): TestAnalysis => ({
  n: i.n,
  classes: i.classes,
  labels: i.labels,
  predicted: i.predicted,
  confidence: i.confidence,
  trueProbability: new Float32Array(i.n),
  confusion: i.confusion,
  error: i.testError,
});

interface CellFilter {
  trueClass: number;
  predictedClass: number;
}

export function InspectPanel() {
  const id = useId();
  const record = useLab((s) => s.record);
  const loaded = useLab((s) => s.loaded);
  const phase = useLab((s) => s.phase);
  const inspection = useLab((s) => s.inspection);
  const busy = useLab((s) => s.inspectBusy);
  const progress = useLab((s) => s.inspectProgress);
  const error = useLab((s) => s.inspectError);
  const inspect = useLab((s) => s.inspect);
  const [recalibrate, setRecalibrate] = useState(false);
  const [trainImages, setTrainImages] = useState('');
  const [filter, setFilter] = useState<CellFilter | undefined>();
  useEffect(() => setFilter(undefined), [inspection]);

  const hasModel = Boolean(record || loaded);
  const canInspect = hasModel && (phase === 'paused' || phase === 'ended' || phase === 'idle') && !busy;
  const imagesCap = /^\d+$/.test(trainImages.trim()) && Number(trainImages) > 0 ? Number(trainImages) : undefined;
  const capInvalid = trainImages.trim() !== '' && imagesCap === undefined;

  return (
    <section className="panel inspect" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Inside the model</h2>
      <div className="inspect-controls">
        <button
          type="button"
          disabled={!canInspect || capInvalid}
          onClick={() => void inspect({ recalibrate, recalibrateImages: imagesCap })}
        >
          Inspect model
        </button>
        <label className="check">
          <input type="checkbox" checked={recalibrate} onChange={(e) => setRecalibrate(e.target.checked)} />
          Recalibrate BN first
        </label>
        {recalibrate && (
          <label className="inline-field">
            <span>Training images</span>
            <input
              type="text"
              inputMode="numeric"
              placeholder="all"
              value={trainImages}
              aria-invalid={capInvalid || undefined}
              onChange={(e) => setTrainImages(e.target.value)}
            />
          </label>
        )}
      </div>
      <p className="muted small">
        {hasModel
          ? 'Tests the current model (pause or stop a run first) on the test images of the run options. BN recalibration recomputes every BN layer’s running statistics over the un-augmented training set, as the paper’s author recommended to gcr; it works on a copy, so the model keeps its own.'
          : 'Train (or load) a network first; then look at what it gets wrong.'}
      </p>
      {progress && (
        <div className="progress-row" role="status">
          <label htmlFor={`${id}-progress`}>{STAGE_LABEL[progress.stage]}</label>
          <progress id={`${id}-progress`} max={progress.total} value={progress.done} />
          <span className="progress-text">
            {count(progress.done)} / {count(progress.total)}
          </span>
        </div>
      )}
      {busy && !progress && (
        <p className="muted" role="status">
          Preparing…
        </p>
      )}
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
      {inspection && (
        <>
          <InspectionSummary inspection={inspection} />
          <div className="inspect-body">
            <ClassErrors inspection={inspection} />
            <ConfusionMatrix inspection={inspection} filter={filter} onFilter={setFilter} />
          </div>
          <PredictionGrid inspection={inspection} filter={filter} onClear={() => setFilter(undefined)} />
        </>
      )}
    </section>
  );
}

function InspectionSummary({ inspection: a }: { inspection: ModelInspection }) {
  const c = a.config;
  return (
    <p data-testid="inspection-summary">
      ResNet-{c.depth} after {count(a.steps)} steps, {count(a.n)} test images: test error{' '}
      <strong data-testid="inspect-error">{percent(a.testError)}</strong>
      {a.recalibrated && (
        <>
          {'; '}after BN recalibration over {count(a.recalibrated.images)} training images ({count(a.recalibrated.batches)} batches):{' '}
          <strong data-testid="recalibrated-error">{percent(a.recalibrated.testError)}</strong> (
          {formatDiff(100 * (a.recalibrated.testError - a.testError))} points)
        </>
      )}
      .
    </p>
  );
}

function ClassErrors({ inspection: a }: { inspection: ModelInspection }) {
  const rows = useMemo(() => perClassError(a.confusion), [a]);
  const after = useMemo(() => (a.recalibrated ? perClassError(a.recalibrated.confusion) : undefined), [a]);
  return (
    <table className="class-table" aria-label="Per-class test error">
      <thead>
        <tr>
          <th scope="col">Class</th>
          <th scope="col" className="num">
            Images
          </th>
          <th scope="col" className="num">
            Wrong
          </th>
          <th scope="col" className="num">
            Error
          </th>
          {after && (
            <th scope="col" className="num">
              Recalibrated
            </th>
          )}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.cls}>
            <th scope="row">{CLASS_NAMES[r.cls]}</th>
            <td className="num">{count(r.count)}</td>
            <td className="num">{count(r.wrong)}</td>
            <td className="num">
              <span className="bar" style={{ width: `${Number.isNaN(r.error) ? 0 : r.error * 60}px` }} />
              {Number.isNaN(r.error) ? '–' : percent(r.error, 1)}
            </td>
            {after && <td className="num">{Number.isNaN(after[r.cls]!.error) ? '–' : percent(after[r.cls]!.error, 1)}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ConfusionMatrix({
  inspection: a,
  filter,
  onFilter,
}: {
  inspection: ModelInspection;
  filter?: CellFilter;
  onFilter(f: CellFilter | undefined): void;
}) {
  const k = a.classes;
  const rowSums = useMemo(
    () => Array.from({ length: k }, (_, t) => a.confusion.subarray(t * k, (t + 1) * k).reduce((x, y) => x + y, 0)),
    [a, k],
  );
  return (
    <div className="matrix-wrap">
      <table className="confusion" aria-label="Confusion matrix">
        <caption className="muted small">rows: true class, columns: predicted; click a cell to see its images</caption>
        <thead>
          <tr>
            <th scope="col">
              <span className="visually-hidden">true \ predicted</span>
            </th>
            {Array.from({ length: k }, (_, p) => (
              <th key={p} scope="col" title={CLASS_NAMES[p]}>
                {CLASS_NAMES[p]!.slice(0, 4)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {Array.from({ length: k }, (_, t) => (
            <tr key={t}>
              <th scope="row">{CLASS_NAMES[t]}</th>
              {Array.from({ length: k }, (_, p) => {
                const v = a.confusion[t * k + p]!;
                const share = rowSums[t]! > 0 ? v / rowSums[t]! : 0;
                const hue = t === p ? '142 70% 35%' : '0 75% 45%';
                const selected = filter?.trueClass === t && filter.predictedClass === p;
                return (
                  <td
                    key={p}
                    className={selected ? 'selected' : undefined}
                    style={{
                      background: v === 0 ? undefined : `hsl(${hue} / ${(0.12 + 0.75 * share).toFixed(3)})`,
                      color: share > 0.5 ? '#fff' : undefined,
                    }}
                    title={`${v} ${CLASS_NAMES[t]} image${v === 1 ? '' : 's'} predicted as ${CLASS_NAMES[p]}`}
                  >
                    <button
                      type="button"
                      className="cell"
                      disabled={v === 0}
                      onClick={() => onFilter(selected ? undefined : { trueClass: t, predictedClass: p })}
                    >
                      {v}
                    </button>
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function PredictionGrid({ inspection, filter, onClear }: { inspection: ModelInspection; filter?: CellFilter; onClear(): void }) {
  const testImages = useLab((s) => s.testImages);
  const [shown, setShown] = useState(PAGE);
  const [pixels, setPixels] = useState<Map<number, Uint8Array>>(() => new Map());
  const [failed, setFailed] = useState<string | undefined>();
  const items = useMemo(() => mistakesFirst(asAnalysis(inspection), { ...filter, order: 'confidence' }), [inspection, filter]);
  useEffect(() => setShown(PAGE), [items]);
  useEffect(() => setPixels(new Map()), [inspection]);
  const visible = items.slice(0, shown);
  const missing = visible.filter((it) => !pixels.has(it.index)).map((it) => it.index);
  const missingKey = missing.join(',');

  useEffect(() => {
    if (missing.length === 0) return;
    let cancelled = false;
    void (async () => {
      try {
        for (let i = 0; i < missing.length; i += 100) {
          const got = await testImages(missing.slice(i, i + 100));
          if (cancelled) return;
          setPixels((prev) => {
            const next = new Map(prev);
            got.indices.forEach((index, k) => next.set(index, got.pixels.subarray(k * 3072, (k + 1) * 3072)));
            return next;
          });
        }
      } catch (e) {
        if (!cancelled) setFailed(e instanceof Error ? e.message : String(e));
      }
    })();
    return () => {
      cancelled = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `missingKey` stands for `missing`
  }, [missingKey, testImages]);

  const wrong = items.filter((it) => !it.correct).length;
  return (
    <div className="grid-section">
      <div className="grid-head">
        <h3>Test images, most confident mistakes first</h3>
        <span className="muted small">
          {filter
            ? `${CLASS_NAMES[filter.trueClass]} predicted as ${CLASS_NAMES[filter.predictedClass]}: ${count(items.length)} images`
            : `${count(wrong)} mistakes of ${count(items.length)}`}
        </span>
        {filter && (
          <button type="button" onClick={onClear}>
            Show all
          </button>
        )}
      </div>
      {failed && (
        <p className="notice error" role="alert">
          {failed}
        </p>
      )}
      <ul className="image-grid" aria-label="Test images with predicted and true labels">
        {visible.map((it) => (
          <Tile key={it.index} item={it} pixels={pixels.get(it.index)} />
        ))}
      </ul>
      {items.length > shown && (
        <button type="button" onClick={() => setShown((n) => n + PAGE)}>
          Show {Math.min(PAGE, items.length - shown)} more
        </button>
      )}
    </div>
  );
}

function Tile({ item, pixels }: { item: GridItem; pixels?: Uint8Array }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = canvas.current?.getContext('2d');
    if (!ctx || !pixels) return;
    const rgba = testImageRGBA({ n: 1, images: pixels, labels: new Uint8Array(1) }, 0);
    ctx.putImageData(new ImageData(rgba as Uint8ClampedArray<ArrayBuffer>, 32, 32), 0, 0);
  }, [pixels]);
  const truth = CLASS_NAMES[item.label];
  const pred = CLASS_NAMES[item.predicted];
  return (
    <li className={`tile ${item.correct ? 'right' : 'wrong'}`} data-testid="grid-tile">
      <canvas ref={canvas} width={32} height={32} role="img" aria-label={`test image ${item.index}: ${truth}, predicted ${pred}`} />
      <div className="tile-text">
        <span className="pred" title="predicted (confidence)">
          {item.correct ? '✓' : '✗'} {pred} {Math.round(item.confidence * 100)}%
        </span>
        {!item.correct && <span className="truth">true: {truth}</span>}
      </div>
    </li>
  );
}
