// The lab's Conv2DBackpropFilter on WebGPU (Dawn in Node) against tfjs-cpu's, at ResNet-20/56/110's
// convolution shapes (small batches), the strided and 1x1 projection layers, the first layer and odd
// sizes; against a float64 sum for one case; and tfjs-webgpu's own kernel while labWebGpu is off.

import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { relErr, values } from '../test-utils.ts';
import { observeLabDispatches, type DispatchWork } from './dispatch.ts';
import { planFilterGrad } from './filter-grad.ts';
import { onCpu, onWebGpu, useWebGpu } from './test-utils.ts';

beforeAll(useWebGpu, 60_000);
afterEach(() => observeLabDispatches(null));

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

/** The lab's 3x3 padding (src/model/resnet.ts): one pixel on every side. */
const TORCH_PAD: Pad = [
  [0, 0],
  [1, 1],
  [1, 1],
  [0, 0],
];

interface Case {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number;
  pad: Pad;
}

const CASES: Case[] = [
  { name: 'stage 1, 3x3x16x16 on 32x32', x: [2, 32, 32, 16], filter: [3, 3, 16, 16], stride: 1, pad: TORCH_PAD },
  { name: 'stage 2, 3x3x32x32 on 16x16', x: [2, 16, 16, 32], filter: [3, 3, 32, 32], stride: 1, pad: TORCH_PAD },
  { name: 'stage 3, 3x3x64x64 on 8x8', x: [2, 8, 8, 64], filter: [3, 3, 64, 64], stride: 1, pad: TORCH_PAD },
  { name: 'stride 2, 3x3 16->32', x: [2, 32, 32, 16], filter: [3, 3, 16, 32], stride: 2, pad: TORCH_PAD },
  { name: 'stride 2, 3x3 32->64', x: [1, 16, 16, 32], filter: [3, 3, 32, 64], stride: 2, pad: TORCH_PAD },
  { name: 'projection, 1x1 16->32 stride 2', x: [2, 32, 32, 16], filter: [1, 1, 16, 32], stride: 2, pad: 'valid' },
  { name: 'projection, 1x1 32->64 stride 2', x: [2, 16, 16, 32], filter: [1, 1, 32, 64], stride: 2, pad: 'valid' },
  { name: 'first layer, 3x3x3x16', x: [2, 32, 32, 3], filter: [3, 3, 3, 16], stride: 1, pad: TORCH_PAD },
  { name: "odd, 7x5, 3->5, batch 3, 'same'", x: [3, 7, 5, 3], filter: [3, 3, 3, 5], stride: 1, pad: 'same' },
  { name: "odd, 7x5, 5->3, stride 2, 'same'", x: [3, 7, 5, 5], filter: [3, 3, 5, 3], stride: 2, pad: 'same' },
  { name: 'odd, 7x5, 5->3, stride 2, pad 1', x: [3, 7, 5, 5], filter: [3, 3, 5, 3], stride: 2, pad: TORCH_PAD },
  { name: 'odd, 2x3 filter, valid', x: [1, 7, 5, 3], filter: [2, 3, 3, 5], stride: 1, pad: 'valid' },
];

function inputs(c: Case): { x: tf.Tensor4D; dy: tf.Tensor4D } {
  const x = tf.tensor4d(
    values(
      c.x.reduce((p, d) => p * d),
      11,
    ),
    c.x,
  );
  const { outShape } = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.stride, 1, c.pad);
  const dy = tf.tensor4d(
    values(
      outShape.reduce((p, d) => p * d),
      12,
    ),
    outShape,
  );
  return { x, dy };
}

function filterGradOf(c: Case): tf.Tensor {
  const { x, dy } = inputs(c);
  const attrs = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter };
  return tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

describe('lab Conv2DBackpropFilter on webgpu', () => {
  const errors: number[] = [];
  for (const c of CASES) {
    it(`matches tfjs-cpu: ${c.name}`, async () => {
      const seen: DispatchWork[] = [];
      observeLabDispatches((w) => seen.push(w));
      const [got] = await onWebGpu(() => filterGradOf(c));
      observeLabDispatches(null);
      const [want] = await onCpu(() => filterGradOf(c));
      const err = relErr(got!, want!);
      errors.push(err);
      expect(err).toBeLessThan(1e-4);
      expect(seen.map((w) => w.kernel)[0]).toBe('lab.filterGrad.partial');
    });
  }

  it('matches a float64 sum (odd sizes, stride 2, pad 1)', async () => {
    const c = CASES.find((k) => k.name === 'odd, 7x5, 5->3, stride 2, pad 1')!;
    const [N, H, W, Ci] = c.x;
    const [KH, KW, , Co] = c.filter;
    const OH = Math.floor((H + 2 - KH) / 2) + 1;
    const OW = Math.floor((W + 2 - KW) / 2) + 1;
    const x = values(N * H * W * Ci, 11);
    const dy = values(N * OH * OW * Co, 12);
    const want = new Float64Array(KH * KW * Ci * Co);
    for (let n = 0; n < N; n++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++)
          for (let kh = 0; kh < KH; kh++)
            for (let kw = 0; kw < KW; kw++) {
              const ih = oh * 2 + kh - 1;
              const iw = ow * 2 + kw - 1;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              for (let ci = 0; ci < Ci; ci++)
                for (let co = 0; co < Co; co++)
                  want[((kh * KW + kw) * Ci + ci) * Co + co]! +=
                    x[((n * H + ih) * W + iw) * Ci + ci]! * dy[((n * OH + oh) * OW + ow) * Co + co]!;
            }
    const [got] = await onWebGpu(() => filterGradOf(c));
    const err = relErr(got!, want);
    errors.push(err);
    expect(err).toBeLessThan(1e-5);
  });

  it("runs tfjs-webgpu's own kernel while labWebGpu is off", async () => {
    const c = CASES[8]!;
    const seen: DispatchWork[] = [];
    observeLabDispatches((w) => seen.push(w));
    const [stock] = await onWebGpu(() => filterGradOf(c), false);
    expect(seen).toEqual([]);
    const [lab] = await onWebGpu(() => filterGradOf(c), true);
    expect(seen.length).toBeGreaterThan(0);
    expect(relErr(lab!, stock!)).toBeLessThan(1e-4);
  });

  it('leaves no tensors behind, partial sums included', async () => {
    const before = tf.memory().numTensors;
    const dataBefore = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    await onWebGpu(() => filterGradOf(CASES[0]!));
    expect(tf.memory().numTensors).toBe(before);
    expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).toBe(dataBefore);
    console.log(`max relative error seen: ${Math.max(...errors).toExponential(2)}`);
  });

  it('launches at least 16,384 threads on ResNet-20 batch-128 layers', () => {
    const shape = (N: number, H: number, Ci: number, Co: number, K: number, s: number, pad: number) => {
      const OH = Math.floor((H + 2 * pad - K) / s) + 1;
      return { N, H, W: H, Ci, OH, OW: OH, Co, KH: K, KW: K, SH: s, SW: s, padTop: pad, padLeft: pad };
    };
    for (const s of [
      shape(128, 32, 16, 16, 3, 1, 1),
      shape(128, 16, 32, 32, 3, 1, 1),
      shape(128, 8, 64, 64, 3, 1, 1),
      shape(128, 32, 16, 32, 3, 2, 1),
      shape(128, 16, 32, 64, 3, 2, 1),
      shape(128, 32, 3, 16, 3, 1, 1),
      shape(128, 32, 16, 32, 1, 2, 0),
      shape(128, 16, 32, 64, 1, 2, 0),
    ]) {
      const p = planFilterGrad(s);
      expect(p.threads).toBeGreaterThanOrEqual(16384);
      expect(p.serialMacsPerThread).toBeLessThanOrEqual(8192);
    }
  });
});
