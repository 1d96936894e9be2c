// The run history in IndexedDB (through the `idb` wrapper): every run's metadata, its loss and
// test-error series, its last two checkpoints and its final weights. No React and no DOM: it runs in
// the training worker, on the page, and in Node tests (fake-indexeddb). Schema in schema.ts.
//
// API (every method is async and throws StorageError subclasses from errors.ts):
//   openRunStore(name = DEFAULT_DB_NAME, options?) -> RunStore
//   store.createRun(init: NewRun) -> RunMeta
//   store.appendSteps(runId, points: readonly StepPoint[])      adds one chunk (call every ~100 steps)
//   store.appendEpoch(runId, e: EpochPoint)                     also updates bestTestError / bestEpoch
//   store.saveCheckpoint(runId, ckpt, info?) -> CheckpointRef   atomic; keeps this one and the one before
//   store.loadLatestCheckpoint(runId, which = 'latest') -> StoredCheckpoint | undefined
//   store.resumeFromCheckpoint(runId, seq) -> RunMeta           series cut back to the checkpoint, 'running'
//   store.setStatus(runId, status, details?) / renameRun(runId, name) / updateRun(runId, patch) -> RunMeta
//   store.markInterruptedOnStartup(options?) -> RunMeta[]        abandoned 'running'/'paused' -> 'interrupted'
//   store.saveFinalWeights(runId, weights, options?) / loadFinalWeights(runId)
//   store.importRun(run: ImportedRun) -> RunMeta                a whole run in one transaction (bundle-io.ts)
//   store.getMeta(runId) / getRun(runId) -> RunDetail (meta + whole series) / listRuns(options?)
//   store.deleteRun(runId) -> DeleteToken / undoDelete(token) / purgeDeleted(options?)
//   store.runSizes(options?) -> RunSize[] (largest first) / checkSpace(bytes, what?) -> SpaceReport
//   store.close()
//
// When to call what (the worker trains; the page lists and shows):
//   page, start-up:   openRunStore(); purgeDeleted(); markInterruptedOnStartup(); listRuns() for the
//                     Runs list (status 'interrupted' + a checkpoint -> offer Resume).
//   worker, new run:  createRun({config, backend, totalSteps, trainImages, evalLimit}); holdRunLock(id)
//                     (locks.ts) for as long as it trains or is paused; onEpoch -> appendEpoch; onStep ->
//                     buffer, appendSteps every ~100 steps; in `between`, at each epoch end and at least
//                     every 5 minutes: appendSteps(buffer), then saveCheckpoint(id, await
//                     trainer.checkpoint(), {elapsedMs}). Only checkpoint when every step up to
//                     trainer.iteration has been reported (always so at epoch ends; with readEvery > 1
//                     the trainer holds unread steps), or the resumed series has a gap.
//                     StorageQuotaError: tell the page (error.shortage lists what to delete), train on.
//   worker, end:      appendSteps(rest); saveFinalWeights(id, {format: 'safetensors', bytes},
//                     {dropCheckpoints: status is 'finished'}); setStatus(id, result.end,
//                     {finalTestError, divergedAt, imagesPerSec, elapsedMs}); release the lock.
//   pause / resume:   setStatus(id, 'paused') / setStatus(id, 'running'), keeping the lock.
//   worker, Resume:   holdRunLock(id); loadLatestCheckpoint(id) -> trainer.restore(ckpt.checkpoint)
//                     (CheckpointError: try loadLatestCheckpoint(id, 'previous')); then
//                     resumeFromCheckpoint(id, ckpt.seq) and train as above from step ckpt.step + 1.
//   page, worker died or device lost: setStatus(id, 'interrupted') (the lock went with the worker).
//   Runs list:        getRun(id) to re-plot; renameRun; deleteRun -> undo notice -> undoDelete(token),
//                     or purgeDeleted() when the notice closes; runSizes() for "what takes space".
//
// Atomicity: each method is one IndexedDB transaction. A write that fails (the browser's quota, a
// value that cannot be cloned, a closed connection) is aborted whole, so the store is as it was before
// the call; saveCheckpoint in particular never leaves the run without its previous checkpoint.

import { openDB, type IDBPDatabase, type IDBPTransaction } from 'idb';
import type { TrainerCheckpoint } from '../train/trainer.ts';
import {
  DatabaseBlockedError,
  DatabaseClosedError,
  DatabaseVersionError,
  RunNotFoundError,
  StorageError,
  StorageQuotaError,
  formatBytes,
} from './errors.ts';
import { heldRunIds } from './locks.ts';
import {
  ACTIVE_STATUSES,
  ALL_STORES,
  DB_VERSION,
  DEFAULT_DB_NAME,
  ENDED_STATUSES,
  RUN_STATUSES,
  upgradeSchema,
  type CheckpointRecord,
  type CheckpointRef,
  type DivergedAt,
  type EpochRecord,
  type FinalWeights,
  type RunDB,
  type RunMeta,
  type RunStatus,
  type RunStoreName,
  type StepChunk,
} from './schema.ts';
import { approxBytes, type RunSize } from './sizes.ts';
import { browserEstimate, withMargin, type EstimateFn } from './space.ts';

export interface OpenRunStoreOptions {
  /** Free-space estimate consulted before checkpoints and weights are written (default: navigator.storage.estimate). */
  estimate?: EstimateFn;
  /** Called once if the connection is closed under this store (a newer lab in another tab, the browser). */
  onClose?: (error: DatabaseClosedError) => void;
  /** Schema version to request. Tests only: a higher one plays a newer lab in another tab. */
  version?: number;
}

export interface NewRun {
  /** Shown in the runs list; default "ResNet-20 gcr sgd, seed 1" from the config. */
  name?: string;
  config: string;
  /** Default: the config's seed. */
  seed?: number;
  backend: string;
  startedAt?: number;
  status?: RunStatus;
  totalSteps?: number;
  trainImages?: number;
  maxSteps?: number;
  evalLimit?: number;
}

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

export interface StoredCheckpoint extends CheckpointRef {
  runId: string;
  checkpoint: TrainerCheckpoint;
}

export interface StatusDetails {
  endedAt?: number;
  finalTestError?: number;
  divergedAt?: DivergedAt;
  imagesPerSec?: number;
  elapsedMs?: number;
}

/** Fields updateRun may change. */
export type RunPatch = StatusDetails & { name?: string; status?: RunStatus; totalSteps?: number };

/** A whole finished (or stopped) run from elsewhere: a run bundle, another browser. */
export interface ImportedRun {
  run: NewRun & StatusDetails & { status: RunStatus; producer?: string };
  /** Columns of equal length, steps strictly increasing; missing optional columns are stored as NaN. */
  steps: Pick<StepSeries, 'step' | 'loss' | 'lr'> & Partial<Pick<StepSeries, 'epoch' | 'trainError' | 'ms'>>;
  epochs: readonly EpochPoint[];
  weights?: FinalWeights;
}

export interface DeleteToken {
  runId: string;
  deletedAt: number;
}

export type SpaceReport =
  | { ok: true; needed: number; available?: number }
  | { ok: false; needed: number; available: number; shortBy: number; largestRuns: RunSize[]; message: string };

const RUN_NAME_MAX = 200;
/** Steps per stored chunk when a whole run is imported. */
const IMPORT_CHUNK = 1000;

/** Opens (creating or upgrading) the run history. Throws DatabaseBlockedError, DatabaseVersionError, StorageError('unavailable'). */
export async function openRunStore(name: string = DEFAULT_DB_NAME, options: OpenRunStoreOptions = {}): Promise<RunStore> {
  if (typeof indexedDB === 'undefined') {
    throw new StorageError(
      'unavailable',
      'This browser context has no IndexedDB (some private-browsing modes remove it), so runs cannot be saved.',
      'Training still works; use a normal window to keep runs across reloads.',
    );
  }
  const version = options.version ?? DB_VERSION;
  let store: RunStore | undefined;
  return new Promise<RunStore>((resolve, reject) => {
    let settled = false;
    openDB<RunDB>(name, version, {
      upgrade: (db, oldVersion, newVersion, tx) => upgradeSchema(db, oldVersion, newVersion ?? version, tx),
      blocked: (currentVersion) => {
        if (settled) return;
        settled = true;
        reject(new DatabaseBlockedError(name, currentVersion, version));
      },
      blocking: () => store?.closeBecause('a newer version of the lab opened in another tab and needs to upgrade the run history'),
      terminated: () => store?.closeBecause('the browser closed it (site data cleared, or a disk error)'),
    }).then(
      (db) => {
        if (settled) {
          db.close(); // opened after we gave up waiting on the other tab
          return;
        }
        settled = true;
        store = new RunStore(db, name, options);
        resolve(store);
      },
      (e: unknown) => {
        if (settled) return;
        settled = true;
        reject(openError(name, e));
      },
    );
  });
}

function openError(name: string, e: unknown): Error {
  const errName = (e as { name?: string } | null)?.name;
  if (errName === 'VersionError') return new DatabaseVersionError(name, DB_VERSION, { cause: e });
  if (errName === 'QuotaExceededError') return new StorageQuotaError('the run history', { largestRuns: [] }, { cause: e });
  return new StorageError('unavailable', `Could not open the run history "${name}": ${String((e as Error)?.message ?? e)}.`, 'Reload the page; if it persists, the browser may block storage for this site.', {
    cause: e,
  });
}

function runRange(runId: string, from = -Infinity, to = Infinity): IDBKeyRange {
  return IDBKeyRange.bound([runId, from], [runId, to]);
}

function newRunId(now: number): string {
  const r = new Uint32Array(2);
  globalThis.crypto.getRandomValues(r);
  return `run-${now.toString(36)}-${r[0].toString(36)}${r[1].toString(36)}`;
}

/**
 * Reads a few keys of a share-URL query without the config module (which would pull tfjs into every
 * importer of the store); formatConfigQuery always writes every key.
 */
function configKeys(config: string): URLSearchParams {
  try {
    return new URLSearchParams(config.startsWith('?') ? config.slice(1) : config);
  } catch {
    return new URLSearchParams();
  }
}

function defaultName(config: string, seed: number): string {
  const q = configKeys(config);
  const parts = [q.get('depth') ? `ResNet-${q.get('depth')}` : 'ResNet', q.get('protocol'), q.get('solver')].filter(Boolean);
  return `${parts.join(' ')}, seed ${seed}`;
}

function configSeed(config: string): number {
  const seed = Number(configKeys(config).get('seed'));
  return Number.isFinite(seed) ? seed : 0;
}

/** Keeps every request promise of a transaction handled, so one failure leaves no unhandled rejections. */
class Requests {
  private readonly list: Promise<unknown>[] = [];
  add<T>(p: Promise<T>): Promise<T> {
    p.catch(() => {});
    this.list.push(p);
    return p;
  }
  all(): Promise<unknown[]> {
    return Promise.all(this.list);
  }
}

function isQuota(e: unknown): boolean {
  return (e as { name?: string } | null)?.name === 'QuotaExceededError';
}

function bestOf(epochs: readonly { epoch: number; testError: number }[]): { bestTestError?: number; bestEpoch?: number } {
  let best: { epoch: number; testError: number } | undefined;
  for (const e of epochs) if (Number.isFinite(e.testError) && (best === undefined || e.testError < best.testError)) best = e;
  return best ? { bestTestError: best.testError, bestEpoch: best.epoch } : {};
}

function assertFinite(what: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new StorageError('invalid', `${what} must be a finite number (got ${String(v)}).`, 'This is a bug in the caller; nothing was written.');
  }
}

export class RunStore {
  readonly name: string;
  private readonly db: IDBPDatabase<RunDB>;
  private readonly estimate: EstimateFn;
  private readonly onClose?: (error: DatabaseClosedError) => void;
  private closedError?: DatabaseClosedError;
  /** The last start time this store gave out: runs created in the same millisecond still list newest first. */
  private lastStartedAt = 0;

  constructor(db: IDBPDatabase<RunDB>, name: string, options: OpenRunStoreOptions) {
    this.db = db;
    this.name = name;
    this.estimate = options.estimate ?? browserEstimate;
    this.onClose = options.onClose;
  }

  /** Closes the connection; later calls throw DatabaseClosedError. */
  close(): void {
    if (!this.closedError) this.closedError = new DatabaseClosedError(this.name, 'this page closed it');
    this.db.close();
  }

  /** @internal Closes the connection for a reason outside this page (see openRunStore's callbacks). */
  closeBecause(why: string): void {
    if (this.closedError) return;
    this.closedError = new DatabaseClosedError(this.name, why);
    this.db.close();
    this.onClose?.(this.closedError);
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  // ---------------------------------------------------------------- runs

  async createRun(init: NewRun): Promise<RunMeta> {
    const meta = this.newMeta(init);
    await this.write(['runs'], 'the new run', async (tx) => {
      await tx.objectStore('runs').add(meta);
    });
    return meta;
  }

  private newMeta(init: NewRun): RunMeta {
    // Runs list by start time (newest first); two runs created in one millisecond (imports of a bundle)
    // would tie and list in the random order of their ids, so the store's own stamps always increase.
    const startedAt = init.startedAt ?? Math.max(Date.now(), this.lastStartedAt + 1);
    if (init.startedAt === undefined) this.lastStartedAt = startedAt;
    const seed = init.seed ?? configSeed(init.config);
    const meta: RunMeta = {
      id: newRunId(startedAt),
      name: init.name?.trim() ? this.checkName(init.name) : defaultName(init.config, seed),
      config: init.config,
      seed,
      backend: init.backend,
      startedAt,
      updatedAt: Date.now(),
      status: init.status ?? 'running',
      lastStep: 0,
      checkpoints: [],
      sizes: { series: 0, checkpoints: 0, weights: 0 },
    };
    for (const k of ['totalSteps', 'trainImages', 'maxSteps', 'evalLimit'] as const) if (init[k] !== undefined) meta[k] = init[k];
    return meta;
  }

  /** The run's metadata (soft-deleted runs included). */
  async getMeta(runId: string): Promise<RunMeta> {
    const meta = await this.conn().get('runs', runId).catch((e: unknown) => this.rethrowRead(e));
    if (!meta) throw new RunNotFoundError(runId);
    return meta;
  }

  /** Metadata and the whole series, read in one transaction (a consistent snapshot). */
  async getRun(runId: string): Promise<RunDetail> {
    const tx = this.conn().transaction(['runs', 'steps', 'epochs'], 'readonly');
    const reqs = new Requests();
    const meta = reqs.add(tx.objectStore('runs').get(runId));
    const chunks = reqs.add(tx.objectStore('steps').getAll(runRange(runId)));
    const epochs = reqs.add(tx.objectStore('epochs').getAll(runRange(runId)));
    reqs.add(tx.done);
    try {
      await reqs.all();
    } catch (e) {
      this.rethrowRead(e);
    }
    const m = await meta;
    if (!m) throw new RunNotFoundError(runId);
    const points = (await epochs).map(({ epoch, step, testError, evaluated }) => (evaluated === undefined ? { epoch, step, testError } : { epoch, step, testError, evaluated }));
    return { meta: m, steps: concatChunks(await chunks), epochs: points };
  }

  /** Runs newest first; soft-deleted ones only when asked. */
  async listRuns(options: { includeDeleted?: boolean } = {}): Promise<RunMeta[]> {
    const all = await this.conn().getAllFromIndex('runs', 'by-started').catch((e: unknown) => this.rethrowRead(e));
    return all.filter((r) => options.includeDeleted || r.deletedAt === undefined).reverse();
  }

  async renameRun(runId: string, name: string): Promise<RunMeta> {
    return this.updateRun(runId, { name });
  }

  /** Sets the status; finished/stopped/diverged also stamp endedAt (now unless given). */
  async setStatus(runId: string, status: RunStatus, details: StatusDetails = {}): Promise<RunMeta> {
    return this.updateRun(runId, { ...details, status });
  }

  /** Changes any of name, status, endedAt, finalTestError, divergedAt, imagesPerSec, elapsedMs, totalSteps. */
  async updateRun(runId: string, patch: RunPatch): Promise<RunMeta> {
    const name = patch.name === undefined ? undefined : this.checkName(patch.name);
    if (patch.status !== undefined && !RUN_STATUSES.includes(patch.status)) {
      throw new StorageError('invalid', `Unknown run status "${String(patch.status)}" (known: ${RUN_STATUSES.join(', ')}).`, 'Nothing was written.');
    }
    const now = Date.now();
    return this.write(['runs'], 'the run', async (tx) => {
      const meta = await this.metaIn(tx, runId);
      if (name !== undefined) meta.name = name;
      if (patch.status !== undefined) {
        meta.status = patch.status;
        if (ENDED_STATUSES.includes(patch.status)) meta.endedAt = patch.endedAt ?? now;
        else delete meta.endedAt;
        if (patch.status !== 'diverged') delete meta.divergedAt;
      } else if (patch.endedAt !== undefined) meta.endedAt = patch.endedAt;
      if (patch.finalTestError !== undefined) meta.finalTestError = patch.finalTestError;
      if (patch.divergedAt !== undefined) meta.divergedAt = { ...patch.divergedAt };
      if (patch.imagesPerSec !== undefined) meta.imagesPerSec = patch.imagesPerSec;
      if (patch.elapsedMs !== undefined) meta.elapsedMs = patch.elapsedMs;
      if (patch.totalSteps !== undefined) meta.totalSteps = patch.totalSteps;
      meta.updatedAt = now;
      await tx.objectStore('runs').put(meta);
      return meta;
    });
  }

  /**
   * Call once when the page (or worker) starts, before offering anything: runs left 'running' or
   * 'paused' by a tab that has gone (closed, crashed, reloaded) become 'interrupted', which the page
   * offers to resume. Runs whose Web Lock is still held (a worker in another tab trains them; see
   * locks.ts) are left alone; `liveRunIds` overrides the lock query. Returns the runs it changed.
   */
  async markInterruptedOnStartup(options: { liveRunIds?: Iterable<string> } = {}): Promise<RunMeta[]> {
    const live = options.liveRunIds ? new Set(options.liveRunIds) : ((await heldRunIds()) ?? new Set<string>());
    const now = Date.now();
    return this.write(['runs'], 'the interrupted runs', async (tx) => {
      const store = tx.objectStore('runs');
      const changed: RunMeta[] = [];
      const reqs = new Requests();
      for (const meta of await store.getAll()) {
        if (!ACTIVE_STATUSES.includes(meta.status) || live.has(meta.id)) continue;
        meta.status = 'interrupted';
        meta.updatedAt = now;
        reqs.add(store.put(meta));
        changed.push(meta);
      }
      await reqs.all();
      return changed;
    });
  }

  // ---------------------------------------------------------------- series

  /**
   * Appends steps (strictly increasing, after every step already stored) as one chunk. Existing chunks
   * are never rewritten, so appending costs the chunk, not the series. Buffer steps in the worker and
   * call this every 100 steps or so, and before saveCheckpoint.
   */
  async appendSteps(runId: string, points: readonly StepPoint[]): Promise<void> {
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
        throw new StorageError('invalid', `Steps must be positive integers in increasing order (got ${p.step} at position ${i}).`, 'Nothing was written.');
      }
      chunk.step[i] = p.step;
      chunk.loss[i] = p.loss;
      chunk.lr[i] = p.lr;
      chunk.trainError[i] = p.trainError ?? NaN;
      chunk.epoch[i] = p.epochFloat ?? NaN;
      chunk.ms[i] = p.ms ?? NaN;
    }
    const bytes = approxBytes(chunk);
    await this.write(['runs', 'steps'], `${n} steps of the series`, async (tx) => {
      const meta = await this.metaIn(tx, runId);
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
  async appendEpoch(runId: string, e: EpochPoint): Promise<void> {
    assertFinite('epoch', e.epoch);
    assertFinite('step', e.step);
    assertFinite('testError', e.testError);
    const rec: EpochRecord = { runId, epoch: e.epoch, step: e.step, testError: e.testError };
    if (e.evaluated !== undefined) rec.evaluated = e.evaluated;
    await this.write(['runs', 'epochs'], `the test error of epoch ${e.epoch}`, async (tx) => {
      const meta = await this.metaIn(tx, runId);
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

  // ---------------------------------------------------------------- checkpoints

  /**
   * Stores a checkpoint as the run's latest, keeps the one before it, and deletes any older, all in
   * one transaction: if any of it fails the run keeps exactly the checkpoints it had. When the free
   * space the browser reports is short, nothing is written and StorageQuotaError says what to delete
   * (training can go on; the previous checkpoint stays). Call appendSteps for the steps up to the
   * checkpoint first, so the series reaches it.
   */
  async saveCheckpoint(runId: string, checkpoint: TrainerCheckpoint, info: { elapsedMs?: number } = {}): Promise<CheckpointRef> {
    assertFinite('checkpoint iteration', checkpoint.iteration);
    const bytes = approxBytes(checkpoint);
    await this.ensureSpace(bytes, 'the checkpoint');
    const now = Date.now();
    return this.write(['runs', 'checkpoints'], `the checkpoint at step ${checkpoint.iteration}`, async (tx) => {
      const meta = await this.metaIn(tx, runId);
      const ref: CheckpointRef = { seq: (meta.checkpoints[0]?.seq ?? 0) + 1, step: checkpoint.iteration, savedAt: now, bytes };
      if (info.elapsedMs !== undefined) ref.elapsedMs = info.elapsedMs;
      const kept = [ref, ...meta.checkpoints].slice(0, 2);
      const dropped = meta.checkpoints.slice(1);
      meta.checkpoints = kept;
      meta.sizes.checkpoints = kept.reduce((s, c) => s + c.bytes, 0);
      if (info.elapsedMs !== undefined) meta.elapsedMs = info.elapsedMs;
      meta.updatedAt = now;
      const store = tx.objectStore('checkpoints');
      const reqs = new Requests();
      // The pointer and the pruning are queued before the payload, so a payload the browser refuses
      // (clone error, quota) aborts them too.
      reqs.add(tx.objectStore('runs').put(meta));
      for (const d of dropped) reqs.add(store.delete([runId, d.seq]));
      const record: CheckpointRecord = { runId, ...ref, checkpoint };
      reqs.add(store.put(record));
      await reqs.all();
      return ref;
    });
  }

  /** The run's latest checkpoint (or the one before it), or undefined if it has none. */
  async loadLatestCheckpoint(runId: string, which: 'latest' | 'previous' = 'latest'): Promise<StoredCheckpoint | undefined> {
    const tx = this.conn().transaction(['runs', 'checkpoints'], 'readonly');
    try {
      const meta = await tx.objectStore('runs').get(runId);
      if (!meta) throw new RunNotFoundError(runId);
      const ref = meta.checkpoints[which === 'latest' ? 0 : 1];
      const rec = ref && (await tx.objectStore('checkpoints').get([runId, ref.seq]));
      await tx.done;
      if (!rec) return undefined;
      const { runId: id, seq, step, savedAt, bytes, elapsedMs, checkpoint } = rec;
      return { runId: id, seq, step, savedAt, bytes, ...(elapsedMs === undefined ? {} : { elapsedMs }), checkpoint };
    } catch (e) {
      tx.done.catch(() => {});
      return this.rethrowRead(e);
    }
  }

  /**
   * Call after the trainer has restored checkpoint `seq` (so a checkpoint that fails to restore costs
   * nothing): cuts the series back to the checkpoint's step (those steps are trained again and
   * re-appended), drops any newer checkpoint, recomputes the best test error, and sets 'running'.
   */
  async resumeFromCheckpoint(runId: string, seq: number): Promise<RunMeta> {
    return this.write(['runs', 'steps', 'epochs', 'checkpoints'], 'the resumed run', async (tx) => {
      const meta = await this.metaIn(tx, runId);
      const at = meta.checkpoints.findIndex((c) => c.seq === seq);
      if (at < 0) {
        throw new StorageError('no-checkpoint', `Run "${meta.name}" has no checkpoint ${seq} (it has ${meta.checkpoints.map((c) => c.seq).join(', ') || 'none'}).`, 'Load the latest checkpoint again and resume from that.');
      }
      const ref = meta.checkpoints[at];
      const s = ref.step;
      const reqs = new Requests();
      // Steps after the checkpoint: whole chunks go, the chunk holding the checkpoint's step is trimmed.
      const steps = tx.objectStore('steps');
      let seriesBytes = 0;
      for (const c of await steps.getAll(runRange(runId))) {
        if (c.last <= s) {
          seriesBytes += approxBytes(c);
        } else if (c.first > s) {
          reqs.add(steps.delete([runId, c.first]));
        } else {
          const k = c.step.findIndex((v) => v > s);
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
          seriesBytes += approxBytes(cut);
          reqs.add(steps.put(cut));
        }
      }
      const epochs = tx.objectStore('epochs');
      const keptEpochs: EpochRecord[] = [];
      for (const e of await epochs.getAll(runRange(runId))) {
        if (e.step > s) reqs.add(epochs.delete([runId, e.step]));
        else {
          keptEpochs.push(e);
          seriesBytes += approxBytes(e);
        }
      }
      for (const newer of meta.checkpoints.slice(0, at)) reqs.add(tx.objectStore('checkpoints').delete([runId, newer.seq]));
      meta.checkpoints = meta.checkpoints.slice(at);
      meta.sizes.checkpoints = meta.checkpoints.reduce((sum, c) => sum + c.bytes, 0);
      meta.sizes.series = seriesBytes;
      meta.lastStep = Math.min(meta.lastStep, s);
      delete meta.bestTestError;
      delete meta.bestEpoch;
      Object.assign(meta, bestOf(keptEpochs));
      delete meta.finalTestError;
      delete meta.endedAt;
      delete meta.divergedAt;
      if (ref.elapsedMs !== undefined) meta.elapsedMs = ref.elapsedMs;
      meta.status = 'running';
      meta.updatedAt = Date.now();
      reqs.add(tx.objectStore('runs').put(meta));
      await reqs.all();
      return meta;
    });
  }

  /** Deletes the run's checkpoints (e.g. once a finished run's final weights are saved). */
  async dropCheckpoints(runId: string): Promise<void> {
    await this.write(['runs', 'checkpoints'], 'the run', async (tx) => {
      const meta = await this.metaIn(tx, runId);
      const reqs = new Requests();
      reqs.add(tx.objectStore('checkpoints').delete(runRange(runId)));
      meta.checkpoints = [];
      meta.sizes.checkpoints = 0;
      meta.updatedAt = Date.now();
      reqs.add(tx.objectStore('runs').put(meta));
      await reqs.all();
    });
  }

  // ---------------------------------------------------------------- final weights

  /** Stores the run's final weights (replacing earlier ones); dropCheckpoints: true also frees its checkpoints. */
  async saveFinalWeights(runId: string, weights: FinalWeights, options: { dropCheckpoints?: boolean } = {}): Promise<void> {
    const bytes = approxBytes(weights);
    await this.ensureSpace(bytes, 'the final weights');
    const now = Date.now();
    await this.write(['runs', 'weights', 'checkpoints'], 'the final weights', async (tx) => {
      const meta = await this.metaIn(tx, runId);
      meta.sizes.weights = bytes;
      meta.updatedAt = now;
      const reqs = new Requests();
      if (options.dropCheckpoints) {
        reqs.add(tx.objectStore('checkpoints').delete(runRange(runId)));
        meta.checkpoints = [];
        meta.sizes.checkpoints = 0;
      }
      reqs.add(tx.objectStore('runs').put(meta));
      reqs.add(tx.objectStore('weights').put({ runId, savedAt: now, bytes, weights }));
      await reqs.all();
    });
  }

  async loadFinalWeights(runId: string): Promise<FinalWeights | undefined> {
    const rec = await this.conn().get('weights', runId).catch((e: unknown) => this.rethrowRead(e));
    return rec?.weights;
  }

  // ---------------------------------------------------------------- import

  /**
   * Stores a whole run (meta, series in chunks of IMPORT_CHUNK steps, evaluations, weights) in one
   * transaction: all of it or nothing. A run that was 'running' or 'paused' where it came from is
   * stored as 'stopped' (it has no checkpoint here to resume from).
   */
  async importRun(imported: ImportedRun): Promise<RunMeta> {
    const { run, steps, epochs, weights } = imported;
    const n = steps.step.length;
    for (const k of ['loss', 'lr', 'epoch', 'trainError', 'ms'] as const) {
      const col = steps[k];
      if (col !== undefined && col.length !== n) {
        throw new StorageError('invalid', `The imported run's ${k} column has ${col.length} values for ${n} steps.`, 'Nothing was imported.');
      }
    }
    for (let i = 1; i < n; i++) {
      if (steps.step[i] <= steps.step[i - 1]) throw new StorageError('invalid', `The imported run's steps are not increasing at position ${i}.`, 'Nothing was imported.');
    }
    for (const e of epochs) {
      for (const k of ['epoch', 'step', 'testError'] as const) assertFinite(`imported evaluation ${k}`, e[k]);
    }
    const meta = this.newMeta({ ...run, status: ACTIVE_STATUSES.includes(run.status) ? 'stopped' : run.status });
    const chunks: StepChunk[] = [];
    for (let a = 0; a < n; a += IMPORT_CHUNK) {
      const b = Math.min(n, a + IMPORT_CHUNK);
      const nan = () => new Float64Array(b - a).fill(NaN);
      chunks.push({
        runId: meta.id,
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
    const records: EpochRecord[] = epochs.map((e) => ({ runId: meta.id, epoch: e.epoch, step: e.step, testError: e.testError, ...(e.evaluated === undefined ? {} : { evaluated: e.evaluated }) }));
    meta.lastStep = n ? steps.step[n - 1] : 0;
    meta.sizes.series = chunks.reduce((s, c) => s + approxBytes(c), 0) + records.reduce((s, r) => s + approxBytes(r), 0);
    meta.sizes.weights = weights ? approxBytes(weights) : 0;
    Object.assign(meta, bestOf(records));
    for (const k of ['endedAt', 'finalTestError', 'imagesPerSec', 'elapsedMs'] as const) if (run[k] !== undefined) meta[k] = run[k];
    if (run.divergedAt) meta.divergedAt = { ...run.divergedAt };
    if (meta.finalTestError === undefined && records.length) meta.finalTestError = records[records.length - 1].testError;
    if (run.producer !== undefined) meta.producer = run.producer;
    await this.ensureSpace(meta.sizes.series + meta.sizes.weights, `the imported run "${meta.name}"`);
    return this.write(['runs', 'steps', 'epochs', 'weights'], `the imported run "${meta.name}"`, async (tx) => {
      const reqs = new Requests();
      reqs.add(tx.objectStore('runs').add(meta));
      for (const c of chunks) reqs.add(tx.objectStore('steps').add(c));
      for (const r of records) reqs.add(tx.objectStore('epochs').put(r));
      if (weights) reqs.add(tx.objectStore('weights').put({ runId: meta.id, savedAt: meta.updatedAt, bytes: meta.sizes.weights, weights }));
      await reqs.all();
      return meta;
    });
  }

  // ---------------------------------------------------------------- delete, undo, purge

  /**
   * Hides the run (soft delete) and returns the token undoDelete takes. Its data stays until
   * purgeDeleted runs; a run being trained ('running' or 'paused') must be stopped first.
   */
  async deleteRun(runId: string): Promise<DeleteToken> {
    const now = Date.now();
    return this.write(['runs'], 'the deletion', async (tx) => {
      const meta = await this.metaIn(tx, runId);
      if (ACTIVE_STATUSES.includes(meta.status)) {
        throw new StorageError('run-busy', `Run "${meta.name}" is ${meta.status}.`, 'Stop it before deleting it.');
      }
      meta.deletedAt = now;
      await tx.objectStore('runs').put(meta);
      return { runId, deletedAt: now };
    });
  }

  /** Brings a soft-deleted run back (until purgeDeleted has removed it: then RunNotFoundError). */
  async undoDelete(token: DeleteToken): Promise<RunMeta> {
    return this.write(['runs'], 'the undo', async (tx) => {
      const meta = await this.metaIn(tx, token.runId);
      delete meta.deletedAt;
      await tx.objectStore('runs').put(meta);
      return meta;
    });
  }

  /**
   * Removes for good the runs soft-deleted at least `olderThanMs` ago (default 0: all of them), with
   * their series, checkpoints and weights. Call it when the undo notice closes, and at start-up.
   * Returns the purged ids.
   */
  async purgeDeleted(options: { olderThanMs?: number; now?: number } = {}): Promise<string[]> {
    const cutoff = (options.now ?? Date.now()) - (options.olderThanMs ?? 0);
    return this.write(ALL_STORES, 'the purge', async (tx) => {
      const purged: string[] = [];
      const reqs = new Requests();
      for (const meta of await tx.objectStore('runs').getAll()) {
        if (meta.deletedAt === undefined || meta.deletedAt > cutoff) continue;
        const range = runRange(meta.id);
        reqs.add(tx.objectStore('runs').delete(meta.id));
        reqs.add(tx.objectStore('weights').delete(meta.id));
        reqs.add(tx.objectStore('steps').delete(range));
        reqs.add(tx.objectStore('epochs').delete(range));
        reqs.add(tx.objectStore('checkpoints').delete(range));
        purged.push(meta.id);
      }
      await reqs.all();
      return purged;
    });
  }

  // ---------------------------------------------------------------- space

  /** Bytes stored per run, largest first (from the byte counts kept in each run's metadata). */
  async runSizes(options: { includeDeleted?: boolean } = { includeDeleted: true }): Promise<RunSize[]> {
    const runs = await this.listRuns(options);
    return runs
      .map((r) => ({
        id: r.id,
        name: r.name,
        deleted: r.deletedAt !== undefined,
        ...r.sizes,
        bytes: r.sizes.series + r.sizes.checkpoints + r.sizes.weights,
      }))
      .sort((a, b) => b.bytes - a.bytes);
  }

  /**
   * Whether `bytes` more (plus a margin: see space.ts) fit in what the browser grants. When they do
   * not, the report says how much is missing and lists the stored runs largest first, with a message
   * for the page. ok with available undefined where the browser gives no estimate.
   */
  async checkSpace(bytes: number, what = 'this data'): Promise<SpaceReport> {
    const needed = withMargin(bytes);
    const est = await this.estimate();
    if (!est) return { ok: true, needed };
    const available = Math.max(0, est.quota - est.usage);
    if (needed <= available) return { ok: true, needed, available };
    const largestRuns = await this.runSizes();
    const shortBy = needed - available;
    const err = new StorageQuotaError(what, { needed, available, shortBy, largestRuns });
    return { ok: false, needed, available, shortBy, largestRuns, message: err.message };
  }

  // ---------------------------------------------------------------- internals

  private conn(): IDBPDatabase<RunDB> {
    if (this.closedError) throw this.closedError;
    return this.db;
  }

  private checkName(name: string): string {
    const t = String(name).trim();
    if (!t) throw new StorageError('invalid', 'A run name cannot be blank.', 'Type a name; the old one is kept.');
    if (t.length > RUN_NAME_MAX) throw new StorageError('invalid', `A run name is at most ${RUN_NAME_MAX} characters (got ${t.length}).`, 'Shorten it; the old one is kept.');
    return t;
  }

  private async ensureSpace(bytes: number, what: string): Promise<void> {
    const report = await this.checkSpace(bytes, what);
    if (!report.ok) {
      const { needed, available, shortBy, largestRuns } = report;
      throw new StorageQuotaError(what, { needed, available, shortBy, largestRuns });
    }
  }

  private async metaIn(tx: IDBPTransaction<RunDB, RunStoreName[], 'readwrite'>, runId: string): Promise<RunMeta> {
    const meta = await tx.objectStore('runs').get(runId);
    if (!meta) throw new RunNotFoundError(runId);
    return meta;
  }

  /** Runs `fn` in one readwrite transaction; any failure aborts all of it and is reported as a StorageError. */
  private async write<T>(stores: RunStoreName[], what: string, fn: (tx: IDBPTransaction<RunDB, RunStoreName[], 'readwrite'>) => Promise<T>): Promise<T> {
    const tx = this.conn().transaction(stores, 'readwrite');
    let result: T;
    try {
      result = await fn(tx);
    } catch (e) {
      try {
        tx.abort();
      } catch {
        // already aborted by the failed request
      }
      const txError = await tx.done.then(() => undefined, (err: unknown) => err);
      throw await this.failure(what, e, tx.error ?? txError);
    }
    try {
      await tx.done;
    } catch (e) {
      throw await this.failure(what, tx.error ?? e, undefined);
    }
    return result;
  }

  private async failure(what: string, e: unknown, txError: unknown): Promise<Error> {
    if (isQuota(e) || isQuota(txError)) {
      const largestRuns = await this.runSizes().catch(() => []);
      return new StorageQuotaError(what, { largestRuns }, { cause: isQuota(e) ? e : txError });
    }
    if (e instanceof StorageError) return e;
    if (this.closedError) return this.closedError;
    const errName = (e as { name?: string } | null)?.name;
    const message = String((e as Error | null)?.message ?? e);
    if (errName === 'DataCloneError') {
      return new StorageError('write-failed', `Could not save ${what}: it holds a value IndexedDB cannot store (${message}).`, 'This is a bug in the lab; nothing of this write was kept.', { cause: e });
    }
    return new StorageError('write-failed', `Could not save ${what}: ${errName ?? 'Error'}: ${message}.`, 'Nothing of this write was kept; try again, or reload the page.', { cause: e });
  }

  private rethrowRead(e: unknown): never {
    if (e instanceof StorageError) throw e;
    if (this.closedError) throw this.closedError;
    throw new StorageError('read-failed', `Could not read the run history: ${String((e as Error | null)?.message ?? e)}.`, 'Reload the page.', { cause: e });
  }
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
    for (const k of ['step', 'epoch', 'loss', 'lr', 'trainError', 'ms'] as const) (out[k] as Float64Array).set(c[k], o);
    o += c.step.length;
  }
  return out;
}

export { formatBytes };
