// Runs in the run history: creating one, its name and status, listing, runs abandoned by a closed
// tab, soft delete with undo and purge, and importing a whole run from elsewhere. Not the series
// (series.ts), the checkpoints (checkpoints.ts) or the weights (weights.ts) themselves.

import { RunNotFoundError, StorageError } from './errors.ts';
import { Requests, runRange, type RunDatabase } from './database.ts';
import { heldRunIds } from './locks.ts';
import { ACTIVE_STATUSES, ENDED_STATUSES, RUN_STATUSES } from './run-status.ts';
import { ALL_STORES, type DivergedAt, type FinalWeights, type RunMeta, type RunStatus } from './schema.ts';
import { bestOf, checkImportedSeries, columnsToChunks, epochRecord, type EpochPoint, type StepColumns } from './series.ts';
import { approxBytes } from './sizes.ts';
import { readStoredConfig, type StoredConfigFields } from './stored-config.ts';

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
  steps: StepColumns;
  epochs: readonly EpochPoint[];
  weights?: FinalWeights;
}

export interface DeleteToken {
  runId: string;
  deletedAt: number;
}

const RUN_NAME_MAX = 200;
/** Steps per stored chunk when a whole run is imported. */
const IMPORT_CHUNK = 1000;

/**
 * Start times for the runs one store creates. Runs list by start time (newest first); two runs created
 * in one millisecond (imports of a bundle) would tie and list in the random order of their ids, so
 * the store's own stamps always increase.
 */
export class StartClock {
  private last = 0;
  next(): number {
    this.last = Math.max(Date.now(), this.last + 1);
    return this.last;
  }
}

export async function createRun(db: RunDatabase, clock: StartClock, init: NewRun): Promise<RunMeta> {
  const meta = newMeta(clock, init);
  await db.write(['runs'], 'the new run', async (tx) => {
    await tx.objectStore('runs').add(meta);
  });
  return meta;
}

/** The run's metadata (soft-deleted runs included). */
export async function getMeta(db: RunDatabase, runId: string): Promise<RunMeta> {
  const meta = await db
    .conn()
    .get('runs', runId)
    .catch((e: unknown) => db.rethrowRead(e));
  if (!meta) throw new RunNotFoundError(runId);
  return meta;
}

/** Runs newest first; soft-deleted ones only when asked. */
export async function listRuns(db: RunDatabase, options: { includeDeleted?: boolean } = {}): Promise<RunMeta[]> {
  return (await db.allRuns()).filter((r) => options.includeDeleted || r.deletedAt === undefined);
}

/** Changes any of name, status, endedAt, finalTestError, divergedAt, imagesPerSec, elapsedMs, totalSteps. */
export async function updateRun(db: RunDatabase, runId: string, patch: RunPatch): Promise<RunMeta> {
  const name = patch.name === undefined ? undefined : checkName(patch.name);
  if (patch.status !== undefined && !RUN_STATUSES.includes(patch.status)) {
    throw new StorageError(
      'invalid',
      `Unknown run status "${String(patch.status)}" (known: ${RUN_STATUSES.join(', ')}).`,
      'Nothing was written.',
    );
  }
  const now = Date.now();
  return db.write(['runs'], 'the run', async (tx) => {
    const meta = await db.metaIn(tx, runId);
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
 * Runs left 'running' or 'paused' by a tab that has gone become 'interrupted', except those whose Web
 * Lock is still held (locks.ts); `liveRunIds` overrides the lock query. Returns the runs it changed.
 */
export async function markInterruptedOnStartup(db: RunDatabase, options: { liveRunIds?: Iterable<string> } = {}): Promise<RunMeta[]> {
  const live = options.liveRunIds ? new Set(options.liveRunIds) : ((await heldRunIds()) ?? new Set<string>());
  const now = Date.now();
  return db.write(['runs'], 'the interrupted runs', async (tx) => {
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

/** Hides the run (soft delete); its data stays until purgeDeleted. A run being trained must be stopped first. */
export async function deleteRun(db: RunDatabase, runId: string): Promise<DeleteToken> {
  const now = Date.now();
  return db.write(['runs'], 'the deletion', async (tx) => {
    const meta = await db.metaIn(tx, runId);
    if (ACTIVE_STATUSES.includes(meta.status)) {
      throw new StorageError('run-busy', `Run "${meta.name}" is ${meta.status}.`, 'Stop it before deleting it.');
    }
    meta.deletedAt = now;
    await tx.objectStore('runs').put(meta);
    return { runId, deletedAt: now };
  });
}

/** Brings a soft-deleted run back (until purgeDeleted has removed it: then RunNotFoundError). */
export async function undoDelete(db: RunDatabase, token: DeleteToken): Promise<RunMeta> {
  return db.write(['runs'], 'the undo', async (tx) => {
    const meta = await db.metaIn(tx, token.runId);
    delete meta.deletedAt;
    await tx.objectStore('runs').put(meta);
    return meta;
  });
}

/** Removes for good the runs soft-deleted at least `olderThanMs` ago, with every record of theirs. Returns their ids. */
export async function purgeDeleted(db: RunDatabase, options: { olderThanMs?: number; now?: number } = {}): Promise<string[]> {
  const cutoff = (options.now ?? Date.now()) - (options.olderThanMs ?? 0);
  return db.write(ALL_STORES, 'the purge', async (tx) => {
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

/**
 * Stores a whole run (meta, series in chunks of IMPORT_CHUNK steps, evaluations, weights) in one
 * transaction: all of it or nothing. A run that was 'running' or 'paused' where it came from is
 * stored as 'stopped' (it has no checkpoint here to resume from).
 */
export async function importRun(db: RunDatabase, clock: StartClock, imported: ImportedRun): Promise<RunMeta> {
  const { run, steps, epochs, weights } = imported;
  checkImportedSeries(steps, epochs);
  const n = steps.step.length;
  const meta = newMeta(clock, { ...run, status: ACTIVE_STATUSES.includes(run.status) ? 'stopped' : run.status });
  const chunks = columnsToChunks(meta.id, steps, IMPORT_CHUNK);
  const records = epochs.map((e) => epochRecord(meta.id, e));
  meta.lastStep = n ? steps.step[n - 1] : 0;
  meta.sizes.series = chunks.reduce((s, c) => s + approxBytes(c), 0) + records.reduce((s, r) => s + approxBytes(r), 0);
  meta.sizes.weights = weights ? approxBytes(weights) : 0;
  Object.assign(meta, bestOf(records));
  for (const k of ['endedAt', 'finalTestError', 'imagesPerSec', 'elapsedMs'] as const) if (run[k] !== undefined) meta[k] = run[k];
  if (run.divergedAt) meta.divergedAt = { ...run.divergedAt };
  if (meta.finalTestError === undefined && records.length) meta.finalTestError = records[records.length - 1].testError;
  if (run.producer !== undefined) meta.producer = run.producer;
  await db.ensureSpace(meta.sizes.series + meta.sizes.weights, `the imported run "${meta.name}"`);
  return db.write(['runs', 'steps', 'epochs', 'weights'], `the imported run "${meta.name}"`, async (tx) => {
    const reqs = new Requests();
    reqs.add(tx.objectStore('runs').add(meta));
    for (const c of chunks) reqs.add(tx.objectStore('steps').add(c));
    for (const r of records) reqs.add(tx.objectStore('epochs').put(r));
    if (weights) reqs.add(tx.objectStore('weights').put({ runId: meta.id, savedAt: meta.updatedAt, bytes: meta.sizes.weights, weights }));
    await reqs.all();
    return meta;
  });
}

/** A blank or overlong name throws StorageError('invalid'); returns the name trimmed. */
export function checkName(name: string): string {
  const t = String(name).trim();
  if (!t) throw new StorageError('invalid', 'A run name cannot be blank.', 'Type a name; the old one is kept.');
  if (t.length > RUN_NAME_MAX)
    throw new StorageError(
      'invalid',
      `A run name is at most ${RUN_NAME_MAX} characters (got ${t.length}).`,
      'Shorten it; the old one is kept.',
    );
  return t;
}

function newMeta(clock: StartClock, init: NewRun): RunMeta {
  const startedAt = init.startedAt ?? clock.next();
  const fields = readStoredConfig(init.config);
  const seed = init.seed ?? fields.seed ?? 0;
  const meta: RunMeta = {
    id: newRunId(startedAt),
    name: init.name?.trim() ? checkName(init.name) : defaultName(fields, seed),
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

function defaultName(fields: StoredConfigFields, seed: number): string {
  const parts = [fields.depth ? `ResNet-${fields.depth}` : 'ResNet', fields.protocol, fields.solver].filter(Boolean);
  return `${parts.join(' ')}, seed ${seed}`;
}

function newRunId(now: number): string {
  const r = new Uint32Array(2);
  globalThis.crypto.getRandomValues(r);
  return `run-${now.toString(36)}-${r[0].toString(36)}${r[1].toString(36)}`;
}
