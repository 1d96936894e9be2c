// Looking inside a trained network on a test split: every image's predicted class and confidence,
// the 10x10 confusion matrix, per-class test error, and the test images ordered mistakes first (for
// the page's image grid). Predictions are read back once per batch (one small [n, 3] array), never
// per image. Uses the BN running statistics, exactly as evaluateModel does, so `error` here equals
// evaluateModel's number for the same images.
// What it is not: drawing (the page turns testImageRGBA into pixels) or BN recalibration (recalibrate.ts).

import * as tf from '@tensorflow/tfjs-core';
import type { ResNet } from '../model/resnet.ts';
import type { CifarSplit } from '../data/cifar.ts';
import type { DataProtocol } from '../experiment/protocols.ts';
import { testBatches, type DataStats } from '../data/batches.ts';
import { yieldToEventLoop } from '../util/yield.ts';

export interface AnalyseOptions {
  /** Analyse the first `limit` images only (default: the whole split). */
  limit?: number;
  /** Images per forward pass (default 500). */
  batch?: number;
  onProgress?(done: number, total: number): void;
  /** Called between batches so a worker can answer messages; default yields to the event loop. */
  between?(): Promise<void>;
}

export interface TestAnalysis {
  /** Images analysed: test indices 0..n-1. */
  n: number;
  classes: number;
  /** True label of image i. */
  labels: Uint8Array;
  /** Predicted class (argmax of the logits) of image i. */
  predicted: Uint8Array;
  /** Softmax probability of the predicted class. */
  confidence: Float32Array;
  /** Softmax probability of the true class. */
  trueProbability: Float32Array;
  /** Row-major [true][predicted] counts: confusion[t * classes + p]. */
  confusion: Int32Array;
  /** Misclassified images / n. */
  error: number;
}

export interface ClassError {
  cls: number;
  /** Test images of this class. */
  count: number;
  /** Of those, misclassified. */
  wrong: number;
  /** wrong / count (NaN when count is 0). */
  error: number;
}

/** Predictions of `model` on the first `limit` images of `split`, with the statistics the page shows. */
export async function analyseModel(
  model: ResNet,
  split: CifarSplit,
  stats: DataStats,
  protocol: DataProtocol,
  options: AnalyseOptions = {},
): Promise<TestAnalysis> {
  const classes = model.spec.numClasses;
  const total = Math.max(0, Math.min(options.limit ?? split.n, split.n));
  const labels = new Uint8Array(total);
  const predicted = new Uint8Array(total);
  const confidence = new Float32Array(total);
  const trueProbability = new Float32Array(total);
  let done = 0;
  for (const b of testBatches(split, stats, protocol, options.batch ?? 500, total)) {
    // [n, 3]: predicted class, its probability, the true class's probability. One read per batch.
    const packed = tf.tidy(() => {
      const x = tf.tensor4d(b.x, [b.n, 32, 32, 3]);
      const logits = model.forward(x, false);
      const probs = tf.softmax(logits);
      const pred = tf.argMax(logits, 1); // as evaluateModel does, so the error is the same number
      const conf = tf.max(probs, 1);
      const truth = tf.sum(tf.mul(probs, tf.oneHot(tf.tensor1d(b.y, 'int32'), classes)), 1);
      return tf.stack([tf.cast(pred, 'float32'), conf, truth], 1);
    });
    const v = await packed.data();
    packed.dispose();
    for (let i = 0; i < b.n; i++) {
      const at = b.start + i;
      labels[at] = b.y[i]!;
      predicted[at] = v[3 * i]!;
      confidence[at] = v[3 * i + 1]!;
      trueProbability[at] = v[3 * i + 2]!;
    }
    done += b.n;
    options.onProgress?.(done, total);
    await (options.between ? options.between() : yieldToEventLoop());
  }
  const confusion = confusionMatrix(labels, predicted, classes);
  let wrong = 0;
  for (let i = 0; i < total; i++) if (labels[i] !== predicted[i]) wrong++;
  return { n: total, classes, labels, predicted, confidence, trueProbability, confusion, error: total === 0 ? NaN : wrong / total };
}

/** Row-major [true][predicted] counts of two equally long label arrays. */
export function confusionMatrix(labels: ArrayLike<number>, predicted: ArrayLike<number>, classes = 10): Int32Array {
  if (labels.length !== predicted.length) {
    throw new RangeError(`confusionMatrix: ${labels.length} labels but ${predicted.length} predictions`);
  }
  const m = new Int32Array(classes * classes);
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i]!;
    const p = predicted[i]!;
    if (!(t >= 0 && t < classes && p >= 0 && p < classes)) throw new RangeError(`confusionMatrix: class out of range at ${i} (${t}, ${p})`);
    m[t * classes + p]!++;
  }
  return m;
}

/** Per-class error from a confusion matrix: row sums and their off-diagonal parts. */
export function perClassError(confusion: Int32Array, classes = Math.round(Math.sqrt(confusion.length))): ClassError[] {
  if (classes * classes !== confusion.length) throw new RangeError(`perClassError: ${confusion.length} cells is not ${classes}x${classes}`);
  const out: ClassError[] = [];
  for (let c = 0; c < classes; c++) {
    let count = 0;
    for (let p = 0; p < classes; p++) count += confusion[c * classes + p]!;
    const wrong = count - confusion[c * classes + c]!;
    out.push({ cls: c, count, wrong, error: count === 0 ? NaN : wrong / count });
  }
  return out;
}

export interface GridItem {
  /** Index in the test split. */
  index: number;
  label: number;
  predicted: number;
  /** Probability of the predicted class. */
  confidence: number;
  correct: boolean;
}

export interface GridOptions {
  /** Only images whose true class is this one. */
  trueClass?: number;
  /** Only images predicted as this class. */
  predictedClass?: number;
  /**
   * Order inside each group (mistakes, then correct ones): 'index' keeps test-set order;
   * 'confidence' puts the most confident mistakes first and the least confident correct ones first.
   */
  order?: 'index' | 'confidence';
}

/** Test images for the grid: every mistake before every correct prediction. */
export function mistakesFirst(a: TestAnalysis, options: GridOptions = {}): GridItem[] {
  const items: GridItem[] = [];
  for (let i = 0; i < a.n; i++) {
    if (options.trueClass !== undefined && a.labels[i] !== options.trueClass) continue;
    if (options.predictedClass !== undefined && a.predicted[i] !== options.predictedClass) continue;
    items.push({
      index: i,
      label: a.labels[i]!,
      predicted: a.predicted[i]!,
      confidence: a.confidence[i]!,
      correct: a.labels[i] === a.predicted[i],
    });
  }
  const byConfidence = options.order === 'confidence';
  items.sort((x, y) => {
    if (x.correct !== y.correct) return x.correct ? 1 : -1;
    if (byConfidence && x.confidence !== y.confidence) return x.correct ? x.confidence - y.confidence : y.confidence - x.confidence;
    return x.index - y.index;
  });
  return items;
}

/** Image `index` of a split as 32x32 RGBA bytes (for ImageData / a canvas). */
export function testImageRGBA(split: CifarSplit, index: number, out = new Uint8ClampedArray(32 * 32 * 4)): Uint8ClampedArray {
  if (!(Number.isInteger(index) && index >= 0 && index < split.n))
    throw new RangeError(`testImageRGBA: index ${index} outside 0..${split.n - 1}`);
  const base = index * 3072;
  for (let p = 0; p < 1024; p++) {
    out[4 * p] = split.images[base + p]!;
    out[4 * p + 1] = split.images[base + 1024 + p]!;
    out[4 * p + 2] = split.images[base + 2048 + p]!;
    out[4 * p + 3] = 255;
  }
  return out;
}
