// A run's preparation, before its first step: which experiment and options (a new configuration, or a
// stored run's plan to resume), then the trainer on the loaded data, its checkpoint restored, and the
// recorder that stores it. What it is not: the training loop (run-loop.ts), the engine's state (engine.ts).

import { checkedConfig, configKey, parseConfigQueryStrict, type ExperimentConfig } from '../experiment/config.ts';
import { resolveExperiment } from '../train/experiment.ts';
import { CheckpointError, Trainer } from '../train/trainer.ts';
import type { DataStats } from '../data/batches.ts';
import type { CifarData } from '../data/cifar.ts';
import type { StoredCheckpoint } from '../storage/run-store.ts';
import { ResumeError, type ResumePlan, type RunHistory, type RunRecorder } from './history.ts';
import { EngineError } from './engine-error.ts';
import type { BackendInfo, EngineEvent, EpochPoint, RunOptions, StepPoint } from './protocol.ts';

/** How a run starts: a new one from a configuration, or a stored one continued from its checkpoint. */
export type RunStart = { kind: 'new'; config: ExperimentConfig } | { kind: 'resume'; storedId: string };

/** A run resolved before any backend or data work: its checked configuration, its options, its resume plan. */
export interface RunRequest {
  config: ExperimentConfig;
  options: RunOptions;
  /** A resumed run's plan (holds the run's lock until started or abandoned). */
  plan?: ResumePlan;
}

/** The configuration and options of a run; a resumed run keeps its own limits, only `checkpointEvery` is the caller's. */
export async function resolveRun(start: RunStart, requested: RunOptions, history: RunHistory | undefined): Promise<RunRequest> {
  if (start.kind === 'new') return { config: checkedConfig(start.config), options: requested };
  if (!history) throw new EngineError('There is no run history here, so no run can be resumed.');
  let plan: ResumePlan;
  try {
    plan = await history.prepareResume(start.storedId);
  } catch (e) {
    throw e instanceof ResumeError ? new EngineError(e.message) : e;
  }
  const options: RunOptions = { maxSteps: plan.meta.maxSteps, evalLimit: plan.meta.evalLimit, checkpointEvery: requested.checkpointEvery };
  try {
    // The stored record's query string (an edge), parsed once here.
    return { config: parseConfigQueryStrict(plan.meta.config), options, plan };
  } catch (e) {
    plan.abandon();
    throw e;
  }
}

/** What the engine lends a run's preparation. */
export interface SetupContext {
  backend: BackendInfo;
  data: CifarData;
  stats: DataStats;
  history?: RunHistory;
  emit(e: EngineEvent): void;
  /** The next run id; taken once the run is sure to go ahead. */
  claimRunId(): number;
  /** Frees the engine's current model; called just before the run's network is built. */
  dropCurrent(): void;
}

/** A run ready for its first step. */
export interface PreparedRun {
  runId: number;
  trainer: Trainer;
  recorder?: RunRecorder;
  /** A resumed run's series so far. */
  history?: { steps: StepPoint[]; epochs: EpochPoint[] };
  /** Training milliseconds before this start (a resumed run's stored time). */
  baseMs: number;
}

/** Builds the trainer, restores a resumed run's checkpoint and starts its recorder. On failure nothing is left allocated. */
export async function prepareRun(req: RunRequest, ctx: SetupContext): Promise<PreparedRun> {
  const { config, options, plan } = req;
  const { backend, data, stats } = ctx;
  if (plan?.meta.trainImages !== undefined && plan.meta.trainImages !== data.train.n) {
    throw new EngineError(
      `Run "${plan.meta.name}" trained on ${plan.meta.trainImages.toLocaleString('en-US')} images an epoch, but the data loaded now has ${data.train.n.toLocaleString('en-US')}: load the same data set to resume it.`,
    );
  }
  const runId = ctx.claimRunId();
  ctx.dropCurrent();
  let trainer: Trainer;
  try {
    trainer = new Trainer(
      resolveExperiment(config),
      { train: data.train, test: data.test },
      {
        stats,
        maxSteps: options.maxSteps,
        evalLimit: options.evalLimit,
        // GPUs: read losses back in groups so the queue never drains; CPU backends read every step.
        readEvery: backend.backend === 'webgl' || backend.backend === 'webgpu' ? 4 : 1,
      },
    );
  } catch (e) {
    throw new EngineError(`Could not build the network: ${(e as Error).message}`);
  }
  try {
    if (plan) {
      const used = await restoreFrom(trainer, plan);
      const resumed = await plan.start(used, runId, ctx.emit, { checkpointEvery: options.checkpointEvery });
      let baseMs = used.elapsedMs ?? resumed.steps[resumed.steps.length - 1]?.ms ?? 0;
      if (!Number.isFinite(baseMs)) baseMs = 0;
      return { runId, trainer, recorder: resumed.recorder, history: { steps: resumed.steps, epochs: resumed.epochs }, baseMs };
    }
    const recorder = await ctx.history?.begin(
      runId,
      {
        config: configKey(config), // the stored record's query string (storage is an edge)
        backend: backend.backend,
        totalSteps: trainer.totalSteps,
        trainImages: data.train.n,
        maxSteps: options.maxSteps,
        evalLimit: options.evalLimit,
      },
      { checkpointEvery: options.checkpointEvery },
    );
    return { runId, trainer, recorder, baseMs: 0 };
  } catch (e) {
    trainer.dispose();
    throw e;
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
