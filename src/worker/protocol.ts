// The messages between the page and the training worker, and the one interface (LabEngine) that both
// the in-worker engine and the page's worker client implement. Types only: no code runs from this file.
//
// Requests go page -> worker and are tagged on `type`; those that answer carry an `id` and get one
// `reply`. Everything else the worker says is an EngineEvent, also tagged on `type`. Training progress
// is sent as the numbers of each step, a few steps per message, never the run's history.
// Configurations travel as ExperimentConfig objects (plain data, structured-clone safe), never as strings.

import type { ExperimentConfig } from '../experiment/types.ts';

export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';
/** What the user asked for: a backend, or 'auto' (the fastest measured: WebGPU against WASM on a hardware GPU, else WASM, WebGL, CPU). */
export type BackendChoice = BackendName | 'auto';

/** The training step an automatic choice timed: the experiment's depth and batch, or the small probe's. */
export interface StepShape {
  depth: number;
  batch: number;
}

/** One backend as the automatic choice saw it, tagged on `outcome`. */
export type BackendTiming =
  /** Milliseconds per training step: the median of the rounds timed after a warm-up step (`rounds` 0: the warm-up step alone, when it was over the time budget or already far slower than the best). */
  | { backend: BackendName; outcome: 'measured'; ms: number; rounds: number }
  /** It was tried and could not start, or its training step failed. */
  | { backend: BackendName; outcome: 'failed'; reason: string }
  /** It cannot run here (not in this browser, no adapter) or is left out of the automatic choice (a software adapter). */
  | { backend: BackendName; outcome: 'not-available'; reason: string }
  /** It could run but was not timed (with a hardware GPU only WebGPU and WASM are compared). */
  | { backend: BackendName; outcome: 'not-measured'; reason: string };

export interface BackendInfo {
  backend: BackendName;
  /** The adapter or implementation, e.g. "SwiftShader (fallback adapter)", "WASM SIMD, 2 threads". */
  adapter: string;
  /** Why this backend: "chosen by you", "fastest measured per step ...", "measured earlier on this device: ...". */
  reason: string;
  /** Every backend an automatic choice considered, with its figure or why it has none (empty for a choice by hand). */
  timings: BackendTiming[];
  /** An automatic choice's device (GPU adapter, cores, browser) and the step it timed: the key it is remembered under. */
  measuredOn?: { device: string; step: StepShape };
  /** A backend chosen by hand that could not start, and why; `backend` is what runs instead. */
  refused?: { backend: BackendName; reason: string };
}

/** How to choose a backend, besides the choice itself. */
export interface SetBackendOptions {
  /** Automatic choices remembered by this browser; one measured on this device for this step is used without measuring. */
  remembered?: readonly BackendInfo[];
  /** The experiment's depth and batch: the step timed on a hardware GPU (default: ResNet-20 at batch 128). */
  step?: StepShape;
}

export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

/** Where the training data comes from. */
export type DataSource =
  | { kind: 'served' } // public/data/cifar-10-batches-bin, put there by `npm run data`
  | { kind: 'demo' } // public/demo: a few hundred real CIFAR-10 images
  | { kind: 'files'; files: File[] }; // cifar-10-binary.tar.gz or the six .bin files chosen by the user

export interface DataInfo {
  kind: 'full' | 'demo';
  /** "CIFAR-10 (50,000 training, 10,000 test images)" or "demo sample (...)". */
  label: string;
  train: number;
  test: number;
  /** Where it was read from: "public/data", "public/demo", or the file names. */
  origin: string;
}

export type DataStage = 'download' | 'gunzip' | 'md5' | 'parse' | 'stats';

/** Options of one run that are not part of the experiment (and not in the share URL). */
export interface RunOptions {
  /** Stop after this many iterations. */
  maxSteps?: number;
  /** Evaluate on the first N test images only. */
  evalLimit?: number;
  /** Also checkpoint every this many steps (tests; the lab checkpoints at epoch ends and every 5 minutes). */
  checkpointEvery?: number;
}

export interface StepPoint {
  step: number; // iterations done, 1-based
  epoch: number; // step / stepsPerEpoch (fractional)
  lr: number;
  loss: number;
  trainError: number; // fraction of this batch misclassified
  ms: number; // milliseconds since the run started (training time; pauses excluded)
}

export interface EpochPoint {
  epoch: number; // completed epochs (0 = before training; fractional for a run cut short)
  step: number;
  testError: number; // fraction
  evaluated: number; // test images used
}

/** 'interrupted': the run could not go on here (the GPU device was lost); it can be resumed from its last checkpoint. */
export type RunEnd = 'finished' | 'stopped' | 'diverged' | 'max-steps' | 'failed' | 'interrupted';

export interface RunSummary {
  runId: number;
  end: RunEnd;
  steps: number;
  finalTestError?: number;
  message?: string;
}

export interface WeightFiles {
  /** Base name for the files, e.g. "resnet20-gcr-step1200". */
  baseName: string;
  modelJson: string;
  weightsBin: Uint8Array;
  safetensors: Uint8Array;
  /** model.onnx: the inference graph (src/model/onnx-model.ts). */
  onnx: Uint8Array;
  steps: number;
  /** The share-URL query of the network the weights belong to. */
  config: string;
}

export interface LoadedWeights {
  /** The configuration evaluated (the file's when it names another architecture). */
  config: ExperimentConfig;
  /** The file's architecture differed from the selected one, and was selected. */
  selectedFromFile: boolean;
  testError: number;
  evaluated: number;
  files: string[];
}

export type ErrorScope = 'backend' | 'data' | 'train' | 'weights';

/** What "look inside the model" should do (src/worker/inspect.ts). */
export interface InspectOptions {
  /** Analyse the first N test images only (default: all). */
  evalLimit?: number;
  /** Also recompute every BN layer's running statistics over the training set and test again. */
  recalibrate?: boolean;
  /** Recalibrate over the first N training images only (default: all). */
  recalibrateImages?: number;
}

export type InspectStage = 'test' | 'recalibrate' | 'test-recalibrated';

/** The current model on the test set: one entry per test image (indices 0..n-1) and the 10x10 counts. */
export interface ModelInspection {
  /** The network inspected, and its training steps. */
  config: ExperimentConfig;
  steps: number;
  n: number;
  classes: number;
  labels: Uint8Array;
  predicted: Uint8Array;
  /** Softmax probability of the predicted class. */
  confidence: Float32Array;
  /** Row-major [true][predicted] counts. */
  confusion: Int32Array;
  testError: number;
  /** The same test after BN recalibration (on a copy: the model itself keeps its statistics). */
  recalibrated?: { testError: number; confusion: Int32Array; predicted: Uint8Array; images: number; batches: number };
}

/** Test images by index, in CIFAR's planar layout (3072 bytes each: 1024 R, 1024 G, 1024 B). */
export interface TestImages {
  indices: number[];
  pixels: Uint8Array;
}

/** A stored run, as the largest-runs list of a storage problem names it. */
export interface StoredRunSize {
  id: string;
  name: string;
  bytes: number;
}

export type EngineEvent =
  // The run history (src/worker/history.ts): the series so far of a resumed run (sent once, right
  // after its run-start), each stored checkpoint, and a write that failed (training goes on).
  | { type: 'run-history'; runId: number; steps: StepPoint[]; epochs: EpochPoint[] }
  | { type: 'checkpoint'; runId: number; storedId: string; step: number; tensors?: number }
  | { type: 'storage-problem'; runId?: number; name: string; message: string; largestRuns?: StoredRunSize[] }
  | { type: 'backend'; info: BackendInfo }
  | { type: 'backend-probe'; message: string }
  | { type: 'data-progress'; stage: DataStage; file: string; fraction: number }
  | { type: 'data'; info: DataInfo }
  | {
      type: 'run-start';
      runId: number;
      config: ExperimentConfig;
      totalSteps: number;
      stepsPerEpoch: number;
      batch: number;
      backend: BackendName;
      /** The run's id in the run history (absent when it cannot be recorded). */
      storedId?: string;
      /** A resumed run: the step of the checkpoint it continues from. */
      resumedFrom?: number;
    }
  | { type: 'steps'; runId: number; points: StepPoint[] }
  | { type: 'epoch'; runId: number; point: EpochPoint }
  | { type: 'eval-progress'; purpose: 'epoch' | 'weights'; done: number; total: number }
  | { type: 'run-state'; runId: number; state: 'running' | 'paused' }
  | { type: 'run-end'; summary: RunSummary }
  | { type: 'error'; scope: ErrorScope; name: string; message: string }
  | { type: 'inspect-progress'; stage: InspectStage; done: number; total: number };

/** Answers by request type. */
export interface EngineReplies {
  'continue-run': RunSummary;
  'set-backend': BackendInfo;
  'load-data': DataInfo;
  train: RunSummary;
  'export-weights': WeightFiles;
  'load-weights': LoadedWeights;
  inspect: ModelInspection;
  'test-images': TestImages;
}

export type EngineRequest =
  | { type: 'continue-run'; id: number; storedId: string; options: RunOptions }
  | { type: 'set-backend'; id: number; choice: BackendChoice; options: SetBackendOptions }
  | { type: 'load-data'; id: number; source: DataSource }
  | { type: 'train'; id: number; config: ExperimentConfig; options: RunOptions }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  | { type: 'export-weights'; id: number }
  | { type: 'load-weights'; id: number; files: File[]; config: ExperimentConfig; options: RunOptions }
  | { type: 'inspect'; id: number; options: InspectOptions }
  | { type: 'test-images'; id: number; indices: number[] };

export type ReplyType = keyof EngineReplies;

export type WorkerMessage =
  | { type: 'event'; event: EngineEvent }
  | { type: 'reply'; id: number; ok: true; value: EngineReplies[ReplyType] }
  | { type: 'reply'; id: number; ok: false; name: string; message: string };

/**
 * What the page can ask of a training engine. Implemented by the engine inside the worker
 * (src/worker/engine.ts) and by the page's client for it (src/worker/client.ts), so tests and a
 * no-worker fallback run the same code.
 */
export interface LabEngine {
  /**
   * 'auto' measures (unless `options.remembered` holds an earlier automatic choice on this device for
   * this step, which is then used as it is); a backend name uses that backend, and when it cannot
   * start, says so in `refused` and keeps the backend in use or chooses automatically.
   */
  setBackend(choice: BackendChoice, options?: SetBackendOptions): Promise<BackendInfo>;
  loadData(source: DataSource): Promise<DataInfo>;
  /** Resolves when the run ends (finished, stopped, diverged, max steps or failed). */
  train(config: ExperimentConfig, options: RunOptions): Promise<RunSummary>;
  /** Continue a stored run from its last checkpoint (its own configuration and run options; `options` may add checkpointEvery). */
  continueRun(storedId: string, options: RunOptions): Promise<RunSummary>;
  pause(): void;
  resume(): void;
  stop(): void;
  /** The current model (during a pause, or after a run or a load) in both formats. */
  exportWeights(): Promise<WeightFiles>;
  /** Check weights files against the selected architecture (or the one they name), evaluate them. */
  loadWeights(files: File[], config: ExperimentConfig, options: RunOptions): Promise<LoadedWeights>;
  /** Per-class error, confusion matrix and predictions of the current model (paused or after a run), optionally with BN recalibration. */
  inspect(options: InspectOptions): Promise<ModelInspection>;
  /** Pixels of test images (for the grid of predictions). */
  testImages(indices: number[]): Promise<TestImages>;
  /** The page's worker client only: replace a worker that died by a fresh one (see client.ts). */
  restart?(reason: string): boolean;
  /** Every event; returns the function that unsubscribes. */
  subscribe(listener: (event: EngineEvent) => void): () => void;
}
