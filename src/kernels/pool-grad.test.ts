// Checks the 1x1 AvgPoolGrad on wasm: tf.grad of tf.avgPool equals tfjs-cpu's for option A's
// subsampling (even and odd sizes, strides 2 and 1, non-square), other windows still reach the
// backend's own kernel (and still agree), and no tensors are left behind.

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTrainingKernels, unregisterTrainingKernels } from './conv-backprop.ts';

interface Case {
  x: [number, number, number, number];
  k: number;
  s: number | [number, number];
  pad: 'valid' | 'same';
}

const CASES: Case[] = [
  { x: [2, 8, 8, 3], k: 1, s: 2, pad: 'valid' },
  { x: [3, 7, 9, 4], k: 1, s: 2, pad: 'valid' }, // odd sizes: dx is cut
  { x: [2, 6, 6, 5], k: 1, s: 1, pad: 'valid' },
  { x: [1, 8, 6, 2], k: 1, s: [2, 3], pad: 'same' },
  { x: [2, 8, 8, 3], k: 2, s: 2, pad: 'valid' }, // not 1x1: the backend's own kernel
  { x: [2, 7, 7, 3], k: 3, s: 2, pad: 'same' },
];

function grad(c: Case): Float32Array {
  return tf.tidy(() => {
    const n = c.x.reduce((a, b) => a * b, 1);
    const x = tf.tensor4d(
      Float32Array.from({ length: n }, (_, i) => Math.sin(i)),
      c.x,
    );
    const f = (t: tf.Tensor) => {
      const y = tf.avgPool(t as tf.Tensor4D, c.k, c.s, c.pad);
      const r = tf.tensor(
        Float32Array.from({ length: y.size }, (_, i) => Math.cos(3 * i)),
        y.shape,
      );
      return tf.sum(tf.mul(y, r));
    };
    return tf.grad(f)(x).dataSync() as Float32Array;
  });
}

const want = new Map<Case, Float32Array>();

beforeAll(async () => {
  await tf.setBackend('cpu');
  for (const c of CASES) want.set(c, grad(c));
  registerTrainingKernels('wasm');
  await tf.setBackend('wasm');
});

afterAll(() => unregisterTrainingKernels('wasm'));

describe('AvgPoolGrad on wasm', () => {
  it.each(CASES.map((c) => [JSON.stringify(c), c] as const))('equals tfjs-cpu for %s', async (_name, c) => {
    await tf.setBackend('wasm');
    const got = grad(c);
    const ref = want.get(c)!;
    expect(got.length).toBe(ref.length);
    for (let i = 0; i < ref.length; i++) expect(got[i]).toBeCloseTo(ref[i]!, 6);
  });

  it('leaves no tensors behind', async () => {
    await tf.setBackend('wasm');
    grad(CASES[1]!);
    const before = tf.memory().numTensors;
    const ids = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    for (let i = 0; i < 3; i++) grad(CASES[1]!);
    expect(tf.memory().numTensors).toBe(before);
    expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).toBe(ids);
  });
});
