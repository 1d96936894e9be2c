// Checks heap views on tfjs-backend-wasm: a view reads the base tensor's elements from its offset on
// (fed to a real kernel), releasing it frees nothing and leaves no registered id behind, ranges outside
// the base are refused, and other backends report no heap access. padBottomRight equals tf.pad.

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { BatchMatMul } from '@tensorflow/tfjs-core';
import type { KernelBackend, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { heapView, padBottomRight, releaseHeapView, wasmHeapAccess } from './wasm-heap.ts';

describe('heapView on wasm', () => {
  it('reads the base from the offset on, and releasing it frees nothing', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as KernelBackend & { numDataIds(): number };
    const heap = wasmHeapAccess(backend)!;
    expect(heap).not.toBeNull();
    const base = tf.tidy(() => tf.reshape(tf.range(0, 20), [4, 5]));
    const eye = tf.tidy(() => tf.reshape(tf.eye(4), [1, 4, 4]));
    const ids = backend.numDataIds();
    for (const offset of [0, 3, 12]) {
      const view = heapView(heap, base, offset, [1, 2, 4]);
      const kernel = tf.getKernel(BatchMatMul, 'wasm')!;
      const out = kernel.kernelFunc({
        inputs: { a: view, b: eye },
        backend,
        attrs: { transposeA: false, transposeB: false } as unknown as NamedAttrMap,
      }) as TensorInfo;
      releaseHeapView(heap, view);
      expect(Array.from(backend.readSync(out.dataId) as Float32Array)).toEqual(Array.from({ length: 8 }, (_, i) => offset + i));
      backend.disposeData(out.dataId);
      expect(backend.numDataIds()).toBe(ids);
    }
    expect(Array.from(await base.data())).toEqual(Array.from({ length: 20 }, (_, i) => i)); // base intact
    tf.dispose([base, eye]);
  });

  it('refuses ranges outside the base tensor', async () => {
    await tf.setBackend('wasm');
    const heap = wasmHeapAccess(tf.backend())!;
    const base = tf.zeros([10]);
    expect(() => heapView(heap, base, 3, [8])).toThrow(/outside/);
    expect(() => heapView(heap, base, -1, [2])).toThrow(/outside/);
    expect(() => heapView(heap, base, 1.5, [2])).toThrow(/outside/);
    base.dispose();
  });

  it('is not offered on other backends', async () => {
    await tf.setBackend('cpu');
    expect(wasmHeapAccess(tf.backend())).toBeNull();
  });
});

describe('padBottomRight on wasm', () => {
  it.each([
    [[2, 3, 4], 1, 2],
    [[1, 5, 6], 0, 3],
    [[3, 2, 2], 2, 0],
    [[4, 1, 1], 0, 0],
  ] as const)('pads %j by %i rows and %i per row like tf.pad', async (dims, bottom, right) => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as KernelBackend & { numDataIds(): number };
    const heap = wasmHeapAccess(backend)!;
    const x = tf.tidy(() => tf.reshape(tf.range(1, dims[0] * dims[1] * dims[2] + 1), [...dims]));
    const ids = backend.numDataIds();
    const out = padBottomRight(heap, x, dims, bottom, right);
    expect(out.shape).toEqual([dims[0], dims[1] + bottom, dims[2] + right]);
    const want = tf.tidy(() =>
      tf
        .pad(x, [
          [0, 0],
          [0, bottom],
          [0, right],
        ])
        .dataSync(),
    );
    expect(Array.from(backend.readSync(out.dataId) as Float32Array)).toEqual(Array.from(want));
    backend.disposeData(out.dataId);
    expect(backend.numDataIds()).toBe(ids);
    x.dispose();
  });

  it('refuses a shape that does not match the tensor', async () => {
    await tf.setBackend('wasm');
    const heap = wasmHeapAccess(tf.backend())!;
    const x = tf.zeros([2, 3]);
    expect(() => padBottomRight(heap, x, [2, 2, 2], 1, 1)).toThrow(/expected/);
    x.dispose();
  });
});
