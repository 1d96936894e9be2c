// Optional BN recalibration before testing, as the paper's author recommended to gcr: every BN layer's
// running statistics recomputed over the training set with the final weights (during training they mix
// statistics of earlier weights). The training images in order, not augmented, normalised as test
// images are, go through the network in training mode; each layer's running statistics take gcr's
// "dynamic" momentum 1/(1+k) over the whole pass, so they end as the plain average of the batch means
// and variances (the last, smaller batch counting like the others). The previous statistics are
// returned so the caller can show the error with and without, and put them back.

import * as tf from '@tensorflow/tfjs-core';
import { disposeStats, type BnBatchStats, type ResNet } from '../model/resnet.ts';
import type { CifarSplit } from '../data/cifar.ts';
import type { DataProtocol } from '../experiment/protocols.ts';
import { testBatches, type DataStats } from '../data/batches.ts';
import { evaluateModel, type EvaluateOptions } from './evaluate.ts';
import { yieldToEventLoop } from '../util/yield.ts';

/** Every BN layer's running_mean and running_var, by parameter name. */
export interface RunningStatsSnapshot {
  values: Record<string, Float32Array>;
}

export interface RecalibrateOptions {
  /** Images per batch (default 128, the papers' training batch: batch statistics depend on it). */
  batch?: number;
  /** Use the first `limit` training images only (default: all). */
  limit?: number;
  onProgress?(done: number, total: number): void;
  /** Called between batches so a worker can answer messages; default yields to the event loop. */
  between?(): Promise<void>;
}

export interface Recalibration {
  /** Batches averaged (K). */
  batches: number;
  /** Training images used. */
  images: number;
  /** The statistics before recalibration: restoreRunningStats(model, previous) puts them back. */
  previous: RunningStatsSnapshot;
}

function runningStatNames(model: ResNet): string[] {
  return model.info.filter((p) => p.kind === 'bn-mean' || p.kind === 'bn-var').map((p) => p.name);
}

/** A copy of the model's BN running statistics (reads them back: a few KB). */
export async function readRunningStats(model: ResNet): Promise<RunningStatsSnapshot> {
  const values: Record<string, Float32Array> = {};
  for (const name of runningStatNames(model)) values[name] = Float32Array.from(await model.params[name].data()); // a copy: cpu hands out its own buffer
  return { values };
}

/** Put back statistics from readRunningStats (or a Recalibration's `previous`). */
export function restoreRunningStats(model: ResNet, snapshot: RunningStatsSnapshot): void {
  const names = runningStatNames(model);
  for (const name of names) {
    const v = snapshot.values[name];
    if (!v || v.length !== model.params[name].size) throw new RangeError(`restoreRunningStats: ${name} is missing or has the wrong size`);
  }
  tf.tidy(() => {
    for (const name of names) model.params[name].assign(tf.tensor(snapshot.values[name]!, model.params[name].shape, 'float32'));
  });
}

/**
 * Replace every BN layer's running statistics by their average over the training set (see the top of
 * this file). Changes the model in place; returns what is needed to undo it.
 */
export async function recalibrateBatchNorm(
  model: ResNet,
  train: CifarSplit,
  stats: DataStats,
  protocol: DataProtocol,
  options: RecalibrateOptions = {},
): Promise<Recalibration> {
  const total = Math.max(0, Math.min(options.limit ?? train.n, train.n));
  if (total === 0) throw new RangeError('recalibrateBatchNorm: no training images to average over');
  const previous = await readRunningStats(model);
  let k = 0;
  let done = 0;
  for (const b of testBatches(train, stats, protocol, options.batch ?? 128, total)) {
    const batchStats: BnBatchStats[] = [];
    tf.tidy(() => {
      model.forward(tf.tensor4d(b.x, [b.n, 32, 32, 3]), true, batchStats);
    });
    model.updateRunningStats(batchStats, 1 / (1 + k)); // k = 0 replaces: no trace of the old values
    disposeStats(batchStats);
    k++;
    done += b.n;
    options.onProgress?.(done, total);
    await (options.between ? options.between() : yieldToEventLoop());
  }
  return { batches: k, images: done, previous };
}

export interface RecalibrationEffect {
  /** Test error with the statistics the network came with. */
  before: number;
  /** Test error after recalibration. */
  after: number;
  recalibration: Recalibration;
  /** Whether the recalibrated statistics were kept in the model (otherwise the old ones are back). */
  kept: boolean;
}

/** Test error without and with recalibration; `keep` leaves the recalibrated statistics in place. */
export async function recalibrationEffect(
  model: ResNet,
  data: { train: CifarSplit; test: CifarSplit },
  stats: DataStats,
  protocol: DataProtocol,
  options: { recalibrate?: RecalibrateOptions; evaluate?: EvaluateOptions; keep?: boolean } = {},
): Promise<RecalibrationEffect> {
  const before = await evaluateModel(model, data.test, stats, protocol, options.evaluate);
  const recalibration = await recalibrateBatchNorm(model, data.train, stats, protocol, options.recalibrate);
  const after = await evaluateModel(model, data.test, stats, protocol, options.evaluate);
  const kept = options.keep === true;
  if (!kept) restoreRunningStats(model, recalibration.previous);
  return { before, after, recalibration, kept };
}
