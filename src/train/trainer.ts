// The training loop: numbers in, events out. Runs unchanged in the browser worker, the CLI and tests.
//
// One Trainer owns a model, a solver and the data samplers of one run. Each step: sample a batch,
// forward + backward (tf.variableGrads), one solver update, the BN running-statistics update in the
// Torch convention, all inside tf.tidy. The loss and the batch's training error are kept as scalars
// and read back asynchronously in groups (`readEvery`), never inside the step. Test error on the full
// test set after every epoch, and before the first, as the seeds logged it.
// What it is not: the backend choice (src/backend), messages to a page (src/worker), file formats.

import * as tf from '@tensorflow/tfjs-core';
import { ResNet, disposeStats, type BnBatchStats } from '../model/resnet.ts';
import type { Experiment } from './experiment.ts';
import { createSolver, type Solver, type SolverParam } from './solvers.ts';
import { learningRate, scheduleStopIteration } from '../experiment/schedules.ts';
import { createRng } from '../util/rng.ts';
import { gradientsRegistered } from '../backend/gradients.ts';
import type { CifarSplit } from '../data/cifar.ts';
import { BatchSampler, computeStats, newBatchBuffers, type BatchBuffers, type DataStats, type SamplerState } from '../data/batches.ts';
import { configKey } from '../experiment/config.ts';
import { checkArchitecture, readModelValues, type WeightValues } from '../model/weights.ts';
import { evaluateModel } from './evaluate.ts';
import { frugalVariableGrads } from '../kernels/backprop.ts';
import { labSoftmaxXent, softmaxCrossEntropy } from '../kernels/softmax-xent.ts';
import { yieldToEventLoop } from '../util/yield.ts';

export interface TrainData {
  train: CifarSplit;
  test: CifarSplit;
}

export interface TrainerOptions {
  /** Stop after this many iterations in all (the CLI's --max-steps); the schedule still counts epochs. */
  maxSteps?: number;
  /** Evaluate on the first N test images only (default: all). */
  evalLimit?: number;
  /** Images per evaluation batch. */
  evalBatch?: number;
  /** Read losses back every this many steps (1 on CPU backends; more on GPUs to avoid stalls). */
  readEvery?: number;
  /** Data-set statistics if already computed (they depend only on the training split). */
  stats?: DataStats;
}

export interface StepEvent {
  /** Iterations done, 1-based. */
  step: number;
  /** 0-based epoch this step belongs to. */
  epoch: number;
  /** Fraction of the way through training, in epochs (step / stepsPerEpoch). */
  epochFloat: number;
  lr: number;
  loss: number;
  /** Error on this training batch (before the update). */
  trainError: number;
}

export interface EpochEvent {
  /** Completed epochs (0 = before training). */
  epoch: number;
  step: number;
  testError: number;
}

export interface TrainerCallbacks {
  onStep?(e: StepEvent): void;
  onEpoch?(e: EpochEvent): void;
  /** Progress of each test-set evaluation (images done of total), for a progress bar. */
  onEvalProgress?(done: number, total: number): void;
  /** Awaited between steps: return true to stop. Use it to pause (await a promise) or stop. */
  between?(): Promise<boolean> | boolean;
}

export type RunEnd = 'finished' | 'stopped' | 'diverged' | 'max-steps';

export interface RunResult {
  end: RunEnd;
  steps: number;
  epochs: number;
  finalTestError?: number;
  /** For 'diverged': the step whose loss was not finite. */
  divergedAt?: { step: number; lr: number; loss: number };
}

/**
 * Everything needed to continue a run exactly where it was: weights and BN running statistics,
 * solver slots, the data sampler's generator and position, the step and the BN/warm-up counters.
 * Plain data (typed arrays and numbers): storable in IndexedDB by structured clone, or as JSON +
 * binary. The metrics so far are the caller's (they are already on the page or in log.jsonl).
 */
export interface TrainerCheckpoint {
  version: 1;
  /** Share-URL query of the run; restoring onto another configuration is refused. */
  config: string;
  iteration: number;
  bnK: number;
  warmupMet: boolean;
  sampler: SamplerState;
  weights: WeightValues;
  solver: { step: number; slots: Record<string, { shape: number[]; values: Float32Array }> };
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** Every trainable parameter, decayed: all three protocols decay every parameter (gcr: "BN and biases
 * too"; neon: every parameter). */
export function solverParamsOf(model: ResNet): SolverParam[] {
  return model.info.filter((p) => p.trainable).map((p) => ({ name: p.name, variable: model.params[p.name], decay: true }));
}

/** Mix a run seed into independent streams (model init, data order, augmentation). */
export function subSeed(seed: number, stream: number): number {
  let h = (seed ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export class Trainer {
  readonly experiment: Experiment;
  readonly model: ResNet;
  readonly solver: Solver;
  readonly stats: DataStats;
  /** Iterations per epoch, fractional: an epoch is n training images (50,000), batches are always full
   * and may straddle two epochs (gcr counts epochs in images seen; neon's loader wraps the same way). */
  readonly stepsPerEpoch: number;
  /** Iterations the whole run takes (ceil(epochs x stepsPerEpoch), capped by the schedule's stop and maxSteps). */
  readonly totalSteps: number;
  /** Iterations done. */
  iteration = 0;
  /** Batches since the last evaluation: gcr's dynamic BN momentum is 1/(1+k). */
  private bnK = 0;
  /** Paper warm-up: set once a training batch's error is below 80%. */
  private warmupMet = false;
  private readonly sampler: BatchSampler;
  private batchBuffers?: BatchBuffers;
  private readonly data: TrainData;
  private readonly options: Required<Omit<TrainerOptions, 'stats' | 'maxSteps'>> & { maxSteps?: number };
  private readonly solverParams: SolverParam[];

  constructor(experiment: Experiment, data: TrainData, options: TrainerOptions = {}) {
    if (!gradientsRegistered()) {
      throw new Error('tfjs gradients are not registered: call initBackend() (src/backend/setup.ts) or ensureGradients() before training');
    }
    this.experiment = experiment;
    this.data = data;
    this.options = { evalLimit: data.test.n, evalBatch: 500, readEvery: 1, ...options };
    const { config } = experiment;
    this.stats = options.stats ?? computeStats(data.train, experiment.data);
    this.sampler = new BatchSampler(data.train, this.stats, experiment.data, createRng(subSeed(config.seed, 1)));
    this.stepsPerEpoch = data.train.n / config.batch;
    const stop = scheduleStopIteration(config.schedule);
    let total = Math.ceil(config.epochs * this.stepsPerEpoch);
    if (stop !== undefined) total = Math.min(total, stop);
    if (options.maxSteps !== undefined) total = Math.min(total, options.maxSteps);
    this.totalSteps = total;
    this.model = ResNet.create(experiment.spec, subSeed(config.seed, 0));
    this.solver = createSolver(experiment.solver);
    // Every parameter is decayed in all three protocols (gcr: "BN and biases too"; neon: every parameter).
    this.solverParams = solverParamsOf(this.model);
  }

  /** Whole epochs done: floor(images seen / n). The schedule's epoch for the next step. */
  get epoch(): number {
    return this.epochAt(this.iteration);
  }

  private epochAt(iteration: number): number {
    return Math.floor((iteration * this.experiment.config.batch) / this.data.train.n);
  }

  /** This step's learning rate (schedule + warm-up). */
  currentLr(): number {
    const { config } = this.experiment;
    return learningRate(config.schedule, config.warmup, config.lr, {
      iteration: this.iteration,
      epoch: this.epoch,
      trainErrorBelow80: this.warmupMet,
    });
  }

  /** BN momentum (Torch convention) for the next batch. */
  bnMomentum(): number {
    const m = this.experiment.config.bnm;
    return m === 'dynamic' ? 1 / (1 + this.bnK) : m;
  }

  /**
   * One training step on the next batch. Returns the batch loss and error as scalars the caller
   * reads (asynchronously) and disposes; everything else the step creates is freed here.
   */
  trainStep(): { loss: tf.Scalar; error: tf.Scalar; lr: number } {
    const { batch } = this.experiment.config;
    // One array for every step's batch: trainOnBatch makes the input tensor from it and disposes it
    // before returning (every backend has copied or uploaded it by then), so the next batch can be
    // written over it. A new array per step costs a noticeable part of the data pipeline's time in a
    // Chromium worker (bench/core.ts timeDataPipeline).
    this.batchBuffers ??= newBatchBuffers(batch);
    const b = this.sampler.next(batch, this.batchBuffers);
    const lr = this.currentLr();
    const out = trainOnBatch(this.model, this.solver, this.solverParams, b.x, b.y, lr, this.bnMomentum());
    this.iteration++;
    this.bnK++;
    return { ...out, lr };
  }

  /** Test error (fraction) on the first evalLimit test images, using the BN running statistics. */
  async evaluate(limit = this.options.evalLimit, onProgress?: (done: number, total: number) => void): Promise<number> {
    const error = await evaluateModel(this.model, this.data.test, this.stats, this.experiment.data, {
      limit,
      batch: this.options.evalBatch,
      onProgress,
    });
    this.bnK = 0; // gcr resets the dynamic-momentum counter at every evaluation
    return error;
  }

  /** Train to the end (or until `between` says stop), reporting every step and epoch. */
  async run(cb: TrainerCallbacks = {}): Promise<RunResult> {
    const { experiment } = this;
    if (this.iteration === 0 && experiment.protocol.eval.atStart) {
      cb.onEpoch?.({ epoch: 0, step: 0, testError: await this.evaluate(undefined, cb.onEvalProgress) });
    }
    const pending: { step: number; lr: number; loss: tf.Scalar; error: tf.Scalar }[] = [];
    let lastTestError: number | undefined;
    const flush = async (): Promise<RunResult | undefined> => {
      if (pending.length === 0) return undefined;
      const items = pending.splice(0);
      const both = tf.tidy(() => tf.stack(items.flatMap((p) => [p.loss, p.error])));
      const values = await both.data();
      both.dispose();
      for (const p of items) {
        p.loss.dispose();
        p.error.dispose();
      }
      for (let i = 0; i < items.length; i++) {
        const { step, lr } = items[i];
        const loss = values[2 * i];
        const trainError = values[2 * i + 1];
        if (!Number.isFinite(loss)) return { end: 'diverged', steps: step, epochs: this.epoch, divergedAt: { step, lr, loss } };
        if (trainError < 0.8) this.warmupMet = true;
        cb.onStep?.({
          step,
          epoch: this.epochAt(step - 1),
          epochFloat: step / this.stepsPerEpoch,
          lr,
          loss,
          trainError,
        });
      }
      return undefined;
    };

    while (this.iteration < this.totalSteps) {
      const { loss, error, lr } = this.trainStep();
      pending.push({ step: this.iteration, lr, loss, error });
      const epochEnd = this.epochAt(this.iteration) > this.epochAt(this.iteration - 1);
      const last = this.iteration === this.totalSteps;
      if (pending.length >= this.options.readEvery || epochEnd || last) {
        const diverged = await flush();
        if (diverged) return diverged;
      }
      if (epochEnd) {
        lastTestError = await this.evaluate(undefined, cb.onEvalProgress);
        cb.onEpoch?.({ epoch: this.epoch, step: this.iteration, testError: lastTestError });
      }
      await yieldToEventLoop();
      if (cb.between && (await cb.between())) {
        const diverged = await flush();
        if (diverged) return diverged;
        return { end: 'stopped', steps: this.iteration, epochs: this.epoch, finalTestError: lastTestError };
      }
    }
    const capped =
      this.options.maxSteps !== undefined &&
      this.totalSteps === this.options.maxSteps &&
      this.totalSteps < Math.ceil(this.experiment.config.epochs * this.stepsPerEpoch);
    if (lastTestError === undefined || this.epochAt(this.iteration) === this.epochAt(this.iteration - 1)) {
      // Stopped inside an epoch (max steps or the paper's 64k-iteration stop): test once more.
      lastTestError = await this.evaluate(undefined, cb.onEvalProgress);
      cb.onEpoch?.({ epoch: this.iteration / this.stepsPerEpoch, step: this.iteration, testError: lastTestError });
    }
    return { end: capped ? 'max-steps' : 'finished', steps: this.iteration, epochs: this.epoch, finalTestError: lastTestError };
  }

  /** A snapshot of the whole training state (reads every variable back: call it between steps). */
  async checkpoint(): Promise<TrainerCheckpoint> {
    const state = this.solver.getState();
    const slots: TrainerCheckpoint['solver']['slots'] = {};
    try {
      for (const [key, t] of Object.entries(state.slots)) slots[key] = { shape: t.shape, values: (await t.data()) as Float32Array };
    } finally {
      tf.dispose(Object.values(state.slots));
    }
    return {
      version: 1,
      config: configKey(this.experiment.config), // a checkpoint keeps the query string (stored)
      iteration: this.iteration,
      bnK: this.bnK,
      warmupMet: this.warmupMet,
      sampler: this.sampler.getState(),
      weights: await readModelValues(this.model),
      solver: { step: state.step, slots },
    };
  }

  /**
   * Continue from a checkpoint of a run with the same configuration: afterwards the trainer produces
   * exactly the losses the original run would have (same backend). Nothing changes if it throws.
   */
  restore(ckpt: TrainerCheckpoint): void {
    const config = configKey(this.experiment.config);
    if (ckpt.version !== 1) throw new CheckpointError(`unknown checkpoint version ${String(ckpt.version)}`);
    if (ckpt.config !== config) {
      throw new CheckpointError(`the checkpoint belongs to another configuration (${ckpt.config}), not this run's (${config})`);
    }
    const problems = checkArchitecture(
      this.experiment.spec,
      Object.entries(ckpt.weights).map(([name, v]) => ({
        name,
        shape: v.length === this.model.params[name]?.size ? this.model.params[name].shape : [v.length],
      })),
    );
    if (problems.length) throw new CheckpointError(`the checkpoint's weights do not fit this network: ${problems.slice(0, 4).join('; ')}`);
    if (!Number.isInteger(ckpt.iteration) || ckpt.iteration < 0 || ckpt.iteration > this.totalSteps) {
      throw new CheckpointError(`checkpoint step ${ckpt.iteration} is outside this run (0..${this.totalSteps})`);
    }
    this.sampler.setState(ckpt.sampler); // validates before anything else changes
    const slots = Object.fromEntries(Object.entries(ckpt.solver.slots).map(([k, v]) => [k, tf.tensor(v.values, v.shape, 'float32')]));
    try {
      this.solver.loadState({ step: ckpt.solver.step, slots });
    } finally {
      tf.dispose(Object.values(slots));
    }
    tf.tidy(() => {
      for (const p of this.model.info) this.model.params[p.name].assign(tf.tensor(ckpt.weights[p.name], p.shape, 'float32'));
    });
    this.iteration = ckpt.iteration;
    this.bnK = ckpt.bnK;
    this.warmupMet = ckpt.warmupMet;
  }

  dispose(): void {
    this.model.dispose();
    this.solver.dispose();
  }
}

/**
 * One SGD step on one batch: forward in training mode, softmax cross-entropy, gradients of every
 * trainable parameter, the solver's update, then the BN running statistics with `bnMomentum`
 * (Torch convention). x: [B, 32, 32, 3] NHWC floats; y: B labels. Returns the batch's loss and error
 * (before the update) as scalars for the caller to read and dispose; frees everything else.
 */
export function trainOnBatch(
  model: ResNet,
  solver: Solver,
  params: SolverParam[],
  x: Float32Array,
  y: Int32Array,
  lr: number,
  bnMomentum: number,
): { loss: tf.Scalar; error: tf.Scalar } {
  const n = y.length;
  const stats: BnBatchStats[] = [];
  const out = tf.tidy(() => {
    const input = tf.tensor4d(x, [n, 32, 32, 3]);
    const labels = tf.tensor1d(y, 'int32');
    // On webgpu the loss and the error come from one fused kernel (its gradient one more); elsewhere composed.
    const fused = labSoftmaxXent(tf.backend());
    const onehot = fused ? undefined : tf.oneHot(labels, 10);
    let logitsKept: tf.Tensor2D | undefined;
    let errorKept: tf.Scalar | undefined;
    // tf.variableGrads' values, with memory freed during the backward pass (src/kernels/backprop.ts).
    const { value, grads } = frugalVariableGrads(() => {
      const logits = model.forward(input, true, stats);
      if (fused) {
        const { loss, error } = softmaxCrossEntropy(logits, labels);
        errorKept = tf.keep(error);
        return loss;
      }
      logitsKept = tf.keep(logits);
      // Softmax cross-entropy, mean over the batch (gcr: LogSoftMax + ClassNLLCriterion;
      // neon: summed cross-entropy with the gradient divided by the batch size: the same).
      return tf.neg(tf.mean(tf.sum(tf.mul(onehot!, tf.logSoftmax(logits)), 1))) as tf.Scalar;
    }, model.trainableVariables());
    // variableGrads keys gradients by variable name; the solver wants parameter names.
    const named: Record<string, tf.Tensor> = {};
    for (const p of params) named[p.name] = grads[p.variable.name];
    solver.step(params, named, lr);
    if (errorKept != null) {
      // A clone (no copy) belongs to this tidy as the composed error does; the kept original goes.
      const error = tf.clone(errorKept);
      errorKept.dispose();
      return { loss: value, error };
    }
    const error = tf.mean(tf.cast(tf.notEqual(tf.argMax(logitsKept!, 1), labels), 'float32')) as tf.Scalar;
    logitsKept!.dispose();
    return { loss: value, error };
  });
  model.updateRunningStats(stats, bnMomentum);
  disposeStats(stats);
  return out;
}
