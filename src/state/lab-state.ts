// The shape of the page's store (src/state/store.ts): every slice's state and actions as types, and
// the record of the run on screen. Types only: the slices' code is in store.ts, runs-slice.ts,
// queue-slice.ts, compare-slice.ts and workbench.ts, which all import their shape from here.

import type { RunClaim } from '../experiment/claim.ts';
import type { ConfigIssue, ConfigKey, ExperimentConfig } from '../experiment/config.ts';
import type { ProtocolName } from '../experiment/protocols.ts';
import type { DeleteToken, RunDetail, RunStore } from '../storage/run-store.ts';
import type { RunMeta } from '../storage/schema.ts';
import type {
  BackendChoice,
  BackendInfo,
  BackendName,
  DataInfo,
  DataSource,
  DataStage,
  EpochPoint,
  ErrorScope,
  InspectStage,
  LoadedWeights,
  ModelInspection,
  RunOptions,
  RunSummary,
  StepPoint,
  StoredRunSize,
  TestImages,
  WeightFiles,
} from '../worker/protocol.ts';
import type { DecodedBundle } from './bundle.ts';
import type { LossSmoother, XAxis } from './curves.ts';
import type { QueueItem } from './queue.ts';
import type { ReferenceRow } from './references.ts';
import type { ExportFile } from './run-export.ts';
import type { StoreApi } from 'zustand/vanilla';

/** Everything one run produced, step by step. Mutated in place; `revision` in the store says when. */
export interface RunRecord {
  runId: number;
  config: ExperimentConfig;
  totalSteps: number;
  stepsPerEpoch: number;
  batch: number;
  backend: BackendName;
  steps: StepPoint[];
  /** Smoothed loss, one per step. */
  smoothed: number[];
  epochs: EpochPoint[];
  smoother: LossSmoother;
}

export type RunPhase = 'idle' | 'starting' | 'running' | 'paused' | 'ended';

export interface ConfigSlice {
  config: ExperimentConfig;
  /** Problems found in the URL the page was opened with (shown until dismissed). */
  urlIssues: ConfigIssue[];
  setField<K extends ConfigKey>(key: K, value: ExperimentConfig[K]): void;
  setProtocol(protocol: ProtocolName): void;
  setConfig(config: ExperimentConfig): void;
  dismissUrlIssues(): void;
}

export interface EngineSlice {
  backendChoice: BackendChoice;
  backend?: BackendInfo;
  backendBusy: boolean;
  backendProbe?: string;
  data?: DataInfo;
  dataBusy: boolean;
  dataProgress?: { stage: DataStage; file: string; fraction: number };
  errors: Partial<Record<ErrorScope, string>>;
  /**
   * `remembered`: this browser's earlier automatic choices (or the one in use), one of which is used
   * instead of measuring again when it was measured on this device for the experiment's depth and batch.
   */
  chooseBackend(choice: BackendChoice, remembered?: BackendInfo | readonly BackendInfo[]): Promise<void>;
  loadData(source: DataSource): Promise<void>;
  clearError(scope: ErrorScope): void;
}

export interface RunSlice {
  phase: RunPhase;
  record?: RunRecord;
  summary?: RunSummary;
  /** Bumped when the record changed (at most every RENDER_INTERVAL_MS). */
  revision: number;
  runOptions: RunOptions;
  setRunOptions(options: RunOptions): void;
  train(): Promise<void>;
  pause(): void;
  resume(): void;
  stop(): void;
}

export interface WeightsSlice {
  weightsBusy: boolean;
  /** Files ready to save, from the last "Download weights". */
  weightFiles?: WeightFiles;
  loaded?: LoadedWeights;
  evalProgress?: { purpose: 'epoch' | 'weights'; done: number; total: number };
  /** A line to show after loading weights selected another architecture. */
  weightsNotice?: string;
  prepareWeights(): Promise<void>;
  loadWeights(files: File[]): Promise<void>;
}

export type LabState = ConfigSlice & EngineSlice & RunSlice & WeightsSlice & WorkbenchSlice & RunsSlice & QueueSlice & CompareSlice;

export type LabStore = StoreApi<LabState>;

export interface RunsSlice {
  /** Stored runs, newest first (soft-deleted ones hidden). */
  runs: RunMeta[];
  /** 'loading' until the history is open; 'off' when it cannot be (the reason in runsError). */
  runsState: 'loading' | 'ready' | 'off';
  runsError?: string;
  /** The stored run shown in the charts instead of a live one. */
  shownRun?: RunMeta;
  /** The history id of the run the worker trains (or trained last). */
  liveStoredId?: string;
  /** The last checkpoint the worker stored for the live run. */
  lastCheckpoint?: { storedId: string; step: number; at: number; tensors?: number };
  /** The last storage write that failed (training goes on), with the largest stored runs. */
  storageProblem?: { message: string; largestRuns: StoredRunSize[] };
  /** What happened to the run, in a sentence (worker died, device lost, background throttling). */
  runNotice?: { kind: 'interrupted' | 'throttled' | 'info'; message: string };
  /** The last deletion, for Undo (until the notice is closed). */
  undo?: { token: DeleteToken; name: string };

  refreshRuns(): Promise<void>;
  /**
   * Runs `work` on the open run history (IndexedDB) and lists the runs again afterwards; undefined when
   * runs are not saved here. Errors from `work` are thrown to the caller (nothing is set here).
   */
  withHistory<T>(work: (store: RunStore) => Promise<T>): Promise<T | undefined>;
  openRun(storedId: string): Promise<void>;
  renameRun(storedId: string, name: string): Promise<void>;
  deleteRun(storedId: string): Promise<void>;
  undoDelete(): Promise<void>;
  /** Closes the undo notice and removes deleted runs for good. */
  forgetDeleted(): Promise<void>;
  /** Continue a stored run from its last checkpoint in the worker. */
  resumeRun(storedId: string): Promise<void>;
  dismissStorageProblem(): void;
  dismissRunNotice(): void;
  /** The page's tab was hidden / shown again (document.visibilityState). */
  tabHidden(): void;
  tabVisible(): void;
}

export type QueueNoticeKind = 'unreadable' | 'interrupted' | 'paused' | 'stopped' | 'error';

export interface QueueSlice {
  queueItems: QueueItem[];
  /** The user started the queue (and has not paused it); it may be waiting for a run to end. */
  queueRunning: boolean;
  /** What the queue must tell the user (interrupted at an item, an unreadable saved queue, ...). */
  queueNotice?: { kind: QueueNoticeKind; message: string };
  /** The last save failed (storage full, ...): the queue goes on in memory. */
  queueSaveError?: string;
  /** An unreadable saved queue could not be kept aside: nothing is saved until it is discarded. */
  queueBlocked: boolean;

  /** Adds items at the end (at most MAX_QUEUE_ITEMS in all). */
  queueAdd(items: QueueItem[]): void;
  /** The current configuration with the current run options. */
  queueAddCurrent(): void;
  /** `n` seeds of the current configuration, from the current seed upward. */
  queueAddSeeds(n: number): void;
  /** Every row of a published table (REFERENCE_TABLES id), as its "Run this" selects it, with the current seed. */
  queueAddTable(tableId: string): void;
  /** Start, or continue after a pause, a Stop or an interruption. */
  queueStart(): void;
  /** The current run finishes; the next does not start. */
  queuePause(): void;
  queueRemove(id: string): void;
  queueMove(id: string, by: -1 | 1): void;
  /** Puts a stopped, failed, diverged or interrupted item back in line, to train from scratch. */
  queueRetry(id: string): void;
  /** Removes done, stopped, diverged and failed items. */
  queueClearFinished(): void;
  dismissQueueNotice(): void;
  /** Deletes an unreadable saved queue that could not be kept aside, so this one can be saved. */
  queueDiscardUnreadable(): void;
}

export interface CompareSlice {
  /** Stored run ids selected for comparison, in the order they were selected. */
  compareIds: readonly string[];
  /** The pinned baseline (one of compareIds); the first selected when unset. */
  compareBaseline?: string;
  compareAxis: XAxis;
  /** Weight of the moving average over each run's full loss series (0: raw). */
  compareSmoothing: number;
  /** Loaded runs (series and evaluations) by id; the charts draw those that are selected. */
  compareDetails: Readonly<Record<string, RunDetail>>;
  /** Ids being loaded now. */
  compareLoading: readonly string[];
  /** Why a selection or a load did not work (shown until the next change). */
  compareError?: string;

  /** Selects (on = true) or unselects a stored run; toggles without `on`. */
  toggleCompare(id: string, on?: boolean): void;
  /** Selects these runs (those not selected yet, up to the limit). */
  addToCompare(ids: readonly string[]): void;
  clearCompare(): void;
  setCompareBaseline(id: string): void;
  setCompareAxis(axis: XAxis): void;
  setCompareSmoothing(weight: number): void;
  /** Drops selected runs no longer in the Runs list and loads what the selected runs need (call when `runs` changes). */
  syncCompare(): Promise<void>;
  /** A stored run as a run bundle (a .zip: configuration, series, evaluations, final weights when stored). */
  exportStoredRun(id: string): Promise<{ fileName: string; bytes: Uint8Array }>;
}

/** What the page noted when the current run started (for its bundle). */
export interface RunNotesState {
  runId: number;
  startedAt: number;
  endedAt?: number;
  trainImages: number;
  maxSteps?: number;
  evalLimit?: number;
}

export interface ImportedRun {
  fileName: string;
  bundle: DecodedBundle;
  /** Where it went in this browser's run history: saved (its id), already there, or not saved (why). */
  saved?:
    | { kind: 'saved'; storedId: string; name: string }
    | { kind: 'already'; storedId: string; name: string }
    | { kind: 'not-saved'; reason: string };
}

export interface WorkbenchSlice {
  /** The row whose configuration "Run this" selected last (the page shows it while the configuration is still that row's). */
  selectedRow?: ReferenceRow;
  runThis(row: ReferenceRow): void;

  inspection?: ModelInspection;
  inspectBusy: boolean;
  inspectProgress?: { stage: InspectStage; done: number; total: number };
  inspectError?: string;
  /** Look inside the current model; `recalibrateImages` caps the recalibration's training images. */
  inspect(options: { recalibrate: boolean; recalibrateImages?: number }): Promise<void>;
  /** Pixels of test images (not kept in the store). */
  testImages(indices: number[]): Promise<TestImages>;

  runNotes?: RunNotesState;
  exportBusy: boolean;
  exported?: { files: ExportFile[]; notice?: string };
  exportError?: string;
  prepareExport(): Promise<void>;

  overlay?: ImportedRun;
  importError?: string;
  /**
   * Decode a run bundle (.zip or .rlab), show it as an overlay and save it in the run history (once: a bundle already
   * there is not stored again). On a damaged file the error is shown and the overlay stays as it was;
   * when saving fails (full storage) the overlay is still shown and the reason said.
   */
  importBundle(file: File): Promise<void>;
  clearOverlay(): void;

  /** The claim of the link the page was opened with, and the configuration it was made for. */
  sharedClaim?: { claim: RunClaim; config: ExperimentConfig };
  claimIssues: ConfigIssue[];
  dismissClaimIssues(): void;
}
