// The training engine that runs inside the worker (and, unchanged, in Node tests): it owns the backend,
// the data, the one active run and the current model, and turns the trainer's callbacks into
// EngineEvents. It implements LabEngine, the interface the page's worker client also implements.
//
// A run is prepared in run-setup.ts and trained in run-loop.ts; pause, resume and stop take effect
// between steps (Trainer.run awaits `between` after every step).
// What it is not: message plumbing (worker.ts), the page's state (src/state/store.ts).

import * as tf from '@tensorflow/tfjs-core';
import { checkedConfig, configKey, type ExperimentConfig } from '../experiment/config.ts';
import { modelSpec, resolveExperiment } from '../train/experiment.ts';
import type { Trainer } from '../train/trainer.ts';
import { evaluateModel } from '../train/evaluate.ts';
import { computeStats, type DataStats } from '../data/batches.ts';
import { ResNet } from '../model/resnet.ts';
import { encodeSafetensors, encodeTfjs, readModelValues, valuesToTensors, type WeightsBundle } from '../model/weights.ts';
import { encodeOnnx } from '../model/onnx-model.ts';
import type { CifarData } from '../data/cifar.ts';
import { chooseBackend, type BackendHost } from './backend-choice.ts';
import { loadDemoData, loadServedData, loadUserFiles, type FetchBytes, type LoadedData } from './data-source.ts';
import { inspectModel, testImagePixels } from './inspect.ts';
import { RunHistory, type OpenRunStore } from './history.ts';
import { EngineError } from './engine-error.ts';
import { prepareRun, resolveRun, type PreparedRun, type RunStart } from './run-setup.ts';
import { trainLoop, type RunControl } from './run-loop.ts';
import { decodeWeightFiles } from './weight-files.ts';
import type {
  BackendChoice,
  BackendInfo,
  DataInfo,
  DataSource,
  DataStage,
  EngineEvent,
  InspectOptions,
  LabEngine,
  LoadedWeights,
  ModelInspection,
  NamedBytes,
  RunOptions,
  RunSummary,
  SetBackendOptions,
  StepShape,
  TestImages,
  WeightFiles,
} from './protocol.ts';

export { EngineError } from './engine-error.ts';
export { STEP_FLUSH_MS } from './run-loop.ts';
export { decodeWeightFiles } from './weight-files.ts';

export interface EngineHost extends BackendHost {
  fetchBytes: FetchBytes;
  /** The run history (IndexedDB); without it runs are not recorded and cannot be resumed. */
  openRunStore?: OpenRunStore;
  /** Why the GPU device was lost, once it was (WebGPU); a run that fails then is 'interrupted', not 'failed'. */
  deviceLost?(): string | undefined;
}

/** The run training now: its trainer, and what the page asked of it. */
interface ActiveRun {
  runId: number;
  trainer: Trainer;
  control: RunControl;
}

/** The network the page can download: the last run's, or weights loaded from files. */
interface CurrentModel {
  model: ResNet;
  config: ExperimentConfig;
  steps: number;
  /** Owned by a trainer (disposed with it) or by the engine. */
  owner: Trainer | 'engine';
}

export class Engine implements LabEngine {
  private readonly host: EngineHost;
  private readonly listeners = new Set<(e: EngineEvent) => void>();
  private backend?: BackendInfo;
  private data?: LoadedData;
  private stats?: DataStats;
  private run?: ActiveRun;
  private current?: CurrentModel;
  private nextRunId = 1;
  /** Serialises backend switches, data loads and weight loads (one at a time). */
  private busy: Promise<unknown> = Promise.resolve();

  private readonly history?: RunHistory;

  constructor(host: EngineHost) {
    this.host = host;
    if (host.openRunStore) this.history = new RunHistory(host.openRunStore, (e) => this.emit(e));
  }

  subscribe(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: EngineEvent): void {
    for (const l of this.listeners) l(e);
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const next = this.busy.then(task, task);
    this.busy = next.catch(() => undefined);
    return next;
  }

  /** From train() being called to its run's end (set synchronously, so a second call is refused at once). */
  private runClaimed = false;

  /** A run is training or paused (its trainer exists). */
  private get runActive(): boolean {
    return this.run !== undefined;
  }

  // ---- backend ------------------------------------------------------------------------------------

  setBackend(choice: BackendChoice, options: SetBackendOptions = {}): Promise<BackendInfo> {
    return this.exclusive(async () => {
      if (this.runActive) throw new EngineError('Stop the run before changing the backend.');
      return this.switchBackend(choice, options);
    });
  }

  /** Only inside `exclusive`. */
  private async switchBackend(choice: BackendChoice, options: SetBackendOptions): Promise<BackendInfo> {
    // Tensors live on one backend: the current model goes (its weights can be downloaded first).
    this.dropCurrent();
    const onProbe = (message: string) => this.emit({ type: 'backend-probe', message });
    const info = await chooseBackend(choice, this.host, onProbe, { ...options, current: this.backend });
    this.backend = info;
    this.emit({ type: 'backend', info });
    return info;
  }

  /** Only inside `exclusive`: the backend, chosen automatically (timing `step` on a hardware GPU) if none was yet. */
  private async ensureBackend(step?: StepShape): Promise<BackendInfo> {
    return this.backend ?? (await this.switchBackend('auto', { step }));
  }

  // ---- data -------------------------------------------------------------------------------------

  loadData(source: DataSource): Promise<DataInfo> {
    return this.exclusive(async () => {
      if (this.runActive) throw new EngineError('Stop the run before changing the data.');
      const progress = (stage: DataStage, file: string, fraction: number) => this.emit({ type: 'data-progress', stage, file, fraction });
      let loaded: LoadedData;
      switch (source.kind) {
        case 'served':
          loaded = (await loadServedData(this.host.fetchBytes, progress)) ?? (await loadDemoData(this.host.fetchBytes, progress));
          break;
        case 'demo':
          loaded = await loadDemoData(this.host.fetchBytes, progress);
          break;
        case 'files': {
          const files: NamedBytes[] = [];
          for (const f of source.files) files.push({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) });
          loaded = await loadUserFiles(files, progress);
          break;
        }
      }
      progress('stats', 'training set', 0);
      this.stats = computeStats(loaded.data.train);
      this.data = loaded;
      this.emit({ type: 'data', info: loaded.info });
      return loaded.info;
    });
  }

  private requireData(): { data: CifarData; stats: DataStats } {
    if (!this.data || !this.stats) throw new EngineError('No data loaded yet: wait for the data to load, or choose the CIFAR-10 files.');
    return { data: this.data.data, stats: this.stats };
  }

  // ---- training -------------------------------------------------------------------------------

  async train(config: ExperimentConfig, options: RunOptions): Promise<RunSummary> {
    if (this.runClaimed) throw new EngineError('A run is already in progress: stop it first.');
    this.runClaimed = true;
    try {
      return await this.runTraining({ kind: 'new', config }, options);
    } finally {
      this.runClaimed = false;
    }
  }

  async continueRun(storedId: string, options: RunOptions): Promise<RunSummary> {
    if (this.runClaimed) throw new EngineError('A run is already in progress: stop it first.');
    this.runClaimed = true;
    try {
      return await this.runTraining({ kind: 'resume', storedId }, options);
    } finally {
      this.runClaimed = false;
    }
  }

  /** Prepares the run (run-setup.ts), then trains it (run-loop.ts). */
  private async runTraining(start: RunStart, requested: RunOptions): Promise<RunSummary> {
    const req = await resolveRun(start, requested, this.history);
    const { config, plan } = req;
    // The start waits for backend and data work queued before it; work queued after it sees the run.
    const { backend, data, prepared, control } = await this.exclusive(async () => {
      let prepared: PreparedRun | undefined;
      try {
        const backend = await this.ensureBackend({ depth: config.depth, batch: config.batch });
        const { data, stats } = this.requireData();
        prepared = await prepareRun(req, {
          backend,
          data,
          stats,
          history: this.history,
          emit: (e) => this.emit(e),
          claimRunId: () => this.nextRunId++,
          dropCurrent: () => this.dropCurrent(),
        });
        const { runId, trainer, recorder, history } = prepared;
        const control: RunControl = { paused: false, pauseRequested: false, stopRequested: false };
        this.run = { runId, trainer, control };
        this.current = { model: trainer.model, config, steps: trainer.iteration, owner: trainer };
        this.emit({
          type: 'run-start',
          runId,
          config,
          totalSteps: trainer.totalSteps,
          stepsPerEpoch: trainer.stepsPerEpoch,
          batch: config.batch,
          backend: backend.backend,
          storedId: recorder?.storedId,
          resumedFrom: plan ? trainer.iteration : undefined,
        });
        if (history) this.emit({ type: 'run-history', runId, steps: history.steps, epochs: history.epochs });
        this.emit({ type: 'run-state', runId, state: 'running' });
        return { backend, data, prepared, control };
      } catch (e) {
        plan?.abandon();
        if (prepared && this.current?.owner !== prepared.trainer) prepared.trainer.dispose();
        throw e;
      }
    });
    const { trainer } = prepared;
    let summary: RunSummary;
    try {
      summary = await trainLoop({
        run: prepared,
        control,
        config,
        options: req.options,
        backend: backend.backend,
        testImages: data.test.n,
        emit: (e) => this.emit(e),
        onStep: (step) => {
          if (this.current?.owner === trainer) this.current.steps = step;
        },
        deviceLost: () => this.deviceLost(backend.backend),
      });
    } finally {
      this.run = undefined;
    }
    if (this.current?.owner === trainer) this.current.steps = trainer.iteration;
    this.emit({ type: 'run-end', summary });
    return summary;
  }

  pause(): void {
    if (this.run) this.run.control.pauseRequested = true;
  }

  resume(): void {
    const run = this.run?.control;
    if (!run) return;
    run.pauseRequested = false;
    run.wake?.();
  }

  stop(): void {
    const run = this.run?.control;
    if (!run) return;
    run.stopRequested = true;
    run.wake?.();
  }

  /** Why the GPU device was lost, if it was: its `lost` promise may settle a moment after the failed read. */
  private async deviceLost(backend: string): Promise<string | undefined> {
    if (!this.host.deviceLost || (backend !== 'webgpu' && backend !== 'webgl')) return undefined;
    for (let i = 0; i < 10; i++) {
      const reason = this.host.deviceLost();
      if (reason !== undefined) return reason;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return undefined;
  }

  // ---- weights ----------------------------------------------------------------------------------

  async exportWeights(): Promise<WeightFiles> {
    const cur = this.current;
    if (!cur) throw new EngineError('There is no model yet: train one (or load weights) first.');
    if (this.runClaimed && !this.run?.control.paused) throw new EngineError('Pause or stop the run before downloading its weights.');
    const spec = modelSpec(cur.config);
    // The files' config is their query string (weights files are an edge).
    const bundle: WeightsBundle = { config: configKey(cur.config), steps: cur.steps, values: await readModelValues(cur.model) };
    const { modelJson, weightsBin } = encodeTfjs(spec, bundle);
    const safetensors = encodeSafetensors(spec, bundle);
    const onnx = encodeOnnx(spec, bundle);
    return {
      baseName: `resnet${cur.config.depth}-${cur.config.protocol}-step${cur.steps}`,
      modelJson: JSON.stringify(modelJson),
      weightsBin,
      safetensors,
      onnx,
      steps: cur.steps,
      config: bundle.config,
    };
  }

  loadWeights(files: File[], selectedConfig: ExperimentConfig, options: RunOptions): Promise<LoadedWeights> {
    return this.exclusive(async () => {
      if (this.runActive) throw new EngineError('Stop the run before loading weights.');
      await this.ensureBackend();
      const { data, stats } = this.requireData();
      const named: NamedBytes[] = [];
      for (const f of files) named.push({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) });
      const selected = checkedConfig(selectedConfig);
      const { bundle, config, fromFile } = decodeWeightFiles(named, selected);
      const spec = modelSpec(config);
      // Build and evaluate the new network before anything changes; on failure nothing is replaced.
      const tensors = valuesToTensors(spec, bundle.values);
      const model = ResNet.fromValues(spec, tensors);
      Object.values(tensors).forEach((t) => t.dispose());
      let testError: number;
      const total = Math.min(options.evalLimit ?? data.test.n, data.test.n);
      try {
        testError = await evaluateModel(model, data.test, stats, resolveExperiment(config).data, {
          limit: total,
          onProgress: (done, all) => this.emit({ type: 'eval-progress', purpose: 'weights', done, total: all }),
        });
      } catch (e) {
        model.dispose();
        throw e;
      }
      this.dropCurrent();
      this.current = { model, config, steps: bundle.steps, owner: 'engine' };
      return { config, selectedFromFile: fromFile, testError, evaluated: total, files: named.map((f) => f.name) };
    });
  }

  // ---- looking inside the model (src/worker/inspect.ts) ----------------------------------------

  inspect(options: InspectOptions): Promise<ModelInspection> {
    return this.exclusive(async () => {
      const cur = this.current;
      if (!cur) throw new EngineError('There is no model yet: train one (or load weights) first.');
      if (this.runClaimed && !this.run?.control.paused) throw new EngineError('Pause or stop the run before looking inside its model.');
      const { data, stats } = this.requireData();
      return inspectModel(cur.model, cur.config, cur.steps, data, stats, options, (stage, done, total) =>
        this.emit({ type: 'inspect-progress', stage, done, total }),
      );
    });
  }

  async testImages(indices: number[]): Promise<TestImages> {
    return testImagePixels(this.requireData().data.test, indices);
  }

  /** Frees the current model (a finished run's trainer, or loaded weights). */
  private dropCurrent(): void {
    const cur = this.current;
    if (!cur) return;
    if (cur.owner === 'engine') cur.model.dispose();
    else cur.owner.dispose();
    this.current = undefined;
  }

  /** Tensors alive (for leak checks in tests). */
  numTensors(): number {
    return tf.memory().numTensors;
  }
}
