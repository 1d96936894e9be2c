// A run's series in the run history: the per-step loss, learning rate and training error (stored in
// chunks of typed-array columns, appended and never rewritten) and the test error per evaluation,
// with the run's best test error kept in its metadata. Not the run's status or name (runs.ts).

import { RunNotFoundError, StorageError } from './errors.ts';
import { Requests, assertFinite, runRange, type RunDatabase, type WriteTx } from './database.ts';
import type { EpochRecord, RunMeta, StepChunk } from './schema.ts';
import { approxBytes } from './sizes.ts';

/** One step of the series. The trainer's StepEvent fits as is (add `ms` for the training time). */
export interface StepPoint {
  step: number;
  loss: number;
  lr: number;
  trainError?: number;
  /** Fractional epochs (StepEvent.epochFloat). */
  epochFloat?: number;
  /** Training milliseconds since the run started (evaluations and pauses excluded). */
  ms?: number;
}

/** One evaluation. The trainer's EpochEvent fits as is. */
export interface EpochPoint {
  epoch: number;
  step: number;
  testError: number;
  /** Test images used (the page's evaluation limit, or the whole test set). */
  evaluated?: number;
}

/** The whole per-step series, as columns (what charts and run bundles want); NaN where a value was not given. */
export interface StepSeries {
  step: Uint32Array;
  epoch: Float64Array;
  loss: Float32Array;
  lr: Float64Array;
  trainError: Float32Array;
  ms: Float64Array;
}

export interface RunDetail {
  meta: RunMeta;
  steps: StepSeries;
  epochs: EpochPoint[];
}

/** Step columns to store: step, loss and lr required, the others NaN where missing. */
export type StepColumns = Pick<StepSeries, 'step' | 'loss' | 'lr'> & Partial<Pick<StepSeries, 'epoch' | 'trainError' | 'ms'>>;

const COLUMNS = ['step', 'epoch', 'loss', 'lr', 'trainError', 'ms'] as const;

/**
 * Appends steps (strictly increasing, after every step already stored) as one chunk. Existing chunks
 * are never rewritten, so appending costs the chunk, not the series.
 */
export async function appendSteps(db: RunDatabase, runId: string, points: readonly StepPoint[]): Promise<void> {
  if (points.length === 0) return;
  const n = points.length;
  const chunk: StepChunk = {
    runId,
    first: points[0].step,
    last: points[n - 1].step,
    step: new Uint32Array(n),
    loss: new Float32Array(n),
    epoch: new Float64Array(n),
    lr: new Float64Array(n),
    trainError: new Float32Array(n),
    ms: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const p = points[i];
    if (!Number.isInteger(p.step) || p.step < 1 || p.step > 0xffffffff || (i > 0 && p.step <= points[i - 1].step)) {
      throw new StorageError(
        'invalid',
        `Steps must be positive integers in increasing order (got ${p.step} at position ${i}).`,
        'Nothing was written.',
      );
    }
    chunk.step[i] = p.step;
    chunk.loss[i] = p.loss;
    chunk.lr[i] = p.lr;
    chunk.trainError[i] = p.trainError ?? NaN;
    chunk.epoch[i] = p.epochFloat ?? NaN;
    chunk.ms[i] = p.ms ?? NaN;
  }
  const bytes = approxBytes(chunk);
  await db.write(['runs', 'steps'], `${n} steps of the series`, async (tx) => {
    const meta = await db.metaIn(tx, runId);
    if (chunk.first <= meta.lastStep) {
      throw new StorageError(
        'invalid',
        `Steps ${chunk.first}..${chunk.last} do not follow the stored series, which ends at step ${meta.lastStep}.`,
        'After a resume, call resumeFromCheckpoint first (it cuts the series back to the checkpoint). Nothing was written.',
      );
    }
    meta.lastStep = chunk.last;
    meta.sizes.series += bytes;
    meta.updatedAt = Date.now();
    const reqs = new Requests();
    reqs.add(tx.objectStore('runs').put(meta));
    reqs.add(tx.objectStore('steps').add(chunk));
    await reqs.all();
  });
}

/** Records one evaluation (replacing one at the same step) and updates the run's best test error. */
export async function appendEpoch(db: RunDatabase, runId: string, e: EpochPoint): Promise<void> {
  assertFinite('epoch', e.epoch);
  assertFinite('step', e.step);
  assertFinite('testError', e.testError);
  const rec = epochRecord(runId, e);
  await db.write(['runs', 'epochs'], `the test error of epoch ${e.epoch}`, async (tx) => {
    const meta = await db.metaIn(tx, runId);
    const epochs = tx.objectStore('epochs');
    // At most a few hundred small records: recomputing the best from all of them stays cheap and
    // right when an evaluation is replaced.
    const stored = await epochs.getAll(runRange(runId));
    const all = stored.filter((x) => x.step !== e.step);
    const replaced = stored.find((x) => x.step === e.step);
    all.push(rec);
    meta.sizes.series += approxBytes(rec) - (replaced ? approxBytes(replaced) : 0);
    Object.assign(meta, bestOf(all));
    meta.updatedAt = Date.now();
    const reqs = new Requests();
    reqs.add(epochs.put(rec));
    reqs.add(tx.objectStore('runs').put(meta));
    await reqs.all();
  });
}

/** Metadata and the whole series, read in one transaction (a consistent snapshot). */
export async function getRun(db: RunDatabase, runId: string): Promise<RunDetail> {
  const tx = db.conn().transaction(['runs', 'steps', 'epochs'], 'readonly');
  const reqs = new Requests();
  const meta = reqs.add(tx.objectStore('runs').get(runId));
  const chunks = reqs.add(tx.objectStore('steps').getAll(runRange(runId)));
  const epochs = reqs.add(tx.objectStore('epochs').getAll(runRange(runId)));
  reqs.add(tx.done);
  try {
    await reqs.all();
  } catch (e) {
    db.rethrowRead(e);
  }
  const m = await meta;
  if (!m) throw new RunNotFoundError(runId);
  return { meta: m, steps: concatChunks(await chunks), epochs: (await epochs).map(epochPoint) };
}

/**
 * Inside a resume's transaction: deletes the steps and evaluations after `step` (whole chunks go, the
 * chunk holding `step` is trimmed). Returns the bytes of what is kept and the kept evaluations.
 */
export async function cutSeriesAfter(
  tx: WriteTx,
  reqs: Requests,
  runId: string,
  step: number,
): Promise<{ bytes: number; epochs: EpochRecord[] }> {
  const steps = tx.objectStore('steps');
  let bytes = 0;
  for (const c of await steps.getAll(runRange(runId))) {
    if (c.last <= step) {
      bytes += approxBytes(c);
    } else if (c.first > step) {
      reqs.add(steps.delete([runId, c.first]));
    } else {
      const k = c.step.findIndex((v) => v > step);
      const cut: StepChunk = {
        ...c,
        last: c.step[k - 1],
        step: c.step.slice(0, k),
        loss: c.loss.slice(0, k),
        epoch: c.epoch.slice(0, k),
        lr: c.lr.slice(0, k),
        trainError: c.trainError.slice(0, k),
        ms: c.ms.slice(0, k),
      };
      bytes += approxBytes(cut);
      reqs.add(steps.put(cut));
    }
  }
  const epochs = tx.objectStore('epochs');
  const kept: EpochRecord[] = [];
  for (const e of await epochs.getAll(runRange(runId))) {
    if (e.step > step) reqs.add(epochs.delete([runId, e.step]));
    else {
      kept.push(e);
      bytes += approxBytes(e);
    }
  }
  return { bytes, epochs: kept };
}

/** Checks imported columns: equal lengths, steps strictly increasing, finite evaluations. */
export function checkImportedSeries(steps: StepColumns, epochs: readonly EpochPoint[]): void {
  const n = steps.step.length;
  for (const k of ['loss', 'lr', 'epoch', 'trainError', 'ms'] as const) {
    const col = steps[k];
    if (col !== undefined && col.length !== n) {
      throw new StorageError('invalid', `The imported run's ${k} column has ${col.length} values for ${n} steps.`, 'Nothing was imported.');
    }
  }
  for (let i = 1; i < n; i++) {
    if (steps.step[i] <= steps.step[i - 1])
      throw new StorageError('invalid', `The imported run's steps are not increasing at position ${i}.`, 'Nothing was imported.');
  }
  for (const e of epochs) {
    for (const k of ['epoch', 'step', 'testError'] as const) assertFinite(`imported evaluation ${k}`, e[k]);
  }
}

/** Whole columns as stored chunks of at most `chunkSize` steps. */
export function columnsToChunks(runId: string, steps: StepColumns, chunkSize: number): StepChunk[] {
  const n = steps.step.length;
  const chunks: StepChunk[] = [];
  for (let a = 0; a < n; a += chunkSize) {
    const b = Math.min(n, a + chunkSize);
    const nan = () => new Float64Array(b - a).fill(NaN);
    chunks.push({
      runId,
      first: steps.step[a],
      last: steps.step[b - 1],
      step: Uint32Array.from(steps.step.subarray(a, b)),
      loss: Float32Array.from(steps.loss.subarray(a, b)),
      epoch: steps.epoch ? Float64Array.from(steps.epoch.subarray(a, b)) : nan(),
      lr: Float64Array.from(steps.lr.subarray(a, b)),
      trainError: steps.trainError ? Float32Array.from(steps.trainError.subarray(a, b)) : Float32Array.from(nan()),
      ms: steps.ms ? Float64Array.from(steps.ms.subarray(a, b)) : nan(),
    });
  }
  return chunks;
}

/** The lowest finite test error and its epoch, as RunMeta fields ({} when there is none). */
export function bestOf(epochs: readonly { epoch: number; testError: number }[]): { bestTestError?: number; bestEpoch?: number } {
  let best: { epoch: number; testError: number } | undefined;
  for (const e of epochs) if (Number.isFinite(e.testError) && (best === undefined || e.testError < best.testError)) best = e;
  return best ? { bestTestError: best.testError, bestEpoch: best.epoch } : {};
}

/** An evaluation as a stored record of run `runId`. */
export function epochRecord(runId: string, e: EpochPoint): EpochRecord {
  return { runId, epoch: e.epoch, step: e.step, testError: e.testError, ...(e.evaluated === undefined ? {} : { evaluated: e.evaluated }) };
}

function epochPoint({ epoch, step, testError, evaluated }: EpochRecord): EpochPoint {
  return evaluated === undefined ? { epoch, step, testError } : { epoch, step, testError, evaluated };
}

/** Joins chunks (in key order, so step order) into columns. */
function concatChunks(chunks: StepChunk[]): StepSeries {
  const n = chunks.reduce((s, c) => s + c.step.length, 0);
  const out: StepSeries = {
    step: new Uint32Array(n),
    epoch: new Float64Array(n),
    loss: new Float32Array(n),
    lr: new Float64Array(n),
    trainError: new Float32Array(n),
    ms: new Float64Array(n),
  };
  let o = 0;
  for (const c of chunks) {
    for (const k of COLUMNS) (out[k] as Float64Array).set(c[k], o);
    o += c.step.length;
  }
  return out;
}
