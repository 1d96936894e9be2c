// The buffer-sharing Identity/Cast on wasm: clones and same-dtype casts keep their values when the
// source is disposed (reference counting), dtype-changing casts still convert, gradients through
// clone/cast are unchanged, and wasm's buffers are all released afterwards.

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerNoCopyKernels, unregisterNoCopyKernels } from './no-copy.ts';

interface WasmBackendView {
  numDataIds(): number;
  dataIdMap: { get(id: object): { memoryOffset: number } };
}

function wasmBackend(): WasmBackendView {
  return tf.backend() as unknown as WasmBackendView;
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerNoCopyKernels('wasm');
  registerNoCopyKernels('wasm'); // idempotent
});

afterAll(() => unregisterNoCopyKernels('wasm'));

describe('no-copy Identity and Cast on wasm', () => {
  it('shares the buffer and survives disposal of the source', () => {
    const ids = wasmBackend().numDataIds();
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a);
    const c = tf.cast(a, 'float32');
    expect(wasmBackend().numDataIds()).toBe(ids + 1); // one buffer for all three
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3]);
    b.dispose();
    expect(Array.from(c.dataSync())).toEqual([1, 2, 3]);
    c.dispose();
    expect(wasmBackend().numDataIds()).toBe(ids);
  });

  it('still converts when the dtype changes', () => {
    const a = tf.tensor1d([1.7, -2.2, 0]);
    const i = tf.cast(a, 'int32');
    const back = tf.cast(i, 'float32');
    expect(i.dtype).toBe('int32');
    expect(Array.from(i.dataSync())).toEqual([1, -2, 0]);
    expect(back.dtype).toBe('float32');
    expect(Array.from(back.dataSync())).toEqual([1, -2, 0]);
    tf.dispose([a, i, back]);
  });

  it('keeps gradients through clone and cast', () => {
    const x = tf.tensor1d([1, -2, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.cast(tf.clone(t), 'float32'), tf.square(t))))(x);
    expect(Array.from(g.dataSync())).toEqual([3, 12, 27]); // d/dx x^3
    tf.dispose([x, g]);
  });

  it('releases every buffer of a training-like loop', () => {
    const w = tf.variable(tf.ones([4, 4]));
    const x = tf.ones([2, 4]);
    const opt = tf.train.sgd(0.01);
    const ids = wasmBackend().numDataIds();
    for (let i = 0; i < 5; i++) {
      tf.tidy(() => {
        opt.minimize(() => tf.sum(tf.relu(tf.matMul(x, w))) as tf.Scalar);
      });
    }
    expect(wasmBackend().numDataIds()).toBe(ids + 1); // the optimizer's kept learning-rate scalar
    tf.dispose([w, x]);
    opt.dispose();
  });
});
