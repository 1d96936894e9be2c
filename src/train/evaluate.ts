// Test-set evaluation of a network with its BN running statistics: the number every chart and table
// compares. Shared by the trainer (after every epoch), the CLI's `eval` and the page's "Load weights".

import * as tf from '@tensorflow/tfjs-core';
import type { ResNet } from '../model/resnet.ts';
import type { CifarSplit } from '../data/cifar.ts';
import type { DataProtocol } from '../experiment/protocols.ts';
import { newBatchBuffers, testBatches, type DataStats } from '../data/batches.ts';
import { yieldToEventLoop } from '../util/yield.ts';

export interface EvaluateOptions {
  /** Evaluate the first `limit` images only (default: the whole split). */
  limit?: number;
  /** Images per forward pass. */
  batch?: number;
  onProgress?(done: number, total: number): void;
  /** Called between batches so a worker can answer messages; default yields to the event loop. */
  between?(): Promise<void>;
}

/** Fraction of misclassified images. The error count stays on the device until the end: one read. */
export async function evaluateModel(
  model: ResNet,
  test: CifarSplit,
  stats: DataStats,
  protocol: DataProtocol,
  options: EvaluateOptions = {},
): Promise<number> {
  const total = Math.min(options.limit ?? test.n, test.n);
  let wrong = tf.scalar(0, 'int32');
  let done = 0;
  const batch = options.batch ?? 500;
  // One array for every batch (6 MB at 500 images): each batch's tensor is made and disposed inside
  // the tidy below before the next batch is written over it.
  const buffers = newBatchBuffers(Math.min(batch, Math.max(total, 1)));
  for (const b of testBatches(test, stats, protocol, batch, total, buffers)) {
    const next = tf.tidy(() => {
      const x = tf.tensor4d(b.x, [b.n, 32, 32, 3]);
      const pred = tf.argMax(model.forward(x, false), 1);
      return tf.add(wrong, tf.sum(tf.cast(tf.notEqual(pred, tf.tensor1d(b.y, 'int32')), 'int32'))) as tf.Scalar;
    });
    wrong.dispose();
    wrong = next;
    done += b.n;
    options.onProgress?.(done, total);
    await (options.between ? options.between() : yieldToEventLoop());
  }
  const w = (await wrong.data())[0];
  wrong.dispose();
  return done === 0 ? NaN : w / done;
}
