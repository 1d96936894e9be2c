// The lab's own wasm kernels (lab-wasm.ts, kernels-as/lab-kernels.ts) on tfjs-wasm's heap, against the
// same formulas computed here in float64: batch-norm moments and gradient (with and without the
// ReLU mask, channels in groups of 16 and of 4, row counts off the kernel's block size, a channel far
// from zero), the ReLU gradient and add-then-ReLU, the filter gradient from x's frame (with plain SIMD
// here, and with relaxed SIMD in a Node started with it). Also: the binaries import only tfjs's memory
// and write nothing when instantiated, and the kernels are off where they should be.

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LAB_WASM_PLAIN, LAB_WASM_PLAIN_RELAXED, LAB_WASM_SHARED, LAB_WASM_SHARED_RELAXED } from './lab-wasm.binary.ts';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { labConv2D, labFilterGradTaps, labFilterGradWinograd } from './lab-conv.ts';
import { labDepthToSpaceCrop, labFrameChannelsFirst, labFramePhases } from './lab-framing.ts';
import { LAB_ADD_RELU, LAB_BN_GRAD, LAB_BN_MOMENTS, LAB_RELU_GRAD, labBatchNormFits } from './lab-ops.ts';
import { labWasm, labWasmInfo } from './lab-wasm.ts';
import { patchKernelOptions, relErr, values } from './test-utils.ts';

/** Per-channel float64 moments of x [m, c]. */
function moments64(x: Float32Array, c: number): { mean: Float64Array; variance: Float64Array } {
  const m = x.length / c;
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let i = 0; i < x.length; i++) mean[i % c]! += x[i]!;
  for (let j = 0; j < c; j++) mean[j]! /= m;
  for (let i = 0; i < x.length; i++) variance[i % c]! += (x[i]! - mean[i % c]!) ** 2;
  for (let j = 0; j < c; j++) variance[j]! /= m;
  return { mean, variance };
}

/** x [m, c]: channel j is scaled by 1 + j/4 and shifted by offsets[j % offsets.length]. */
function channelData(m: number, c: number, seed: number, offsets: number[]): Float32Array {
  const x = values(m * c, seed, 2);
  for (let i = 0; i < x.length; i++) x[i] = x[i]! * (1 + (i % c) / 4) + offsets[(i % c) % offsets.length]!;
  return x;
}

/** An unsigned LEB128 at r.p; moves r.p past it. */
function leb(bytes: Uint8Array, r: { p: number }): number {
  let v = 0;
  let shift = 0;
  let b: number;
  do {
    b = bytes[r.p++]!;
    v |= (b & 0x7f) << shift;
    shift += 7;
  } while (b & 0x80);
  return v;
}

/** The sections of a wasm binary: id and the byte range of the contents. */
function sections(bytes: Uint8Array): { id: number; start: number; end: number }[] {
  const out: { id: number; start: number; end: number }[] = [];
  const r = { p: 8 };
  while (r.p < bytes.length) {
    const id = bytes[r.p++]!;
    const size = leb(bytes, r);
    out.push({ id, start: r.p, end: r.p + size });
    r.p = r.p + size;
  }
  return out;
}

// [m, c]: groups of 16 and 4 channels, rows fewer than the shift's 64, off the block of 128, and many.
const CASES: [number, number][] = [
  [7, 4],
  [300, 16],
  [129, 20],
  [1000, 64],
  [4096, 36],
];

beforeAll(async () => {
  await tf.setBackend('wasm');
});

afterEach(() => patchKernelOptions({ labWasm: true }));

describe('the lab wasm module', () => {
  it('loads on tfjs-wasm in Node, and is off on cpu and with the kernel option labWasm: false', async () => {
    expect(labWasm(tf.backend())).not.toBeNull();
    patchKernelOptions({ labWasm: false });
    expect(labWasm(tf.backend())).toBeNull();
    patchKernelOptions({ labWasm: true });
    await tf.setBackend('cpu');
    expect(labWasm(tf.backend())).toBeNull();
    await tf.setBackend('wasm');
  });

  it('runs the plain-SIMD build in Node 20 (relaxed SIMD needs a flag there)', () => {
    const relaxedHere = WebAssembly.validate(Uint8Array.from(Buffer.from(LAB_WASM_PLAIN_RELAXED, 'base64')));
    expect(labWasmInfo(tf.backend())).toEqual({ flavour: relaxedHere ? 'relaxed-simd' : 'simd', threads: 1 });
  });

  it.each([
    ['shared', LAB_WASM_SHARED],
    ['shared relaxed-SIMD', LAB_WASM_SHARED_RELAXED],
    ['plain', LAB_WASM_PLAIN],
    ['plain relaxed-SIMD', LAB_WASM_PLAIN_RELAXED],
  ])('%s build: imports only env.memory, has no data or start section', (kind, b64) => {
    const bytes = Uint8Array.from(Buffer.from(b64, 'base64'));
    const secs = sections(bytes);
    expect(secs.map((x) => x.id)).not.toContain(8); // start
    expect(secs.map((x) => x.id)).not.toContain(11); // data
    // The one import: "env" "memory", kind 2 (memory), then its limits flag: 3 = shared with a maximum.
    const imp = secs.find((x) => x.id === 2)!;
    const r = { p: imp.start };
    expect(leb(bytes, r)).toBe(1);
    const names: string[] = [];
    for (let i = 0; i < 2; i++) {
      const len = leb(bytes, r); // a name: its length, then its bytes
      names.push(Buffer.from(bytes.subarray(r.p, r.p + len)).toString());
      r.p += len;
    }
    expect(names).toEqual(['env', 'memory']);
    expect(bytes[r.p]).toBe(2);
    expect(bytes[r.p + 1]).toBe(kind.startsWith('shared') ? 0x03 : 0x00);
    // The exports, read from the binary (a relaxed-SIMD build does not compile in Node 20).
    const exp = secs.find((x) => x.id === 7)!;
    const e = { p: exp.start };
    const exported: string[] = [];
    for (let n = leb(bytes, e); n > 0; n--) {
      const len = leb(bytes, e);
      exported.push(Buffer.from(bytes.subarray(e.p, e.p + len)).toString());
      e.p += len + 1; // the name, then its kind
      leb(bytes, e); // and its index
    }
    expect(exported.sort()).toEqual([
      'addRelu',
      'bnGrad',
      'bnMoments',
      'convTaps',
      'convWinograd',
      'convWinograd4',
      'copyRows',
      'depthToSpaceCrop',
      'filterGradTaps',
      'filterGradWinograd',
      'filterGradWinograd4',
      'frameChannelsFirst',
      'frameChannelsLast',
      'framePhases',
      'packGrid',
      'reluGrad',
      'sgdStep',
      'winogradFilter',
      'winogradFilter4',
      'winogradFilterGrad',
      'winogradFilterGrad4',
    ]);
  });

  it('takes 2-D and 4-D float32 shapes whose channels are a multiple of 4', () => {
    expect(labBatchNormFits([128, 32, 32, 16])).toBe(true);
    expect(labBatchNormFits([128, 12])).toBe(true);
    expect(labBatchNormFits([128, 10])).toBe(false);
    expect(labBatchNormFits([2, 4, 4, 3])).toBe(false);
    expect(labBatchNormFits([4, 16, 16])).toBe(false);
    expect(labBatchNormFits([0, 16])).toBe(false);
  });
});

describe('LabBatchNormMoments', () => {
  it.each(CASES)('m=%i c=%i: mean, biased variance, inv, scale and shift as computed in float64', (m, c) => {
    const x = channelData(m, c, m + c, [0, 0.3, -5, 1000]);
    const gamma = values(c, 5, 0.5, 1);
    const beta = values(c, 6, 0.5);
    const eps = 1e-5;
    const outs = tf.tidy(() =>
      (
        tf
          .engine()
          .runKernel(
            LAB_BN_MOMENTS,
            { x: tf.tensor2d(x, [m, c]), gamma: tf.tensor1d(gamma), beta: tf.tensor1d(beta) },
            { eps },
          ) as tf.Tensor[]
      ).map((t) => t.dataSync()),
    );
    const [mean, variance, inv, scale, shift] = outs as Float32Array[];
    const want = moments64(x, c);
    for (let j = 0; j < c; j++) {
      const iv = 1 / Math.sqrt(want.variance[j]! + eps);
      // float32 results; a channel near 1000 keeps its mean to about an ulp.
      expect(Math.abs(mean![j]! - want.mean[j]!)).toBeLessThan(1e-6 * Math.max(1, Math.abs(want.mean[j]!)));
      expect(Math.abs(variance![j]! / want.variance[j]! - 1)).toBeLessThan(1e-5);
      expect(Math.abs(inv![j]! / iv - 1)).toBeLessThan(1e-5);
      expect(Math.abs(scale![j]! / (gamma[j]! * iv) - 1)).toBeLessThan(1e-5);
      const sh = beta[j]! - want.mean[j]! * gamma[j]! * iv;
      expect(Math.abs(shift![j]! - sh)).toBeLessThan(1e-4 * Math.max(1, Math.abs(want.mean[j]! * gamma[j]! * iv)));
    }
  });
});

describe('LabBatchNormGrad', () => {
  it.each(CASES.flatMap(([m, c]) => [[m, c, false] as const, [m, c, true] as const]))(
    'm=%i c=%i relu=%s: dx, dgamma, dbeta as the closed form computed in float64',
    (m, c, relu) => {
      const x = channelData(m, c, 3 * m + c, [0.5, -2, 40]);
      const dy = values(m * c, 17, 1.5);
      const gamma = values(c, 8, 0.5, 1);
      const { mean, variance } = moments64(x, c);
      const inv = Float64Array.from(variance, (v) => 1 / Math.sqrt(v + 1e-5));
      // y: a ReLU output (zero for about half the entries) when relu; it only masks dy.
      const y = values(m * c, 19).map((v) => Math.max(v, 0));
      // What the kernel gets: float32 mean and inv, as LabBatchNormMoments returns them.
      const mean32 = Float32Array.from(mean);
      const inv32 = Float32Array.from(inv);
      const got = tf.tidy(() => {
        const inputs: tf.NamedTensorMap = {
          dy: tf.tensor2d(dy, [m, c]),
          x: tf.tensor2d(x, [m, c]),
          mean: tf.tensor1d(mean32),
          inv: tf.tensor1d(inv32),
          gamma: tf.tensor1d(gamma),
        };
        if (relu) inputs.y = tf.tensor2d(y, [m, c]);
        return (tf.engine().runKernel(LAB_BN_GRAD, inputs, {}) as tf.Tensor[]).map((t) => t.dataSync());
      });
      // Hand computation: g = dy (masked by y > 0), S = per-channel sum over rows.
      const sg = new Float64Array(c);
      const sgx = new Float64Array(c);
      const g = Float64Array.from(dy, (v, i) => (relu && !(y[i]! > 0) ? 0 : v));
      for (let i = 0; i < g.length; i++) {
        sg[i % c]! += g[i]!;
        sgx[i % c]! += g[i]! * (x[i]! - mean32[i % c]!);
      }
      const dbeta = sg;
      const dgamma = Float64Array.from(sgx, (s, j) => inv32[j]! * s);
      const dx = new Float64Array(m * c);
      for (let i = 0; i < dx.length; i++) {
        const j = i % c;
        const a = gamma[j]! * inv32[j]!;
        const k1 = (a * inv32[j]! * dgamma[j]!) / m;
        const k2 = (a * dbeta[j]!) / m;
        dx[i] = a * g[i]! - k1 * (x[i]! - mean32[j]!) - k2;
      }
      expect(relErr(got[0]!, dx)).toBeLessThan(2e-5);
      expect(relErr(got[1]!, dgamma)).toBeLessThan(2e-5);
      expect(relErr(got[2]!, dbeta)).toBeLessThan(2e-5);
      if (relu) expect(got[0]!.some((v, i) => !(y[i]! > 0) && v !== 0)).toBe(true); // dx is not just the mask
    },
  );

  it.each([
    [300, 20, false],
    [129, 64, true],
  ] as const)('m=%i c=%i relu=%s, sumDx: also S(dx), the float64 sum of the dx it returns', (m, c, relu) => {
    // A mean off x's own (shifted by 0.3), so that S(dx) is far from the zero it is for a batch's
    // true mean: the sum is then checked against something that is not rounding noise.
    const x = channelData(m, c, 5 * m + c, [0.5, -2, 40]);
    const { mean } = moments64(x, c);
    const got = tf.tidy(() => {
      const inputs: tf.NamedTensorMap = {
        dy: tf.tensor2d(values(m * c, 23, 1.5), [m, c]),
        x: tf.tensor2d(x, [m, c]),
        mean: tf.tensor1d(Float32Array.from(mean, (v) => v + 0.3)),
        inv: tf.tensor1d(values(c, 24, 0.2, 1)),
        gamma: tf.tensor1d(values(c, 25, 0.5, 1)),
      };
      if (relu)
        inputs.y = tf.tensor2d(
          values(m * c, 26).map((v) => Math.max(v, 0)),
          [m, c],
        );
      const plain = (tf.engine().runKernel(LAB_BN_GRAD, inputs, {}) as tf.Tensor[]).map((t) => t.dataSync());
      const summed = (tf.engine().runKernel(LAB_BN_GRAD, inputs, { sumDx: true }) as tf.Tensor[]).map((t) => t.dataSync());
      return { plain, summed };
    });
    expect(got.plain).toHaveLength(3);
    expect(got.summed).toHaveLength(4);
    for (let k = 0; k < 3; k++) expect(Array.from(got.summed[k]!)).toEqual(Array.from(got.plain[k]!)); // the same dx, dgamma, dbeta
    const sums = new Float64Array(c);
    got.summed[0]!.forEach((v, i) => (sums[i % c]! += v));
    expect(Math.min(...Array.from(sums, Math.abs))).toBeGreaterThan(0.01); // not rounding noise (about 1e-6 here)
    expect(relErr(got.summed[3]!, sums)).toBeLessThan(1e-6);
  });

  it('refuses a dy of another size, naming the shapes', () => {
    tf.tidy(() => {
      const inputs = { dy: tf.zeros([8, 4]), x: tf.zeros([9, 4]), mean: tf.zeros([4]), inv: tf.ones([4]), gamma: tf.ones([4]) };
      expect(() => tf.engine().runKernel(LAB_BN_GRAD, inputs, {})).toThrow(/dy \[8,4\], x \[9,4\]/);
    });
  });
});

describe('LabReluGrad and LabAddRelu', () => {
  it.each([7, 64, 1001])('n=%i: dy where y > 0 else 0; max(a + b, 0)', (n) => {
    const a = values(n, 1);
    const b = values(n, 2);
    const dy = values(n, 3, 4);
    const [grad, sum] = tf.tidy(() => {
      const at = tf.tensor1d(a);
      const bt = tf.tensor1d(b);
      const y = tf.engine().runKernel(LAB_ADD_RELU, { a: at, b: bt }, {}) as tf.Tensor;
      const d = tf.engine().runKernel(LAB_RELU_GRAD, { dy: tf.tensor1d(dy), y }, {}) as tf.Tensor;
      return [d.dataSync(), y.dataSync()];
    });
    for (let i = 0; i < n; i++) {
      const s = Math.fround(a[i]! + b[i]!);
      expect(sum![i]).toBe(Math.max(s, 0));
      expect(grad![i]).toBe(s > 0 ? dy[i]! : 0);
    }
  });

  it('leave no tensors behind', () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      tf.tidy(() => {
        const y = tf.engine().runKernel(LAB_ADD_RELU, { a: tf.ones([16]), b: tf.ones([16]) }, {}) as tf.Tensor;
        tf.engine().runKernel(LAB_RELU_GRAD, { dy: tf.ones([16]), y }, {});
      });
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('labFrameChannelsFirst', () => {
  it.each([
    [[2, 8, 8, 16], 9, 9, 1, 1], // a ResNet 3x3 layer: one shared zero row and column
    [[3, 5, 7, 3], 7, 9, 1, 2], // 3 channels (conv1), widths off the 4-pixel block
    [[1, 4, 4, 6], 4, 4, 0, 0], // no frame
    [[2, 6, 5, 9], 9, 8, 2, 1], // frames on both sides
  ] as const)('x %j on a %i x %i grid at (%i, %i): channels-first grids with zeros around, one zero grid more', (shape, R, C, pt, pl) => {
    const [N, H, W, Ci] = shape;
    const x = values(N * H * W * Ci, 31);
    // Leave NaNs in freed heap memory, so that a zero the kernel fails to write shows.
    tf.dispose(tf.fill([Ci * N + 1, R, C], NaN));
    const backend = tf.backend();
    const xt = tf.tensor4d(x, [...shape]);
    const out = labFrameChannelsFirst(backend, xt, R, C, pt, pl) as TensorInfo;
    expect(out.shape).toEqual([Ci * N + 1, R, C]);
    const got = backend.readSync(out.dataId) as Float32Array;
    const want = new Float32Array((Ci * N + 1) * R * C);
    for (let img = 0; img < N; img++) {
      for (let i = 0; i < H; i++) {
        for (let j = 0; j < W; j++) {
          for (let ch = 0; ch < Ci; ch++) want[(ch * N + img) * R * C + (pt + i) * C + pl + j] = x[((img * H + i) * W + j) * Ci + ch]!;
        }
      }
    }
    expect(Array.from(got)).toEqual(Array.from(want));
    backend.disposeData(out.dataId);
    xt.dispose();
  });

  it('refuses an image that does not fit its grid', () => {
    const xt = tf.zeros([1, 4, 4, 4]);
    expect(() => labFrameChannelsFirst(tf.backend(), xt, 4, 5, 1, 0)).toThrow(/not inside a 4x5 grid/);
    xt.dispose();
  });
});

describe('labDepthToSpaceCrop', () => {
  it.each([
    [[2, 5, 5, 64], 2, 2, [8, 8, 16], 1, 1], // a ResNet stride-2 layer's phases, cropped by one
    [[1, 4, 6, 2 * 3 * 3], 2, 3, [7, 16, 3], 0, 2], // 3 channels, unequal strides
  ] as const)('z %j, strides %i x %i, image %j at (%i, %i): every element from its phase', (zShape, sh, sw, [H, W, Ci], top, left) => {
    const [N, rows, cols, depth] = zShape;
    const z = values(N * rows * cols * depth, 41);
    const backend = tf.backend();
    const zt = tf.tensor4d(z, [...zShape]);
    const out = labDepthToSpaceCrop(backend, zt, sh, sw, [H, W, Ci], top, left) as TensorInfo;
    expect(out.shape).toEqual([N, H, W, Ci]);
    const got = backend.readSync(out.dataId) as Float32Array;
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < H; i++) {
        for (let j = 0; j < W; j++) {
          const phase = ((i + top) % sh) * sw + ((j + left) % sw);
          const src = ((n * rows + Math.floor((i + top) / sh)) * cols + Math.floor((j + left) / sw)) * depth + phase * Ci;
          for (let c = 0; c < Ci; c++) expect(got[((n * H + i) * W + j) * Ci + c]).toBe(z[src + c]);
        }
      }
    }
    backend.disposeData(out.dataId);
    zt.dispose();
  });

  it('refuses an image the phases do not cover', () => {
    const zt = tf.zeros([1, 4, 4, 16]);
    expect(() => labDepthToSpaceCrop(tf.backend(), zt, 2, 2, [8, 8, 4], 1, 0)).toThrow(/cannot give a 8x8x4 image at \(1, 0\)/);
    zt.dispose();
  });
});

describe('labFramePhases', () => {
  it.each([
    [[2, 8, 8, 16], 2, 2, 5, 5, 1, 1], // a ResNet stride-2 layer
    [[3, 7, 9, 3], 2, 3, 6, 5, 1, 0], // odd sizes, 3 channels, unequal strides
  ] as const)(
    'x %j in %i x %i phases on a %i x %i grid at (%i, %i): every element in its phase grid, zeros around',
    (shape, sh, sw, R, C, T, L) => {
      const [N, H, W, Ci] = shape;
      const x = values(N * H * W * Ci, 51);
      const grids = sh * sw * Ci * N + 1;
      tf.dispose(tf.fill([grids, R, C], NaN)); // NaNs in freed heap memory show a missing zero
      const backend = tf.backend();
      const xt = tf.tensor4d(x, [...shape]);
      const out = labFramePhases(backend, xt, sh, sw, R, C, T, L) as TensorInfo;
      expect(out.shape).toEqual([grids, R, C]);
      const got = backend.readSync(out.dataId) as Float32Array;
      const want = new Float32Array(grids * R * C);
      for (let n = 0; n < N; n++) {
        for (let i = 0; i < H; i++) {
          for (let j = 0; j < W; j++) {
            const phase = (i % sh) * sw + (j % sw);
            for (let ch = 0; ch < Ci; ch++) {
              want[((phase * Ci + ch) * N + n) * R * C + (T + Math.floor(i / sh)) * C + L + Math.floor(j / sw)] =
                x[((n * H + i) * W + j) * Ci + ch]!;
            }
          }
        }
      }
      expect(Array.from(got)).toEqual(Array.from(want));
      backend.disposeData(out.dataId);
      xt.dispose();
    },
  );
});

/** dw[kh,kw,ci,co] = sum over n,i,j of x[n, i+kh-pt, j+kw-pl, ci] * dy[n,i,j,co] (stride 1), in float64. */
function filterGrad64(
  x: Float32Array,
  dy: Float32Array,
  [N, H, W, Ci]: readonly number[],
  [Ho, Wo, Co]: readonly number[],
  K: number,
  pt: number,
  pl: number,
): Float64Array {
  const dw = new Float64Array(K * K * Ci * Co);
  for (let kh = 0; kh < K; kh++) {
    for (let kw = 0; kw < K; kw++) {
      for (let n = 0; n < N; n++) {
        for (let i = 0; i < Ho; i++) {
          const h = i + kh - pt;
          if (h < 0 || h >= H) continue;
          for (let j = 0; j < Wo; j++) {
            const w = j + kw - pl;
            if (w < 0 || w >= W) continue;
            for (let ci = 0; ci < Ci; ci++) {
              const xv = x[((n * H + h) * W + w) * Ci + ci]!;
              const o = ((kh * K + kw) * Ci + ci) * Co;
              const d = ((n * Ho + i) * Wo + j) * Co;
              for (let co = 0; co < Co; co++) dw[o + co]! += xv * dy[d + co]!;
            }
          }
        }
      }
    }
  }
  return dw;
}

/**
 * Largest relative error allowed against float64 sums: F(4x4, 3x3)'s transforms (coefficients up to
 * 8 and 1/24) round more than F(2x2, 3x3)'s or the direct sums (64 channels: 6.8e-6 against 2e-6).
 */
const WINOGRAD_TOLERANCE = { 4: 1.5e-5, 2: 2e-6 } as const;

describe.each([4, 2] as const)('labFilterGradWinograd, tile %i', (tile) => {
  beforeAll(() => patchKernelOptions({ winogradTile: tile }));
  afterAll(() => patchKernelOptions({ winogradTile: 4 }));

  it.each([
    [[2, 8, 8, 16], 16, [1, 1, 1, 1]], // a ResNet layer
    [[3, 18, 22, 16], 16, [1, 1, 1, 1]], // F(2x2): 297 tiles in blocks of 64: the last 41 tiles, 10 of 4 then 1
    [[3, 20, 24, 16], 16, [1, 1, 1, 1]], // F(4x4): 90 tiles in blocks of 28, a last one shorter
    [[2, 8, 8, 16], 8, [0, 2, 2, 0]], // uneven padding, an output a multiple of 4
    [[1, 6, 5, 8], 16, [2, 0, 0, 1]], // uneven padding, even output
    [[2, 8, 6, 8], 24, [1, 1, 1, 1]], // more output than input channels
    [[2, 8, 8, 64], 64, [1, 1, 1, 1]], // ResNet's last stage
    [[2, 8, 8, 3], 16, [1, 1, 1, 1]], // the first layer: 3 channels, padded to 4
    [[1, 6, 6, 5], 8, [2, 0, 1, 1]], // 5 channels, padded to 8
  ] as const)('x %j, %i output channels, pads %j: equals the float64 sums', (shape, Co, pads) => {
    const [N, H, W, Ci] = shape;
    const [pt, pb, pl, pr] = pads;
    const Ho = H + pt + pb - 2;
    const Wo = W + pl + pr - 2;
    const x = values(N * H * W * Ci, 63);
    const dy = values(N * Ho * Wo * Co, 64);
    tf.dispose(tf.fill([2 * (N + 1) * (H + 2) * (W + 2) * Ci + 32 * Ci * Co], NaN)); // an output never written shows
    const backend = tf.backend();
    const xt = tf.tensor4d(x, [...shape]);
    const dyt = tf.tensor4d(dy, [N, Ho, Wo, Co]);
    const out = labFilterGradWinograd(backend, xt, dyt, pads, [3, 3, Ci, Co]) as TensorInfo;
    expect(out.shape).toEqual([3, 3, Ci, Co]);
    const got = backend.readSync(out.dataId) as Float32Array;
    expect(relErr(got, filterGrad64(x, dy, shape, [Ho, Wo, Co], 3, pt, pl))).toBeLessThan(WINOGRAD_TOLERANCE[tile]);
    backend.disposeData(out.dataId);
    tf.dispose([xt, dyt]);
  });

  it('declines what it does not take, refuses shapes that do not match, frees its frame and work area', () => {
    const backend = tf.backend();
    const dataIds = () => (backend as unknown as { numDataIds(): number }).numDataIds();
    const [x4, dy8, x5, dy5, x6, dy6, dy4] = [
      [1, 4, 4, 4],
      [1, 4, 4, 8],
      [1, 5, 5, 4],
      [1, 5, 5, 8],
      [1, 4, 4, 6],
      [1, 4, 4, 8],
      [1, 4, 4, 4],
    ].map((sh) => tf.ones(sh));
    const ids = dataIds();
    const pads = [1, 1, 1, 1] as const;
    expect(labFilterGradWinograd(backend, x5!, dy5!, pads, [3, 3, 4, 8])).toBeNull(); // odd output
    expect(labFilterGradWinograd(backend, x4!, dy4!, pads, [3, 3, 4, 4])).toBeNull(); // 4 output channels
    expect(labFilterGradWinograd(backend, x4!, dy8!, [2, 2, 2, 2], [5, 5, 4, 8])).toBeNull(); // 5x5
    patchKernelOptions({ winograd: false });
    expect(labFilterGradWinograd(backend, x4!, dy8!, pads, [3, 3, 4, 8])).toBeNull();
    patchKernelOptions({ winograd: true });
    expect(() => labFilterGradWinograd(backend, x4!, dy8!, [0, 0, 0, 0], [3, 3, 4, 8])).toThrow(/do not fit a 3x3x4x8 filter/);
    expect(dataIds()).toBe(ids);
    const dw = labFilterGradWinograd(backend, x4!, dy8!, pads, [3, 3, 4, 8])!;
    expect(dataIds()).toBe(ids + 1); // the output only
    const dw6 = labFilterGradWinograd(backend, x6!, dy6!, pads, [3, 3, 6, 8])!; // 6 channels, padded to 8
    expect(dw6.shape).toEqual([3, 3, 6, 8]);
    expect(dataIds()).toBe(ids + 2); // and its padded copies are freed
    backend.disposeData(dw6.dataId);
    // The centre tap sees every pixel: 16 pixels x ones.
    expect(Array.from((backend.readSync(dw.dataId) as Float32Array).slice(4 * 4 * 8, 4 * 4 * 8 + 8))).toEqual(Array(8).fill(16));
    backend.disposeData(dw.dataId);
    tf.dispose([x4!, dy8!, x5!, dy5!, x6!, dy6!, dy4!]);
  });
});

/** The relaxed-SIMD build's filterGradTaps on one 3x3 'same' case, run in a Node that has relaxed SIMD. */
const RELAXED_CHILD = `
const bytes = Buffer.from(require('fs').readFileSync(0, 'utf8'), 'base64');
const memory = new WebAssembly.Memory({ initial: 64 });
const lab = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
const [N, H, W, Ci, Co, R, C] = [2, 8, 8, 8, 16, 9, 9];
const f = new Float32Array(memory.buffer);
let s = 7;
const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31 - 1);
const x = Array.from({ length: N * H * W * Ci }, rnd), dy = Array.from({ length: N * H * W * Co }, rnd);
const plane = N * R * C, xf = 0, dyAt = (Ci * N + 1) * R * C, taps = dyAt + dy.length, out = taps + 16;
for (let n = 0; n < N; n++) for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) for (let c = 0; c < Ci; c++)
  f[xf + c * plane + n * R * C + (i + 1) * C + j + 1] = x[((n * H + i) * W + j) * Ci + c];
f.set(dy, dyAt);
const offsets = [0, 1, 2, C, C + 1, C + 2, 2 * C, 2 * C + 1, 2 * C + 2];
new Int32Array(memory.buffer).set(offsets, taps);
lab.filterGradTaps(xf * 4, plane, taps * 4, 9, dyAt * 4, H, W, R, C, Ci, Co, 0, N * H, out * 4);
let err = 0, scale = 0;
for (let kh = 0; kh < 3; kh++) for (let kw = 0; kw < 3; kw++) for (let c = 0; c < Ci; c++) for (let o = 0; o < Co; o++) {
  let want = 0;
  for (let n = 0; n < N; n++) for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
    const h = i + kh - 1, w = j + kw - 1;
    if (h >= 0 && h < H && w >= 0 && w < W) want += x[((n * H + h) * W + w) * Ci + c] * dy[((n * H + i) * W + j) * Co + o];
  }
  err = Math.max(err, Math.abs(f[out + ((kh * 3 + kw) * Ci + c) * Co + o] - want));
  scale = Math.max(scale, Math.abs(want));
}
// The forward convolution of the same x with dy's values as a filter [3, 3, Ci, Co], from a
// channels-last frame.
const xp = out + 9 * Ci * Co, w = xp + (N + 1) * R * C * Ci, y = w + 9 * Ci * Co;
f.fill(0, xp, w);
for (let n = 0; n < N; n++) for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) for (let c = 0; c < Ci; c++)
  f[xp + ((n * R + i + 1) * C + j + 1) * Ci + c] = x[((n * H + i) * W + j) * Ci + c];
f.set(dy.slice(0, 9 * Ci * Co), w);
lab.convTaps(xp * 4, taps * 4, 9, w * 4, Ci, Co, H, W, R, C, 1, 0, 0, N * H, y * 4);
let yErr = 0, yScale = 0;
for (let n = 0; n < N; n++) for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) for (let o = 0; o < Co; o++) {
  let want = 0;
  for (let kh = 0; kh < 3; kh++) for (let kw = 0; kw < 3; kw++) for (let c = 0; c < Ci; c++) {
    const h = i + kh - 1, v = j + kw - 1;
    if (h >= 0 && h < H && v >= 0 && v < W) want += x[((n * H + h) * W + v) * Ci + c] * dy[((kh * 3 + kw) * Ci + c) * Co + o];
  }
  yErr = Math.max(yErr, Math.abs(f[y + ((n * H + i) * W + j) * Co + o] - want));
  yScale = Math.max(yScale, Math.abs(want));
}
console.log(JSON.stringify({ relErr: err / scale, convRelErr: yErr / yScale }));
`;

describe('labFilterGradTaps', () => {
  it.each([
    [[2, 8, 8, 16], 16], // one block of rows
    [[3, 32, 32, 4], 8], // the fewest channels it takes; 96 rows in blocks of 21
    [[5, 8, 8, 64], 64], // ResNet's last stage: blocks of 8 rows
    [[2, 16, 16, 32], 32],
  ] as const)('x %j, %i output channels, 3x3 same, stride 1: equals the float64 sums', (shape, Co) => {
    const [N, H, W, Ci] = shape;
    const x = values(N * H * W * Ci, 61);
    const dy = values(N * H * W * Co, 62);
    const R = H + 1;
    const C = W + 1;
    tf.dispose(tf.fill([9 * Ci * Co], NaN)); // NaNs in freed heap memory show an output never written
    const backend = tf.backend();
    const xt = tf.tensor4d(x, [...shape]);
    const dyt = tf.tensor4d(dy, [N, H, W, Co]);
    const xf = labFrameChannelsFirst(backend, xt, R, C, 1, 1)!;
    const offsets = [0, 1, 2, C, C + 1, C + 2, 2 * C, 2 * C + 1, 2 * C + 2];
    const out = labFilterGradTaps(backend, xf, N * R * C, offsets, dyt, R, C, [3, 3, Ci, Co]) as TensorInfo;
    expect(out.shape).toEqual([3, 3, Ci, Co]);
    const got = backend.readSync(out.dataId) as Float32Array;
    expect(relErr(got, filterGrad64(x, dy, shape, [H, W, Co], 3, 1, 1))).toBeLessThan(2e-6);
    backend.disposeData(out.dataId);
    backend.disposeData(xf.dataId);
    tf.dispose([xt, dyt]);
  });

  it('declines channel counts it does not take, and refuses taps that reach past the frame', () => {
    const backend = tf.backend();
    const xt = tf.zeros([1, 4, 4, 4]);
    const dyt = tf.zeros([1, 4, 4, 8]);
    const xf = labFrameChannelsFirst(backend, xt, 5, 5, 1, 1)!;
    const offsets = [0, 1, 2, 5, 6, 7, 10, 11, 12];
    const dy6 = tf.zeros([1, 4, 4, 6]);
    expect(labFilterGradTaps(backend, xf, 25, offsets, dy6, 5, 5, [3, 3, 4, 6])).toBeNull();
    expect(() =>
      labFilterGradTaps(
        backend,
        xf,
        25,
        offsets.map((o) => o + 20),
        dyt,
        5,
        5,
        [3, 3, 4, 8],
      ),
    ).toThrow(/does not fit a frame of 125 floats/);
    backend.disposeData(xf.dataId);
    tf.dispose([xt, dyt, dy6]);
  });

  it('with relaxed SIMD (fused multiply-adds), in a Node started with it, equals the float64 sums (and so does convTaps)', () => {
    const out = execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '-e', RELAXED_CHILD], {
      input: LAB_WASM_PLAIN_RELAXED,
      encoding: 'utf8',
    });
    const { relErr: err, convRelErr } = JSON.parse(out) as { relErr: number; convRelErr: number };
    expect(err).toBeLessThan(2e-6);
    expect(convRelErr).toBeLessThan(2e-6);
  });
});

/** y[n,i,j,co] = sum over kh,kw,ci of x[n, s*i+kh-pt, s*j+kw-pl, ci] * w[kh,kw,ci,co], in float64. */
function conv64(
  x: Float32Array,
  w: Float32Array,
  [N, H, W, Ci]: readonly number[],
  [KH, KW, Co]: readonly number[],
  [pt, pb, pl, pr]: readonly number[],
  s = 1,
): Float64Array {
  const Ho = Math.floor((H + pt + pb - KH) / s) + 1;
  const Wo = Math.floor((W + pl + pr - KW) / s) + 1;
  const y = new Float64Array(N * Ho * Wo * Co);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < Ho; i++) {
      for (let j = 0; j < Wo; j++) {
        const o = ((n * Ho + i) * Wo + j) * Co;
        for (let kh = 0; kh < KH; kh++) {
          const h = s * i + kh - pt;
          if (h < 0 || h >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const v = s * j + kw - pl;
            if (v < 0 || v >= W) continue;
            for (let ci = 0; ci < Ci; ci++) {
              const xv = x[((n * H + h) * W + v) * Ci + ci]!;
              const wo = ((kh * KW + kw) * Ci + ci) * Co;
              for (let co = 0; co < Co; co++) y[o + co]! += xv * w[wo + co]!;
            }
          }
        }
      }
    }
  }
  return y;
}

describe.each([
  ['F(4x4, 3x3)', true, 4],
  ['F(2x2, 3x3)', true, 2],
  ['no Winograd', false, 4],
] as const)('labConv2D, 3x3 filters by %s', (_, wino, tile) => {
  beforeAll(() => {
    patchKernelOptions({ winograd: wino, winogradTile: tile });
  });
  afterAll(() => {
    patchKernelOptions({ winograd: true, winogradTile: 4 });
  });

  it.each([
    [[2, 8, 8, 16], [3, 3, 16], [1, 1, 1, 1], 1], // a ResNet layer
    [[3, 7, 10, 4], [3, 3, 8], [1, 1, 1, 1], 1], // the fewest channels; 10 = 8 + 2 pixels past the 4-pixel tiles
    [[2, 6, 5, 8], [5, 3, 24], [2, 1, 0, 2], 1], // uneven padding, a 5x3 kernel
    [[1, 9, 9, 12], [3, 3, 16], [0, 0, 0, 0], 1], // no padding
    // Winograd: 297 tiles in blocks of 64 (the last 41: 10 of 4 tiles, then 1); uneven padding, even
    // output; more output channels than input channels; 64 channels.
    [[3, 18, 22, 16], [3, 3, 16], [1, 1, 1, 1], 1],
    [[1, 6, 5, 8], [3, 3, 16], [2, 0, 0, 1], 1],
    [[2, 8, 6, 8], [3, 3, 24], [1, 1, 1, 1], 1],
    [[2, 8, 8, 64], [3, 3, 64], [1, 1, 1, 1], 1],
    // F(4x4, 3x3): 90 tiles in blocks of 28 (a last one shorter); uneven padding, an output a multiple of 4.
    [[3, 20, 24, 16], [3, 3, 16], [1, 1, 1, 1], 1],
    [[2, 8, 8, 8], [3, 3, 16], [2, 0, 0, 2], 1],
    // Strided (always the direct kernel): ResNet's downsampling layer, odd sizes, tfjs's 'same' padding
    // (none above, one below), a 1x1 projection, stride 3.
    [[2, 8, 8, 16], [3, 3, 32], [1, 1, 1, 1], 2],
    [[2, 9, 11, 16], [3, 3, 32], [1, 1, 1, 1], 2],
    [[3, 10, 13, 8], [3, 3, 8], [0, 1, 0, 1], 2],
    [[2, 16, 16, 16], [1, 1, 32], [0, 0, 0, 0], 2],
    [[1, 10, 9, 4], [3, 3, 8], [1, 1, 1, 1], 3],
  ] as const)('x %j, filter %j, pads %j, stride %j: equals the float64 sums', (shape, [KH, KW, Co], pads, stride) => {
    const [N, H, W, Ci] = shape;
    const x = values(N * H * W * Ci, 71);
    const w = values(KH * KW * Ci * Co, 72);
    const Ho = Math.floor((H + pads[0] + pads[1] - KH) / stride) + 1;
    const Wo = Math.floor((W + pads[2] + pads[3] - KW) / stride) + 1;
    tf.dispose(tf.fill([2 * (N + 1) * (H + 2) * (W + 2) * Ci + N * Ho * Wo * Co], NaN)); // an output never written shows
    const backend = tf.backend();
    const xt = tf.tensor4d(x, [...shape]);
    const wt = tf.tensor4d(w, [KH, KW, Ci, Co]);
    const out = labConv2D(backend, xt, wt, pads, stride) as TensorInfo;
    expect(out.shape).toEqual([N, Ho, Wo, Co]);
    const got = backend.readSync(out.dataId) as Float32Array;
    const tol = wino && KH === 3 && KW === 3 && stride === 1 ? WINOGRAD_TOLERANCE[Ho % 4 === 0 && Wo % 4 === 0 ? tile : 2] : 2e-6;
    expect(relErr(got, conv64(x, w, shape, [KH, KW, Co], pads, stride))).toBeLessThan(tol);
    backend.disposeData(out.dataId);
    tf.dispose([xt, wt]);
  });

  it.each([8, 6])('%ix%i output: takes the kernel it names where the size allows, else F(2x2, 3x3) or the direct sums', (size) => {
    const backend = tf.backend();
    const xt = tf.tensor4d(values(2 * size * size * 16, 73), [2, size, size, 16]);
    const wt = tf.tensor4d(values(9 * 16 * 16, 74), [3, 3, 16, 16]);
    const run = (on: boolean, t: 2 | 4) => {
      patchKernelOptions({ winograd: on, winogradTile: t });
      const out = labConv2D(backend, xt, wt, [1, 1, 1, 1]) as TensorInfo;
      const v = Array.from(backend.readSync(out.dataId) as Float32Array);
      backend.disposeData(out.dataId);
      return v;
    };
    // Each way rounds its own way: equal results mean the same kernel ran.
    const direct = run(false, 4);
    const f2 = run(true, 2);
    const f4 = run(true, 4);
    const mine = run(wino, tile);
    expect(f2).not.toEqual(direct);
    if (size % 4 === 0) expect(f4).not.toEqual(f2);
    else expect(f4).toEqual(f2); // 6 is not a multiple of 4: F(2x2, 3x3)
    expect(mine).toEqual(!wino ? direct : tile === 4 ? f4 : f2);
    tf.dispose([xt, wt]);
  });

  it('skips the taps its masks clear, for the 8 output channels each mask covers', () => {
    const backend = tf.backend();
    const shape = [2, 6, 6, 8] as const;
    const x = values(2 * 6 * 6 * 8, 75);
    const w = values(4 * 8 * 16, 76); // a 2x2 filter, 8 -> 16 channels
    // Group 0 (channels 0-7) without taps 0 and 3, group 1 without tap 2: as if those weights were 0.
    const masks = Int32Array.from([0b0110, 0b1011]);
    const w0 = Float32Array.from(w);
    for (let t = 0; t < 4; t++) {
      for (let c = 0; c < 8; c++) {
        for (let o = 0; o < 16; o++) if (!(masks[o >> 3]! & (1 << t))) w0[(t * 8 + c) * 16 + o] = 0;
      }
    }
    const xt = tf.tensor4d(x, [...shape]);
    const wt = tf.tensor4d(w, [2, 2, 8, 16]);
    const out = labConv2D(backend, xt, wt, [1, 0, 1, 0], 1, masks)!;
    const got = backend.readSync(out.dataId) as Float32Array;
    expect(relErr(got, conv64(x, w0, shape, [2, 2, 16], [1, 0, 1, 0]))).toBeLessThan(2e-6);
    backend.disposeData(out.dataId);
    tf.dispose([xt, wt]);
  });

  it('declines channel counts and padding it does not take; frees its frame', () => {
    const backend = tf.backend();
    const dataIds = () => (backend as unknown as { numDataIds(): number }).numDataIds();
    const [x3, w3, x4, w4, w8] = [
      [1, 4, 4, 3],
      [3, 3, 3, 8],
      [1, 4, 4, 4],
      [3, 3, 4, 4],
      [3, 3, 4, 8],
    ].map((shape) => tf.ones(shape));
    const ids = dataIds();
    expect(labConv2D(backend, x3!, w3!, [1, 1, 1, 1])).toBeNull(); // 3 input channels
    expect(labConv2D(backend, x4!, w4!, [1, 1, 1, 1])).toBeNull(); // 4 output channels
    expect(labConv2D(backend, x4!, w8!, [-1, 1, 1, 1])).toBeNull(); // a crop
    expect(dataIds()).toBe(ids);
    const y = labConv2D(backend, x4!, w8!, [1, 1, 1, 1])!;
    expect(dataIds()).toBe(ids + 1); // the output only: the frame is freed
    // The top-left output pixel: 4 taps inside the image x 4 channels of ones.
    expect(Array.from((backend.readSync(y.dataId) as Float32Array).slice(0, 8))).toEqual(Array(8).fill(16));
    backend.disposeData(y.dataId);
    tf.dispose([x3!, w3!, x4!, w4!, w8!]);
  });
});
