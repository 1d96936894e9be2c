// The run history's one entry point: openRunStore() and the RunStore every caller uses (the worker
// writes runs as it trains them, the page lists and shows them). It only composes the parts: the
// connection in database.ts, and runs.ts, series.ts, checkpoints.ts and weights.ts. No React, no DOM:
// it runs in the worker, on the page and in Node tests. Which call to make when: docs/run-history.md.
// Every method is one IndexedDB transaction and throws the StorageError subclasses of errors.ts.

import type { TrainerCheckpoint } from '../train/trainer.ts';
import * as checkpoints from './checkpoints.ts';
import { openDatabase, type OpenRunStoreOptions, type RunDatabase, type SpaceReport } from './database.ts';
import * as runs from './runs.ts';
import { DEFAULT_DB_NAME, type CheckpointRef, type FinalWeights, type RunMeta, type RunStatus } from './schema.ts';
import * as series from './series.ts';
import type { RunSize } from './sizes.ts';
import * as weights from './weights.ts';

export type { OpenRunStoreOptions, SpaceReport } from './database.ts';
export type { DeleteToken, ImportedRun, NewRun, RunPatch, StatusDetails } from './runs.ts';
export type { EpochPoint, RunDetail, StepPoint, StepSeries } from './series.ts';
export type { StoredCheckpoint } from './checkpoints.ts';
export { formatBytes } from './errors.ts';

/** Opens (creating or upgrading) the run history. Throws DatabaseBlockedError, DatabaseVersionError, StorageError('unavailable'). */
export async function openRunStore(name: string = DEFAULT_DB_NAME, options: OpenRunStoreOptions = {}): Promise<RunStore> {
  return new RunStore(await openDatabase(name, options));
}

export class RunStore {
  private readonly db: RunDatabase;
  private readonly clock = new runs.StartClock();

  constructor(db: RunDatabase) {
    this.db = db;
  }

  get name(): string {
    return this.db.name;
  }

  get closed(): boolean {
    return this.db.closed;
  }

  /** Closes the connection; later calls throw DatabaseClosedError. */
  close(): void {
    this.db.close();
  }

  // Runs (runs.ts)
  createRun(init: runs.NewRun): Promise<RunMeta> {
    return runs.createRun(this.db, this.clock, init);
  }
  /** The run's metadata (soft-deleted runs included). */
  getMeta(runId: string): Promise<RunMeta> {
    return runs.getMeta(this.db, runId);
  }
  /** Runs newest first; soft-deleted ones only when asked. */
  listRuns(options?: { includeDeleted?: boolean }): Promise<RunMeta[]> {
    return runs.listRuns(this.db, options);
  }
  renameRun(runId: string, name: string): Promise<RunMeta> {
    return runs.updateRun(this.db, runId, { name });
  }
  /** Sets the status; finished/stopped/diverged also stamp endedAt (now unless given). */
  setStatus(runId: string, status: RunStatus, details: runs.StatusDetails = {}): Promise<RunMeta> {
    return runs.updateRun(this.db, runId, { ...details, status });
  }
  updateRun(runId: string, patch: runs.RunPatch): Promise<RunMeta> {
    return runs.updateRun(this.db, runId, patch);
  }
  /** Call once at start-up: abandoned 'running'/'paused' runs become 'interrupted' (see runs.ts). */
  markInterruptedOnStartup(options?: { liveRunIds?: Iterable<string> }): Promise<RunMeta[]> {
    return runs.markInterruptedOnStartup(this.db, options);
  }
  /** A whole run in one transaction (see bundleToImport). */
  importRun(imported: runs.ImportedRun): Promise<RunMeta> {
    return runs.importRun(this.db, this.clock, imported);
  }
  /** Soft delete; the token undoes it until purgeDeleted runs. */
  deleteRun(runId: string): Promise<runs.DeleteToken> {
    return runs.deleteRun(this.db, runId);
  }
  undoDelete(token: runs.DeleteToken): Promise<RunMeta> {
    return runs.undoDelete(this.db, token);
  }
  /** Call when the undo notice closes, and at start-up. Returns the purged ids. */
  purgeDeleted(options?: { olderThanMs?: number; now?: number }): Promise<string[]> {
    return runs.purgeDeleted(this.db, options);
  }

  // Series (series.ts)
  /** Adds one chunk of steps after those stored; call every ~100 steps and before saveCheckpoint. */
  appendSteps(runId: string, points: readonly series.StepPoint[]): Promise<void> {
    return series.appendSteps(this.db, runId, points);
  }
  /** Records one evaluation and updates bestTestError / bestEpoch. */
  appendEpoch(runId: string, e: series.EpochPoint): Promise<void> {
    return series.appendEpoch(this.db, runId, e);
  }
  /** Metadata and the whole series, in one transaction. */
  getRun(runId: string): Promise<series.RunDetail> {
    return series.getRun(this.db, runId);
  }

  // Checkpoints (checkpoints.ts)
  /** Atomic; keeps this checkpoint and the one before. Call appendSteps up to its step first. */
  saveCheckpoint(runId: string, checkpoint: TrainerCheckpoint, info?: { elapsedMs?: number }): Promise<CheckpointRef> {
    return checkpoints.saveCheckpoint(this.db, runId, checkpoint, info);
  }
  loadLatestCheckpoint(runId: string, which?: 'latest' | 'previous'): Promise<checkpoints.StoredCheckpoint | undefined> {
    return checkpoints.loadLatestCheckpoint(this.db, runId, which);
  }
  /** After the trainer restored checkpoint `seq`: the series is cut back to it and the run is 'running'. */
  resumeFromCheckpoint(runId: string, seq: number): Promise<RunMeta> {
    return checkpoints.resumeFromCheckpoint(this.db, runId, seq);
  }
  dropCheckpoints(runId: string): Promise<void> {
    return checkpoints.dropCheckpoints(this.db, runId);
  }

  // Final weights (weights.ts)
  saveFinalWeights(runId: string, w: FinalWeights, options?: { dropCheckpoints?: boolean }): Promise<void> {
    return weights.saveFinalWeights(this.db, runId, w, options);
  }
  loadFinalWeights(runId: string): Promise<FinalWeights | undefined> {
    return weights.loadFinalWeights(this.db, runId);
  }

  // Space (database.ts)
  /** Bytes stored per run, largest first. */
  runSizes(options?: { includeDeleted?: boolean }): Promise<RunSize[]> {
    return this.db.runSizes(options);
  }
  /** Whether `bytes` more fit; when not, how much is missing and which runs are largest. */
  checkSpace(bytes: number, what?: string): Promise<SpaceReport> {
    return this.db.checkSpace(bytes, what);
  }
}
