// Checks the kept XNNPACK packed weights on tfjs-backend-wasm: the layout is found, dy written on its
// grid gives the very product (bit for bit) of the same matrix packed by XNNPACK itself, also after
// dy changes and for column counts that are no multiple of the block; holders are kept per shape and
// tag, at most 8, and freed on release; and the filter gradient is the same with and without them.

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { BatchMatMul } from '@tensorflow/tfjs-core';
import type { KernelBackend, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { packedShapeCount, packedWeights, releasePackedWeights, setWriteGridInWasm, writeGrid } from './prepacked.ts';
import { wasmHeapAccess, type WasmBackendInternals } from './wasm-heap.ts';
import { composedKernels } from './conv-backprop.ts';
import { patchKernelOptions } from './test-utils.ts';

let backend: KernelBackend & { numDataIds(): number };
let heap: WasmBackendInternals;

function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
}

function matMul(a: TensorInfo, b: TensorInfo): Float32Array {
  const out = tf.getKernel(BatchMatMul, 'wasm')!.kernelFunc({
    inputs: { a, b },
    backend,
    attrs: { transposeA: false, transposeB: false } as unknown as NamedAttrMap,
  }) as TensorInfo;
  const v = (backend.readSync(out.dataId) as Float32Array).slice();
  backend.disposeData(out.dataId);
  return v;
}

/** dy [N,Ho,Wo,Co] on an R x C grid per image, zeros elsewhere: [1, N*R*C, Co]. */
function gridMatrix(dy: Float32Array, [N, Ho, Wo, Co]: readonly number[], R: number, C: number): Float32Array {
  const m = new Float32Array(N! * R * C * Co!);
  for (let n = 0; n < N!; n++) {
    for (let i = 0; i < Ho!; i++) {
      for (let j = 0; j < Wo!; j++) {
        for (let c = 0; c < Co!; c++) m[((n * R + i) * C + j) * Co! + c] = dy[((n * Ho! + i) * Wo! + j) * Co! + c]!;
      }
    }
  }
  return m;
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  backend = tf.backend() as typeof backend;
  heap = wasmHeapAccess(backend)!;
});

afterEach(() => patchKernelOptions({ labFilterGradTaps: true }));

afterAll(() => {
  releasePackedWeights(heap);
  patchKernelOptions({ prepackedWeights: true });
});

describe.each([
  ['the lab wasm kernel', true],
  ['the JS loop', false],
])('packed weights kept for XNNPACK, dy written by %s', (_name, inWasm) => {
  beforeAll(() => setWriteGridInWasm(inWasm));
  afterAll(() => setWriteGridInWasm(true));

  it.each([
    [[2, 4, 5, 8], 5, 6],
    [[3, 3, 3, 10], 4, 4], // 10 columns: a full block and a padded one
    [[1, 6, 6, 3], 7, 7],
    [[2, 8, 8, 16], 9, 9],
    [[1, 5, 4, 24], 5, 4], // no frame at all
  ] as const)('dy %j on a %i x %i grid: the product equals XNNPACK packing the same matrix, bit for bit', (shape, R, C) => {
    const [N, , , Co] = shape;
    const K = N * R * C;
    const pw = packedWeights(heap, K, Co, `test ${shape.join('x')} ${R}x${C}`);
    expect(pw).not.toBeNull();
    expect([4, 8, 16, 32]).toContain(pw!.nr);
    const a = tf.tensor3d(values(5 * K, 1), [1, 5, K]);
    for (const seed of [2, 3]) {
      // A second dy checks that rows outside the images stayed zero and nothing of the first is left.
      const dyValues = values(
        shape.reduce((p: number, q: number) => p * q, 1),
        seed,
      );
      const dy = tf.tensor4d(dyValues, [...shape]);
      writeGrid(heap, pw!, dy, R, C);
      const fresh = tf.tensor3d(gridMatrix(dyValues, shape, R, C), [1, K, Co]);
      const ours = matMul(a, pw!.holder);
      const theirs = matMul(a, fresh);
      expect(ours.length).toBe(5 * Co);
      for (let i = 0; i < ours.length; i++) expect(Object.is(ours[i], theirs[i])).toBe(true);
      tf.dispose([dy, fresh]);
    }
    a.dispose();
  });

  it('refuses a dy that does not fit the weights', () => {
    const pw = packedWeights(heap, 2 * 3 * 3, 4, 'misfit')!;
    const dy = tf.zeros([2, 3, 3, 5]);
    expect(() => writeGrid(heap, pw, dy, 3, 3)).toThrow(/does not fit/);
    dy.dispose();
  });

  it('keeps one holder per shape and tag, at most 8, and frees them on release', () => {
    releasePackedWeights(heap);
    const ids = backend.numDataIds();
    const first = packedWeights(heap, 40, 8, 'a');
    expect(packedWeights(heap, 40, 8, 'a')).toBe(first);
    expect(packedWeights(heap, 40, 8, 'b')).not.toBe(first);
    expect(packedShapeCount(heap)).toBe(2);
    expect(backend.numDataIds()).toBe(ids + 2);
    for (let i = 0; i < 10; i++) packedWeights(heap, 16 + i, 4, 'many');
    expect(packedShapeCount(heap)).toBe(8);
    expect(backend.numDataIds()).toBe(ids + 8);
    releasePackedWeights(heap);
    expect(packedShapeCount(heap)).toBe(0);
    expect(backend.numDataIds()).toBe(ids);
  });

  it('leaves the filter gradient unchanged, bit for bit, at ResNet shapes (3x3 stride 1 and 2, 1x1 projection)', () => {
    const { filterGrad } = composedKernels('wasm');
    for (const [hw, ci, co, s, k] of [
      [16, 16, 16, 1, 3],
      [8, 32, 64, 1, 3],
      [16, 16, 32, 2, 3],
      [16, 16, 32, 2, 1],
    ] as const) {
      const x = tf.tensor4d(values(4 * hw * hw * ci, 7), [4, hw, hw, ci]);
      const dy = tf.tensor4d(values((4 * hw * hw * co) / (s * s), 8), [4, hw / s, hw / s, co]);
      const pad =
        k === 3
          ? [
              [0, 0],
              [1, 1],
              [1, 1],
              [0, 0],
            ]
          : 'valid';
      const attrs = { strides: s, pad, dataFormat: 'NHWC', filterShape: [k, k, ci, co] };
      const run = () => {
        const out = filterGrad({ inputs: { x, dy }, backend, attrs: attrs as unknown as NamedAttrMap }) as TensorInfo;
        const v = (backend.readSync(out.dataId) as Float32Array).slice();
        backend.disposeData(out.dataId);
        return v;
      };
      patchKernelOptions({ labFilterGradTaps: false, prepackedWeights: false }); // the matrix-product path, XNNPACK packing dy
      const packedByXnnpack = run();
      patchKernelOptions({ prepackedWeights: true });
      const before = packedShapeCount(heap);
      const written = run();
      patchKernelOptions({ labFilterGradTaps: true });
      expect(packedShapeCount(heap)).toBe(before + 1);
      expect(Array.from(written)).toEqual(Array.from(packedByXnnpack));
      tf.dispose([x, dy]);
    }
  });
});
