// The training engine that runs inside the worker (and, unchanged, in Node tests): it owns the backend,
// the data, the one active run and the current model, and turns the trainer's callbacks into
// EngineEvents. It implements LabEngine, the interface the page's worker client also implements.
//
// Step numbers are sent a few steps per message (every STEP_FLUSH_MS, at epoch ends and at the end),
// one step's numbers per entry, never the history. Pause, resume and stop take effect between steps
// (Trainer.run awaits `between` after every step).
// What it is not: message plumbing (worker.ts), the page's state (src/state/store.ts).

import * as tf from '@tensorflow/tfjs-core';
import { formatConfigQuery, parseConfigQuery, parseConfigQueryStrict, type ExperimentConfig } from '../experiment/config.ts';
import { modelSpec, resolveExperiment } from '../train/experiment.ts';
import { CheckpointError, Trainer } from '../train/trainer.ts';
import { evaluateModel } from '../train/evaluate.ts';
import { computeStats, type DataStats } from '../data/batches.ts';
import { ResNet, type ResNetSpec } from '../model/resnet.ts';
import {
  decodeSafetensors,
  decodeTfjs,
  encodeSafetensors,
  encodeTfjs,
  parseTfjsModelJson,
  readModelValues,
  safetensorsConfig,
  valuesToTensors,
  WeightsError,
  type WeightsBundle,
} from '../model/weights.ts';
import type { CifarData } from '../data/cifar.ts';
import { chooseBackend, type BackendHost } from './backend-choice.ts';
import { loadDemoData, loadServedData, loadUserFiles, type FetchBytes, type LoadedData } from './data-source.ts';
import { inspectModel, testImagePixels } from './inspect.ts';
import { ResumeError, RunHistory, type OpenRunStore, type ResumePlan, type RunRecorder } from './history.ts';
import type { StoredCheckpoint } from '../storage/run-store.ts';
import type {
  BackendChoice,
  BackendInfo,
  DataInfo,
  DataSource,
  DataStage,
  EngineEvent,
  EpochPoint,
  InspectOptions,
  LabEngine,
  LoadedWeights,
  ModelInspection,
  NamedBytes,
  RunOptions,
  RunSummary,
  SetBackendOptions,
  StepPoint,
  StepShape,
  TestImages,
  WeightFiles,
} from './protocol.ts';

export const STEP_FLUSH_MS = 100;

/** A request the engine cannot do in its current state, said so a person knows what to do. */
export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineError';
  }
}

export interface EngineHost extends BackendHost {
  fetchBytes: FetchBytes;
  /** The run history (IndexedDB); without it runs are not recorded and cannot be resumed. */
  openRunStore?: OpenRunStore;
  /** Why the GPU device was lost, once it was (WebGPU); a run that fails then is 'interrupted', not 'failed'. */
  deviceLost?(): string | undefined;
}

/** How a run starts: a new one from a share-URL query, or a stored one continued from its checkpoint. */
type RunStart = { kind: 'new'; query: string } | { kind: 'resume'; storedId: string };

interface ActiveRun {
  runId: number;
  trainer: Trainer;
  paused: boolean;
  pauseRequested: boolean;
  stopRequested: boolean;
  wake?: () => void;
}

/** The network the page can download: the last run's, or weights loaded from files. */
interface CurrentModel {
  model: ResNet;
  config: ExperimentConfig;
  steps: number;
  /** Owned by a trainer (disposed with it) or by the engine. */
  owner: Trainer | 'engine';
}

const archKey = (spec: ResNetSpec) => JSON.stringify(spec);

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

  async train(query: string, options: RunOptions): Promise<RunSummary> {
    if (this.runClaimed) throw new EngineError('A run is already in progress: stop it first.');
    this.runClaimed = true;
    try {
      return await this.runTraining({ kind: 'new', query }, options);
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

  private async runTraining(start: RunStart, requested: RunOptions): Promise<RunSummary> {
    let plan: ResumePlan | undefined;
    if (start.kind === 'resume') {
      if (!this.history) throw new EngineError('There is no run history here, so no run can be resumed.');
      try {
        plan = await this.history.prepareResume(start.storedId);
      } catch (e) {
        throw e instanceof ResumeError ? new EngineError(e.message) : e;
      }
    }
    // A resumed run keeps its own limits; only the checkpoint interval is the caller's.
    const options: RunOptions = plan
      ? { maxSteps: plan.meta.maxSteps, evalLimit: plan.meta.evalLimit, checkpointEvery: requested.checkpointEvery }
      : requested;
    let config: ExperimentConfig;
    try {
      config = parseConfigQueryStrict(plan ? plan.meta.config : (start as { query: string }).query);
    } catch (e) {
      plan?.abandon();
      throw e;
    }
    // The start waits for backend and data work queued before it; work queued after it sees the run.
    const { backend, data, trainer, run, recorder, baseMs } = await this.exclusive(async () => {
      let trainer: Trainer | undefined;
      try {
        const backend = await this.ensureBackend({ depth: config.depth, batch: config.batch });
        const { data, stats } = this.requireData();
        if (plan?.meta.trainImages !== undefined && plan.meta.trainImages !== data.train.n) {
          throw new EngineError(
            `Run "${plan.meta.name}" trained on ${plan.meta.trainImages.toLocaleString('en-US')} images an epoch, but the data loaded now has ${data.train.n.toLocaleString('en-US')}: load the same data set to resume it.`,
          );
        }
        const runId = this.nextRunId++;
        this.dropCurrent();
        try {
          trainer = new Trainer(resolveExperiment(config), { train: data.train, test: data.test }, {
            stats,
            maxSteps: options.maxSteps,
            evalLimit: options.evalLimit,
            // GPUs: read losses back in groups so the queue never drains; CPU backends read every step.
            readEvery: backend.backend === 'webgl' || backend.backend === 'webgpu' ? 4 : 1,
          });
        } catch (e) {
          throw new EngineError(`Could not build the network: ${(e as Error).message}`);
        }
        let recorder: RunRecorder | undefined;
        let history: { steps: StepPoint[]; epochs: EpochPoint[] } | undefined;
        let baseMs = 0;
        if (plan) {
          const used = await restoreFrom(trainer, plan);
          const resumed = await plan.start(used, runId, (e) => this.emit(e), { checkpointEvery: options.checkpointEvery });
          recorder = resumed.recorder;
          history = { steps: resumed.steps, epochs: resumed.epochs };
          baseMs = used.elapsedMs ?? resumed.steps[resumed.steps.length - 1]?.ms ?? 0;
          if (!Number.isFinite(baseMs)) baseMs = 0;
        } else {
          recorder = await this.history?.begin(
            runId,
            {
              config: formatConfigQuery(config),
              backend: backend.backend,
              totalSteps: trainer.totalSteps,
              trainImages: data.train.n,
              maxSteps: options.maxSteps,
              evalLimit: options.evalLimit,
            },
            { checkpointEvery: options.checkpointEvery },
          );
        }
        const run: ActiveRun = { runId, trainer, paused: false, pauseRequested: false, stopRequested: false };
        this.run = run;
        this.current = { model: trainer.model, config, steps: trainer.iteration, owner: trainer };
        this.emit({
          type: 'run-start',
          runId,
          config: formatConfigQuery(config),
          totalSteps: trainer.totalSteps,
          stepsPerEpoch: trainer.stepsPerEpoch,
          batch: config.batch,
          backend: backend.backend,
          storedId: recorder?.storedId,
          resumedFrom: plan ? trainer.iteration : undefined,
        });
        if (history) this.emit({ type: 'run-history', runId, steps: history.steps, epochs: history.epochs });
        this.emit({ type: 'run-state', runId, state: 'running' });
        return { backend, data, trainer, run, recorder, baseMs };
      } catch (e) {
        plan?.abandon();
        if (trainer && this.current?.owner !== trainer) trainer.dispose();
        throw e;
      }
    });
    const { runId } = run;
    const firstStep = trainer.iteration;

    // Training clock: pauses and test-set evaluations are not training time; a resumed run goes on
    // from the training time stored with its checkpoint.
    const started = performance.now() - baseMs;
    let excluded = 0;
    const clock = () => ({ elapsedMs: performance.now() - started - excluded, tensors: tf.memory().numTensors });
    let lastStepAt = started;
    let pending: StepPoint[] = [];
    let lastFlush = started;
    const flush = () => {
      if (pending.length === 0) return;
      this.emit({ type: 'steps', runId, points: pending });
      pending = [];
      lastFlush = performance.now();
    };

    let summary: RunSummary;
    try {
      const result = await trainer.run({
        onStep: (s) => {
          const now = performance.now();
          lastStepAt = now;
          const point: StepPoint = { step: s.step, epoch: s.epochFloat, lr: s.lr, loss: s.loss, trainError: s.trainError, ms: now - started - excluded };
          pending.push(point);
          recorder?.step(point);
          if (this.current?.owner === trainer) this.current.steps = s.step;
          if (now - lastFlush >= STEP_FLUSH_MS) flush();
        },
        onEpoch: (e) => {
          const now = performance.now();
          if (e.step > 0) excluded += now - lastStepAt; // the evaluation just done
          lastStepAt = now;
          flush();
          const evaluated = Math.min(options.evalLimit ?? data.test.n, data.test.n);
          const point: EpochPoint = { epoch: e.epoch, step: e.step, testError: e.testError, evaluated };
          recorder?.epoch(point);
          this.emit({ type: 'epoch', runId, point });
        },
        onEvalProgress: (done, total) => this.emit({ type: 'eval-progress', purpose: 'epoch', done, total }),
        between: async () => {
          // Checkpoints (src/worker/history.ts): at epoch ends, every 5 minutes, on pause and on stop.
          if (recorder?.checkpointDue(trainer.iteration)) {
            const t0 = performance.now();
            await recorder.checkpoint(trainer, clock());
            excluded += performance.now() - t0; // reading the variables back is not training time
          }
          if (run.stopRequested) {
            await recorder?.checkpoint(trainer, clock());
            return true;
          }
          if (run.pauseRequested) {
            flush();
            const pausedAt = performance.now();
            run.paused = true;
            this.emit({ type: 'run-state', runId, state: 'paused' });
            recorder?.setStatus('paused');
            await recorder?.checkpoint(trainer, clock());
            await new Promise<void>((resolve) => (run.wake = resolve));
            run.paused = false;
            run.wake = undefined;
            const resumedAt = performance.now();
            excluded += resumedAt - pausedAt;
            lastStepAt = resumedAt;
            if (run.stopRequested) return true;
            recorder?.setStatus('running');
            this.emit({ type: 'run-state', runId, state: 'running' });
          }
          return false;
        },
      });
      flush();
      summary = { runId, end: result.end, steps: result.steps, finalTestError: result.finalTestError };
      if (result.end === 'diverged' && result.divergedAt) {
        const d = result.divergedAt;
        summary.message = `The loss became ${d.loss} at step ${d.step} (learning rate ${d.lr}): the run diverged. Try a smaller learning rate.`;
      }
      const end = clock();
      const trained = end.elapsedMs - baseMs;
      await recorder?.finish(result.end, {
        finalTestError: result.finalTestError,
        divergedAt: result.divergedAt,
        clock: end,
        imagesPerSec: trained > 0 && trainer.iteration > firstStep ? ((trainer.iteration - firstStep) * config.batch * 1000) / trained : undefined,
        weights: result.end === 'diverged' ? undefined : () => this.finalWeights(trainer, config),
      });
    } catch (e) {
      flush();
      const lost = await this.deviceLost(backend.backend);
      const saved = recorder ? ' The run is saved up to its last checkpoint and can be resumed.' : '';
      if (lost !== undefined) {
        summary = { runId, end: 'interrupted', steps: trainer.iteration, message: `The GPU device was lost (${lost}) at step ${trainer.iteration}.${saved}` };
      } else {
        summary = { runId, end: 'failed', steps: trainer.iteration, message: `Training failed on ${backend.backend}: ${(e as Error).message}${saved}` };
      }
      this.emit({ type: 'error', scope: 'train', name: lost !== undefined ? 'DeviceLostError' : (e as Error).name, message: summary.message! });
      await recorder?.finish(summary.end, { clock: clock() }).catch(() => undefined);
    } finally {
      this.run = undefined;
      recorder?.releaseLock();
    }
    if (this.current?.owner === trainer) this.current.steps = trainer.iteration;
    this.emit({ type: 'run-end', summary });
    return summary;
  }

  pause(): void {
    if (this.run) this.run.pauseRequested = true;
  }

  resume(): void {
    const run = this.run;
    if (!run) return;
    run.pauseRequested = false;
    run.wake?.();
  }

  stop(): void {
    const run = this.run;
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

  /** A run's final weights as stored in the history (.safetensors bytes, as a run bundle carries them). */
  private async finalWeights(trainer: Trainer, config: ExperimentConfig): Promise<{ format: 'safetensors'; bytes: Uint8Array }> {
    const bundle: WeightsBundle = { config: formatConfigQuery(config), steps: trainer.iteration, values: await readModelValues(trainer.model) };
    return { format: 'safetensors', bytes: encodeSafetensors(modelSpec(config), bundle) };
  }

  // ---- weights ----------------------------------------------------------------------------------

  async exportWeights(): Promise<WeightFiles> {
    const cur = this.current;
    if (!cur) throw new EngineError('There is no model yet: train one (or load weights) first.');
    if (this.runClaimed && !this.run?.paused) throw new EngineError('Pause or stop the run before downloading its weights.');
    const spec = modelSpec(cur.config);
    const bundle: WeightsBundle = { config: formatConfigQuery(cur.config), steps: cur.steps, values: await readModelValues(cur.model) };
    const { modelJson, weightsBin } = encodeTfjs(spec, bundle);
    const safetensors = encodeSafetensors(spec, bundle);
    return {
      baseName: `resnet${cur.config.depth}-${cur.config.protocol}-step${cur.steps}`,
      modelJson: JSON.stringify(modelJson),
      weightsBin,
      safetensors,
      steps: cur.steps,
      config: bundle.config,
    };
  }

  loadWeights(files: File[], query: string, options: RunOptions): Promise<LoadedWeights> {
    return this.exclusive(async () => {
      if (this.runActive) throw new EngineError('Stop the run before loading weights.');
      await this.ensureBackend();
      const { data, stats } = this.requireData();
      const named: NamedBytes[] = [];
      for (const f of files) named.push({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) });
      const selected = parseConfigQueryStrict(query);
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
      return { config: formatConfigQuery(config), selectedFromFile: fromFile, testError, evaluated: total, files: named.map((f) => f.name) };
    });
  }

  // ---- looking inside the model (src/worker/inspect.ts) ----------------------------------------

  inspect(options: InspectOptions): Promise<ModelInspection> {
    return this.exclusive(async () => {
      const cur = this.current;
      if (!cur) throw new EngineError('There is no model yet: train one (or load weights) first.');
      if (this.runClaimed && !this.run?.paused) throw new EngineError('Pause or stop the run before looking inside its model.');
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

/** Restores the plan's latest checkpoint, or the one before it when the latest does not fit. */
async function restoreFrom(trainer: Trainer, plan: ResumePlan): Promise<StoredCheckpoint> {
  try {
    trainer.restore(plan.latest.checkpoint);
    return plan.latest;
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    const previous = await plan.previous();
    if (!previous) throw new EngineError(`The run's checkpoint cannot be restored: ${e.message}.`);
    trainer.restore(previous.checkpoint);
    return previous;
  }
}

/**
 * Weights from chosen files: a .safetensors file, or model.json with its weights.bin. When the file
 * names a configuration whose network differs from the selected one, that configuration is used
 * (`fromFile`); otherwise the selected one. Throws WeightsError with what is wrong.
 */
export function decodeWeightFiles(
  files: NamedBytes[],
  selected: ExperimentConfig,
): { bundle: WeightsBundle; config: ExperimentConfig; fromFile: boolean } {
  const byExt = (re: RegExp) => files.find((f) => re.test(f.name));
  const st = byExt(/\.safetensors$/i);
  const json = byExt(/\.json$/i);
  const bin = byExt(/\.bin$/i);
  if (!st && !json) {
    throw new WeightsError(
      `None of ${files.map((f) => f.name).join(', ') || 'the chosen files'} is a weights file: choose the .safetensors file, or model.json together with its weights.bin.`,
    );
  }
  const pick = (fileQuery: string) => {
    if (!fileQuery) return { config: selected, fromFile: false };
    const parsed = parseConfigQuery(fileQuery);
    if (parsed.issues.length > 0) return { config: selected, fromFile: false };
    const same = archKey(modelSpec(parsed.config)) === archKey(modelSpec(selected));
    return same ? { config: selected, fromFile: false } : { config: parsed.config, fromFile: true };
  };
  if (st) {
    const { config, fromFile } = pick(safetensorsConfig(st.name, st.bytes));
    return { bundle: decodeSafetensors(modelSpec(config), st.name, st.bytes), config, fromFile };
  }
  const modelJson = parseTfjsModelJson(json!.name, new TextDecoder().decode(json!.bytes));
  if (!bin) throw new WeightsError(`${json!.name} needs its weights file (weights.bin): choose both files together.`);
  const { config, fromFile } = pick(modelJson.resnetLab?.config ?? '');
  return { bundle: decodeTfjs(modelSpec(config), modelJson, bin.bytes), config, fromFile };
}
