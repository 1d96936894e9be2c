// "Look inside the trained model", run in the worker: the current network's predictions on the test
// set (per-class error, confusion matrix, every image's predicted class and confidence) and, on
// request, the same after BN recalibration over the training set. Works on a copy of the network, so
// a paused run that is resumed meanwhile, or the recalibration, never changes the model being trained;
// the copy is freed at the end. Also the pixels of chosen test images, for the page's grid.
// The engine (engine.ts) calls these with its current model and data; the numbers come from
// src/train/analysis.ts and src/train/recalibrate.ts.

import type { CifarSplit, CifarData } from '../data/cifar.ts';
import type { DataStats } from '../data/batches.ts';
import { ResNet } from '../model/resnet.ts';
import { readModelValues, valuesToTensors } from '../model/weights.ts';
import type { ExperimentConfig } from '../experiment/config.ts';
import { analyseModel } from '../train/analysis.ts';
import { resolveExperiment } from '../train/experiment.ts';
import { recalibrateBatchNorm } from '../train/recalibrate.ts';
import type { InspectOptions, InspectStage, ModelInspection, TestImages } from './protocol.ts';

/** At most this many images per test-images request (about 300 KB of pixels). */
export const MAX_TEST_IMAGES = 100;

/** A separate network with the same weights and BN statistics (the caller disposes it). */
export async function copyModel(model: ResNet): Promise<ResNet> {
  const values = await readModelValues(model);
  const tensors = valuesToTensors(model.spec, values);
  try {
    return ResNet.fromValues(model.spec, tensors);
  } finally {
    Object.values(tensors).forEach((t) => t.dispose());
  }
}

/**
 * Analyse `model` (trained with `config` for `steps` steps) on the test set, and with
 * `options.recalibrate` again after recomputing its BN statistics over the training set (batches of
 * the configuration's batch size, as in training). `onProgress` gets each stage's images done.
 */
export async function inspectModel(
  model: ResNet,
  config: ExperimentConfig,
  steps: number,
  data: CifarData,
  stats: DataStats,
  options: InspectOptions,
  onProgress: (stage: InspectStage, done: number, total: number) => void,
): Promise<ModelInspection> {
  const protocol = resolveExperiment(config).data;
  const copy = await copyModel(model);
  try {
    const limit = options.evalLimit;
    const a = await analyseModel(copy, data.test, stats, protocol, { limit, onProgress: (d, t) => onProgress('test', d, t) });
    const out: ModelInspection = {
      config,
      steps,
      n: a.n,
      classes: a.classes,
      labels: a.labels,
      predicted: a.predicted,
      confidence: a.confidence,
      confusion: a.confusion,
      testError: a.error,
    };
    if (options.recalibrate) {
      const r = await recalibrateBatchNorm(copy, data.train, stats, protocol, {
        batch: config.batch,
        limit: options.recalibrateImages,
        onProgress: (d, t) => onProgress('recalibrate', d, t),
      });
      const b = await analyseModel(copy, data.test, stats, protocol, {
        limit,
        onProgress: (d, t) => onProgress('test-recalibrated', d, t),
      });
      out.recalibrated = { testError: b.error, confusion: b.confusion, predicted: b.predicted, images: r.images, batches: r.batches };
    }
    return out;
  } finally {
    copy.dispose();
  }
}

/** The planar pixels of test images `indices` (each checked), for the grid. */
export function testImagePixels(test: CifarSplit, indices: readonly number[]): TestImages {
  if (indices.length > MAX_TEST_IMAGES)
    throw new RangeError(`Ask for at most ${MAX_TEST_IMAGES} test images at a time (asked for ${indices.length}).`);
  const pixels = new Uint8Array(indices.length * 3072);
  indices.forEach((index, k) => {
    if (!(Number.isInteger(index) && index >= 0 && index < test.n))
      throw new RangeError(`There is no test image ${index} (the test set has ${test.n}).`);
    pixels.set(test.images.subarray(index * 3072, (index + 1) * 3072), k * 3072);
  });
  return { indices: [...indices], pixels };
}
