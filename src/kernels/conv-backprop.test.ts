// Checks the composed convolution gradient kernels and the forward convolution: on wasm (where they
// are registered) tf.conv2d and tf.grads of it must equal tfjs-cpu's own kernels to float32 rounding, for the shapes the ResNets use and
// their odd/even, stride, padding and kernel-size corners; one case is also checked against a float64
// naive convolution written here, and the two filter-gradient forms (framed products, dilated Conv2D)
// against each other at ResNet shapes.

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { composedKernels, registerTrainingKernels, unregisterTrainingKernels, UnsupportedConvGradientError } from './conv-backprop.ts';
import { patchKernelOptions, relErr, values } from './test-utils.ts';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
interface Case {
  x: [number, number, number, number]; // N, H, W, Ci
  k: number;
  co: number;
  s: number | [number, number];
  pad: Pad;
}

const CASES: Case[] = [
  { x: [1, 8, 8, 3], k: 3, co: 16, s: 1, pad: 'same' },
  { x: [2, 8, 8, 16], k: 3, co: 16, s: 2, pad: 'same' }, // even input, stride 2: pad top/left 0, bottom/right 1
  { x: [2, 9, 9, 16], k: 3, co: 32, s: 2, pad: 'same' }, // odd input: pad 1 on every side
  { x: [3, 7, 9, 3], k: 3, co: 16, s: 2, pad: 'valid' }, // last row/column unused
  { x: [4, 16, 16, 16], k: 3, co: 32, s: 2, pad: 'same' },
  { x: [2, 16, 16, 16], k: 1, co: 32, s: 2, pad: 'valid' }, // neon's projection shortcut
  { x: [2, 15, 15, 16], k: 1, co: 32, s: 2, pad: 'same' },
  { x: [1, 16, 16, 32], k: 3, co: 32, s: 1, pad: 'same' },
  { x: [2, 32, 32, 3], k: 3, co: 16, s: 1, pad: 'same' }, // the first ResNet layer
  { x: [1, 32, 32, 16], k: 3, co: 16, s: 2, pad: 'same' },
  { x: [4, 8, 8, 32], k: 1, co: 16, s: 1, pad: 'valid' },
  { x: [1, 17, 16, 16], k: 3, co: 16, s: 1, pad: 'valid' },
  { x: [2, 9, 8, 3], k: 1, co: 16, s: 1, pad: 'same' },
  { x: [3, 31, 31, 3], k: 3, co: 16, s: 2, pad: 'same' },
  {
    x: [2, 8, 8, 16],
    k: 3,
    co: 16,
    s: 2,
    pad: [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ],
  },
  {
    x: [1, 8, 8, 3],
    k: 3,
    co: 4,
    s: 1,
    pad: [
      [0, 0],
      [3, 0],
      [0, 2],
      [0, 0],
    ],
  }, // pad >= kernel: cropping path
  { x: [2, 8, 9, 3], k: 3, co: 16, s: [2, 1], pad: 'same' },
  // Stride 1 takes the framed matrix-product path on wasm: other kernel sizes and paddings.
  { x: [2, 6, 7, 8], k: 5, co: 4, s: 1, pad: 'same' },
  { x: [1, 4, 5, 2], k: 4, co: 3, s: 1, pad: 'same' }, // even kernel: pads top 1, bottom 2
  {
    x: [2, 6, 6, 4],
    k: 3,
    co: 8,
    s: 1,
    pad: [
      [0, 0],
      [0, 2],
      [1, 0],
      [0, 0],
    ],
  },
  { x: [3, 5, 9, 1], k: 3, co: 2, s: 1, pad: 'same' }, // one input channel
  { x: [2, 7, 5, 6], k: 3, co: 5, s: 1, pad: 'valid' },
  // Stride 1 with channels the lab's kernels take (inputs a multiple of 4, outputs of 8): widths off
  // its 4-pixel tile, asymmetric and zero padding, a 5x5 kernel.
  { x: [2, 7, 9, 4], k: 3, co: 8, s: 1, pad: 'same' },
  {
    x: [1, 6, 5, 8],
    k: 3,
    co: 16,
    s: 1,
    pad: [
      [0, 0],
      [2, 0],
      [0, 1],
      [0, 0],
    ],
  },
  { x: [2, 9, 6, 4], k: 5, co: 8, s: 1, pad: 'same' },
  { x: [3, 5, 7, 12], k: 3, co: 24, s: 1, pad: 'valid' },
  // Strides take the phased path on wasm.
  { x: [2, 9, 8, 4], k: 3, co: 6, s: 3, pad: 'same' },
  {
    x: [2, 10, 9, 3],
    k: 5,
    co: 4,
    s: 2,
    pad: [
      [0, 0],
      [2, 1],
      [0, 2],
      [0, 0],
    ],
  },
];

function label(c: Case): string {
  return `x ${c.x.join('x')} k${c.k} co${c.co} s${String(c.s)} pad ${JSON.stringify(c.pad)}`;
}

function outShape(c: Case): number[] {
  return tf.tidy(() => tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros([c.k, c.k, c.x[3], c.co]) as tf.Tensor4D, c.s, c.pad).shape);
}

/** conv2d(x, w) on the current backend. */
function convForward(c: Case): Float32Array {
  const wShape = [c.k, c.k, c.x[3], c.co];
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  return tf.tidy(() => {
    const x = tf.tensor4d(values(size(c.x), 1), c.x);
    const w = tf.tensor4d(values(size(wShape), 2), wShape as [number, number, number, number]);
    return tf.conv2d(x, w, c.s, c.pad).dataSync() as Float32Array;
  });
}

/** dx and dw of sum(conv2d(x, w) * r) on the current backend. */
function convGrads(c: Case): { dx: Float32Array; dw: Float32Array } {
  const wShape = [c.k, c.k, c.x[3], c.co];
  const yShape = outShape(c);
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const x = tf.tensor4d(values(size(c.x), 1), c.x);
  const w = tf.tensor4d(values(size(wShape), 2), wShape as [number, number, number, number]);
  const r = tf.tensor(values(size(yShape), 3), yShape);
  const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad), r));
  const [gx, gw] = tf.grads(f)([x, w]);
  const out = { dx: gx!.dataSync() as Float32Array, dw: gw!.dataSync() as Float32Array };
  tf.dispose([x, w, r, gx!, gw!]);
  return out;
}

const TOL = 2e-5; // float32 rounding relative to the largest entry; sums of up to ~5k products

const reference = new Map<string, { dx: Float32Array; dw: Float32Array }>();
const forwardReference = new Map<string, Float32Array>();

beforeAll(async () => {
  await tf.setBackend('cpu');
  for (const c of CASES) reference.set(label(c), convGrads(c)); // tfjs-cpu's own kernels
  for (const c of CASES) forwardReference.set(label(c), convForward(c));
  registerTrainingKernels('wasm');
  await tf.setBackend('wasm');
});

afterAll(() => {
  unregisterTrainingKernels('wasm');
});

describe.each([
  ['with', true],
  ['without', false],
])('forward conv on wasm equals tfjs-cpu, %s the lab wasm kernels (the lab kernel where it fits, else XNNPACK)', (_w, lab) => {
  it.each(CASES.map((c) => [label(c), c] as const))('%s', async (_name, c) => {
    await tf.setBackend('wasm');
    patchKernelOptions({ labWasm: lab });
    const got = convForward(c);
    patchKernelOptions({ labWasm: true });
    expect(relErr(got, forwardReference.get(label(c))!)).toBeLessThan(TOL);
  });
});

describe.each([
  ['with', true],
  ['without', false],
])('composed conv gradients on wasm equal tfjs-cpu, %s the lab wasm kernels', (_w, lab) => {
  it.each(CASES.map((c) => [label(c), c] as const))('%s', async (_name, c) => {
    await tf.setBackend('wasm');
    patchKernelOptions({ labWasm: lab });
    const got = convGrads(c);
    patchKernelOptions({ labWasm: true });
    const want = reference.get(label(c))!;
    expect(relErr(got.dx, want.dx)).toBeLessThan(TOL);
    expect(relErr(got.dw, want.dw)).toBeLessThan(TOL);
  });
});

describe('float64 naive convolution', () => {
  // Conv forward y[n,i,j,co] = sum x[n, s*i+kh-pt, s*j+kw-pl, ci] w[kh,kw,ci,co]; loss = sum(y * r).
  function naive(c: Case, pt: number, pl: number, ho: number, wo: number) {
    const [N, H, W, Ci] = c.x;
    const { k: K, co: Co } = c;
    const s = c.s as number;
    const x = Float64Array.from(values(N * H * W * Ci, 1));
    const w = Float64Array.from(values(K * K * Ci * Co, 2));
    const r = Float64Array.from(values(N * ho * wo * Co, 3));
    const dx = new Float64Array(x.length);
    const dw = new Float64Array(w.length);
    for (let n = 0; n < N; n++)
      for (let i = 0; i < ho; i++)
        for (let j = 0; j < wo; j++)
          for (let kh = 0; kh < K; kh++)
            for (let kw = 0; kw < K; kw++) {
              const h = s * i + kh - pt;
              const v = s * j + kw - pl;
              if (h < 0 || h >= H || v < 0 || v >= W) continue;
              for (let ci = 0; ci < Ci; ci++)
                for (let co = 0; co < Co; co++) {
                  const g = r[((n * ho + i) * wo + j) * Co + co]!;
                  const xi = ((n * H + h) * W + v) * Ci + ci;
                  const wi = ((kh * K + kw) * Ci + ci) * Co + co;
                  dx[xi]! += g * w[wi]!;
                  dw[wi]! += g * x[xi]!;
                }
            }
    return { dx, dw };
  }

  it('matches for 2x8x7x3, 3x3, stride 2, same (pads top 0, bottom 1 / left 1, right 1)', async () => {
    const c: Case = { x: [2, 8, 7, 3], k: 3, co: 5, s: 2, pad: 'same' };
    // tfjs 'same': out = ceil(in / s); total pad = (out-1)*s + k - in; top = floor(total / 2).
    // H = 8: out 4, total 1, top 0. W = 7: out 4, total 2, left 1.
    const want = naive(c, 0, 1, 4, 4);
    await tf.setBackend('wasm');
    const got = convGrads(c);
    expect(relErr(got.dx, want.dx)).toBeLessThan(1e-6);
    expect(relErr(got.dw, want.dw)).toBeLessThan(1e-6);
  });
});

describe('other uses and errors', () => {
  it('conv2dTranspose (which runs Conv2DBackpropInput) equals tfjs-cpu', async () => {
    const run = () =>
      tf.tidy(() => {
        const y = tf.tensor4d(values(2 * 4 * 4 * 8, 5), [2, 4, 4, 8]);
        const w = tf.tensor4d(values(3 * 3 * 6 * 8, 6), [3, 3, 6, 8]);
        return tf.conv2dTranspose(y, w, [2, 8, 8, 6], 2, 'same').dataSync() as Float32Array;
      });
    await tf.setBackend('cpu');
    const want = run();
    await tf.setBackend('wasm');
    expect(relErr(run(), want)).toBeLessThan(TOL);
  });

  it('refuses NCHW filter gradients with a named error', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 3, 8, 8]);
    const dy = tf.zeros([1, 4, 8, 8]);
    expect(() =>
      tf.engine().runKernel(
        'Conv2DBackpropFilter',
        { x, dy },
        {
          strides: 1,
          pad: 'same',
          dataFormat: 'NCHW',
          filterShape: [3, 3, 3, 4],
        },
      ),
    ).toThrow(UnsupportedConvGradientError);
    tf.dispose([x, dy]);
  });

  it.each([1, 2, 7])('does not leak tensors across gradient calls (case %i)', async (k) => {
    await tf.setBackend('wasm');
    const c = CASES[k]!;
    convGrads(c);
    const before = tf.memory().numTensors;
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const ids = backend.numDataIds();
    for (let i = 0; i < 5; i++) convGrads(c);
    expect(tf.memory().numTensors).toBe(before);
    expect(backend.numDataIds()).toBe(ids);
  });

  it('framed/phased (one-pass lab kernel, and matrix products) and dilated filter gradients agree at ResNet shapes (batch 4)', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend();
    const { filterGrad, filterGradDilated } = composedKernels('wasm');
    for (const [hw, ci, co, s] of [
      [32, 3, 16, 1],
      [32, 16, 16, 1],
      [16, 32, 32, 1],
      [8, 64, 64, 1],
      [32, 16, 32, 2],
      [16, 32, 64, 2],
    ] as const) {
      const x = tf.tensor4d(values(4 * hw * hw * ci, 7), [4, hw, hw, ci]);
      const dy = tf.tensor4d(values((4 * hw * hw * co) / (s * s), 8), [4, hw / s, hw / s, co]);
      const attrs = {
        strides: s,
        pad: [
          [0, 0],
          [1, 1],
          [1, 1],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        filterShape: [3, 3, ci, co],
      };
      const run = (f: KernelFunc) => {
        const out = f({ inputs: { x, dy }, backend, attrs: attrs as unknown as NamedAttrMap }) as TensorInfo;
        const v = backend.readSync(out.dataId) as Float32Array;
        backend.disposeData(out.dataId);
        return v;
      };
      const dilated = run(filterGradDilated);
      expect(relErr(run(filterGrad), dilated)).toBeLessThan(TOL); // the lab's one-pass kernel where it fits
      patchKernelOptions({ labFilterGradTaps: false });
      try {
        expect(relErr(run(filterGrad), dilated)).toBeLessThan(TOL); // the matrix products on packed dy
      } finally {
        patchKernelOptions({ labFilterGradTaps: true });
      }
      tf.dispose([x, dy]);
    }
  });

  it('registers idempotently and restores the original kernels', async () => {
    registerTrainingKernels('wasm');
    registerTrainingKernels('wasm');
    const mine = tf.getKernel('Conv2DBackpropFilter', 'wasm');
    expect(mine).toBeDefined();
    unregisterTrainingKernels('wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')).toBeDefined(); // wasm's own one is back
    registerTrainingKernels('wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });
});

describe('composed kernels on cpu equal tfjs-cpu own kernels', () => {
  it.each(CASES.slice(0, 8).map((c) => [label(c), c] as const))('%s', async (_name, c) => {
    await tf.setBackend('cpu');
    registerTrainingKernels('cpu');
    try {
      const got = convGrads(c);
      const want = reference.get(label(c))!;
      expect(relErr(got.dx, want.dx)).toBeLessThan(TOL);
      expect(relErr(got.dw, want.dw)).toBeLessThan(TOL);
    } finally {
      unregisterTrainingKernels('cpu');
    }
  });
});
