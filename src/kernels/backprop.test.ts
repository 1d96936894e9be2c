// frugalVariableGrads (backprop.ts) against tf.variableGrads on real ResNet-8 training losses, on the cpu
// and wasm backends: the same loss and gradients for every block variant and shortcut (and neon's logit
// BN), a lower tensor-memory peak, no tensors left behind, and named errors.

import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from '../backend/setup.ts';
import { ResNet, disposeStats, type BnBatchStats } from '../model/resnet.ts';
import { modelSpec } from '../train/experiment.ts';
import type { BlockVariant, ShortcutType } from '../experiment/config.ts';
import type { ProtocolName } from '../experiment/protocols.ts';
import { frugalVariableGrads } from './backprop.ts';

function lossOf(model: ResNet, x: tf.Tensor4D, labels: tf.Tensor2D): () => tf.Scalar {
  return () => {
    const stats: BnBatchStats[] = [];
    const logits = model.forward(x, true, stats);
    disposeStats(stats);
    return tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  };
}

const CASES: [ProtocolName, BlockVariant, ShortcutType][] = [
  ['gcr', 'relu-bnbefore', 'A'],
  ['paper', 'norelu-bnafter', 'B'],
  ['neon', 'relu-bnafter', 'neon'],
  ['gcr', 'norelu-bnbefore', 'A'],
];

describe.each(['cpu', 'wasm'] as BackendName[])('frugalVariableGrads on %s', (backend) => {
  it.each(CASES)('equals tf.variableGrads for ResNet-8 %s %s %s', async (protocol, block, shortcut) => {
    await initBackend(backend);
    const model = ResNet.create(modelSpec({ protocol, depth: 8, block, shortcut }), 5);
    const x = tf.randomNormal([4, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const labels = tf.oneHot(tf.tensor1d([1, 4, 7, 9], 'int32'), 10) as tf.Tensor2D;
    const vars = model.trainableVariables();
    const want = tf.variableGrads(lossOf(model, x, labels), vars);
    const got = frugalVariableGrads(lossOf(model, x, labels), vars);
    expect(got.value.dataSync()[0]).toBe(want.value.dataSync()[0]);
    expect(Object.keys(got.grads).sort()).toEqual(Object.keys(want.grads).sort());
    for (const name of Object.keys(want.grads)) {
      const a = got.grads[name]!.dataSync();
      const b = want.grads[name]!.dataSync();
      let worst = 0;
      for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      expect(worst, name).toBe(0);
    }
    tf.dispose([got.value, want.value, ...Object.values(got.grads), ...Object.values(want.grads), x, labels]);
    model.dispose();
  });

  it('peaks lower than tf.variableGrads and leaves no tensors behind', async () => {
    await initBackend(backend);
    const model = ResNet.create(modelSpec({ protocol: 'gcr', depth: 14, block: 'relu-bnbefore', shortcut: 'A' }), 5);
    const x = tf.randomNormal([8, 32, 32, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 10) as tf.Tensor2D;
    const vars = model.trainableVariables();
    const peak = async (grads: typeof frugalVariableGrads) =>
      (
        await tf.profile(() => {
          const r = grads(lossOf(model, x, labels), vars);
          tf.dispose([r.value, ...Object.values(r.grads)]);
        })
      ).peakBytes;
    const before = tf.memory().numTensors;
    const frugal = await peak(frugalVariableGrads);
    expect(tf.memory().numTensors).toBe(before);
    const stock = await peak(tf.variableGrads as typeof frugalVariableGrads);
    expect(tf.memory().numTensors).toBe(before);
    expect(frugal).toBeLessThan(0.7 * stock);
    tf.dispose([x, labels]);
    model.dispose();
  });

  it('refuses a non-scalar loss and nested use, by name', async () => {
    await initBackend(backend);
    const v = tf.variable(tf.ones([3]));
    expect(() => frugalVariableGrads(() => tf.mul(v, 2) as unknown as tf.Scalar, [v])).toThrow(/scalar/);
    expect(() => tf.grad((t: tf.Tensor) => frugalVariableGrads(() => tf.sum(tf.mul(v, t)), [v]).value)(tf.ones([3]))).toThrow(
      /inside another gradient/,
    );
    v.dispose();
  });
});
