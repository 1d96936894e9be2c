// The IndexedDB schema of the run history: record types, object stores, and the upgrade ladder.
// Stores (keys in brackets):
//   runs        [id]               RunMeta: what the runs list shows, the checkpoint pointer, byte counts
//   steps       [runId, first]     StepChunk: the per-step series in chunks (columns of typed arrays);
//                                  appending adds a chunk, it never rewrites the series
//   epochs      [runId, step]      EpochRecord: one test error per evaluation (epoch 0 at step 0)
//   checkpoints [runId, seq]       CheckpointRecord: at most two per run (the latest and the one before);
//                                  RunMeta.checkpoints says which, and is updated in the same transaction
//   weights     [runId]            WeightsRecord: the run's final weights
// What it is not: reading and writing records (database.ts, runs.ts, series.ts, checkpoints.ts).

import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb';
import type { WeightValues } from '../model/weights.ts';
import type { TrainerCheckpoint } from '../train/trainer.ts';
import type { RunStatus } from './run-status.ts';

export type { RunStatus } from './run-status.ts';

export const DEFAULT_DB_NAME = 'resnet-lab-runs';

export interface DivergedAt {
  step: number;
  lr: number;
  loss: number;
}

/** Where a stored checkpoint is and what it holds, without its (large) payload. */
export interface CheckpointRef {
  /** Per-run sequence number, 1 for the first checkpoint of a run. */
  seq: number;
  /** Training steps done when it was taken (TrainerCheckpoint.iteration). */
  step: number;
  savedAt: number;
  bytes: number;
  /** Training time up to this checkpoint (ms), if the caller gave it: keeps elapsed time across resumes. */
  elapsedMs?: number;
}

export interface RunMeta {
  id: string;
  name: string;
  /** Share-URL query of the configuration (formatConfigQuery); storage reads it only in stored-config.ts. */
  config: string;
  seed: number;
  /** tfjs backend the run trained on ('wasm', 'webgl', 'webgpu', 'cpu'). */
  backend: string;
  startedAt: number;
  /** Set when the run finished, was stopped or diverged. */
  endedAt?: number;
  /** Last write of any kind (meta, series, checkpoint). */
  updatedAt: number;
  status: RunStatus;
  divergedAt?: DivergedAt;
  /** Test error (fraction) at the end of the run: the number the papers report. */
  finalTestError?: number;
  /** Lowest test error of any evaluation so far, and the epoch it was at. */
  bestTestError?: number;
  bestEpoch?: number;
  imagesPerSec?: number;
  /** Training time so far (ms), as the worker last reported it. */
  elapsedMs?: number;
  /** Iterations the run will take in all, for progress bars (optional). */
  totalSteps?: number;
  /** Training images per epoch (50,000 for CIFAR-10, fewer for the demo sample); bundles need it. */
  trainImages?: number;
  /** The run is cut at this many steps (the page's run options, the CLI's --max-steps). */
  maxSteps?: number;
  /** Test images per evaluation when not the whole test set. */
  evalLimit?: number;
  /** Last step stored in the series (0 before any). */
  lastStep: number;
  /** Stored checkpoints, newest first (at most two). */
  checkpoints: CheckpointRef[];
  /** Bytes stored per part (see sizes.ts). */
  sizes: { series: number; checkpoints: number; weights: number };
  /** What produced an imported run (a run bundle's producer, e.g. "resnet-lab cli"). */
  producer?: string;
  /** Soft delete: hidden from listRuns, purged later by purgeDeleted (undoDelete restores it). */
  deletedAt?: number;
}

/** One chunk of the per-step series; the arrays have equal length, steps strictly increasing. */
export interface StepChunk {
  runId: string;
  first: number;
  last: number;
  step: Uint32Array;
  loss: Float32Array;
  /** Fractional epochs (the trainer's epochFloat); NaN where the caller gave none. */
  epoch: Float64Array;
  /** Learning rates are doubles (0.1 is not a float32); kept exact. */
  lr: Float64Array;
  /** Training-batch error; NaN where the caller gave none. */
  trainError: Float32Array;
  /** Training milliseconds since the run started; NaN where the caller gave none. */
  ms: Float64Array;
}

export interface EpochRecord {
  runId: string;
  /** Completed epochs (fractional for a final evaluation inside an epoch, as the trainer reports it). */
  epoch: number;
  step: number;
  testError: number;
  /** Test images used, if the caller said. */
  evaluated?: number;
}

export interface CheckpointRecord extends CheckpointRef {
  runId: string;
  checkpoint: TrainerCheckpoint;
}

/** A run's final weights, in either form the lab reads (src/model/weights.ts). */
export type FinalWeights = { format: 'safetensors'; bytes: Uint8Array } | { format: 'values'; values: WeightValues; steps: number };

export interface WeightsRecord {
  runId: string;
  savedAt: number;
  bytes: number;
  weights: FinalWeights;
}

export interface RunDB extends DBSchema {
  runs: { key: string; value: RunMeta; indexes: { 'by-started': number } };
  steps: { key: [string, number]; value: StepChunk };
  epochs: { key: [string, number]; value: EpochRecord };
  checkpoints: { key: [string, number]; value: CheckpointRecord };
  weights: { key: string; value: WeightsRecord };
}

export type RunStoreName = StoreNames<RunDB>;
export const ALL_STORES: RunStoreName[] = ['runs', 'steps', 'epochs', 'checkpoints', 'weights'];

type Migration = (db: IDBPDatabase<RunDB>, tx: IDBPTransaction<RunDB, RunStoreName[], 'versionchange'>) => void;

// MIGRATIONS[i] upgrades a database from version i to i + 1, so a database at any older version is
// brought forward step by step, inside the browser's upgrade transaction (all or nothing). Add a
// version by appending a migration; never edit one that has shipped.
const MIGRATIONS: Migration[] = [
  // 0 -> 1: the first schema.
  (db) => {
    const runs = db.createObjectStore('runs', { keyPath: 'id' });
    runs.createIndex('by-started', 'startedAt');
    db.createObjectStore('steps', { keyPath: ['runId', 'first'] });
    db.createObjectStore('epochs', { keyPath: ['runId', 'step'] });
    db.createObjectStore('checkpoints', { keyPath: ['runId', 'seq'] });
    db.createObjectStore('weights', { keyPath: 'runId' });
  },
];

/** The schema version this code writes and reads. */
export const DB_VERSION = MIGRATIONS.length;

/** Runs the migrations from oldVersion up to newVersion (those this code knows). */
export function upgradeSchema(
  db: IDBPDatabase<RunDB>,
  oldVersion: number,
  newVersion: number,
  tx: IDBPTransaction<RunDB, RunStoreName[], 'versionchange'>,
): void {
  for (let v = oldVersion; v < Math.min(newVersion, MIGRATIONS.length); v++) MIGRATIONS[v](db, tx);
}
