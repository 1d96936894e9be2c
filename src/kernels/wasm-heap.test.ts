// Checks heap views on tfjs-backend-wasm: a view reads the base tensor's elements from its offset on
// (fed to a real kernel), releasing it frees nothing and leaves no registered id behind, ranges outside
// the base are refused, and other backends report no heap access.

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { BatchMatMul } from '@tensorflow/tfjs-core';
import type { KernelBackend, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { heapView, releaseHeapView, wasmHeapAccess } from './wasm-heap.ts';

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
