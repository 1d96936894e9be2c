// The lab's Conv2DBackpropInput on WebGPU (Dawn in Node) against tfjs-cpu's, at ResNet-20/56/110's
// convolution shapes (small batches), the strided and 1x1 projection layers, the first layer and odd
// sizes; against a float64 sum for one case; inside tf.grads of tf.conv2d; and tfjs-webgpu's own kernel
// while labWebGpu is off.

import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { relErr, values } from '../test-utils.ts';
import { CONV_CASES as CASES, convAttrs, convInputs, outShape, type ConvCase } from './conv-test-cases.ts';
import { observeLabDispatches, type DispatchWork } from './dispatch.ts';
import { planInputGrad } from './input-grad.ts';
import { onCpu, onWebGpu, useWebGpu } from './test-utils.ts';

beforeAll(useWebGpu, 60_000);
afterEach(() => observeLabDispatches(null));

function inputGradOf(c: ConvCase): tf.Tensor {
  const { filter, dy } = convInputs(c);
  const attrs = { ...convAttrs(c), inputShape: c.x };
  return tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

describe('lab Conv2DBackpropInput on webgpu', () => {
  const errors: number[] = [];
  let float64Err = NaN;
  for (const c of CASES) {
    it(`matches tfjs-cpu: ${c.name}`, async () => {
      const seen: DispatchWork[] = [];
      observeLabDispatches((w) => seen.push(w));
      const [got] = await onWebGpu(() => inputGradOf(c));
      observeLabDispatches(null);
      const [want] = await onCpu(() => inputGradOf(c));
      const err = relErr(got!, want!);
      errors.push(err);
      expect(err).toBeLessThan(1e-4);
      expect(seen.map((w) => w.kernel)).toEqual(['lab.inputGrad']);
    });
  }

  it('matches a float64 sum (odd sizes, stride 2, pad 1)', async () => {
    const c = CASES.find((k) => k.name === 'odd, 7x5, 5->3, stride 2, pad 1')!;
    const [N, H, W, Ci] = c.x;
    const [KH, KW, , Co] = c.filter;
    const [, OH, OW] = outShape(c);
    const w = values(KH * KW * Ci * Co, 13);
    const dy = values(N * OH! * OW! * Co, 12);
    const want = new Float64Array(N * H * W * Ci);
    for (let n = 0; n < N; n++)
      for (let oh = 0; oh < OH!; oh++)
        for (let ow = 0; ow < OW!; ow++)
          for (let kh = 0; kh < KH; kh++)
            for (let kw = 0; kw < KW; kw++) {
              const ih = oh * 2 + kh - 1;
              const iw = ow * 2 + kw - 1;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              for (let ci = 0; ci < Ci; ci++)
                for (let co = 0; co < Co; co++)
                  want[((n * H + ih) * W + iw) * Ci + ci]! +=
                    w[((kh * KW + kw) * Ci + ci) * Co + co]! * dy[((n * OH! + oh) * OW! + ow) * Co + co]!;
            }
    const [got] = await onWebGpu(() => inputGradOf(c));
    float64Err = relErr(got!, want);
    expect(float64Err).toBeLessThan(1e-5);
  });

  it("runs tfjs-webgpu's own kernel while labWebGpu is off", async () => {
    const c = CASES[9]!;
    const seen: DispatchWork[] = [];
    observeLabDispatches((w) => seen.push(w));
    const [stock] = await onWebGpu(() => inputGradOf(c), false);
    expect(seen).toEqual([]);
    const [lab] = await onWebGpu(() => inputGradOf(c), true);
    expect(seen.length).toBe(1);
    expect(relErr(lab!, stock!)).toBeLessThan(1e-4);
  });

  it('runs in tf.grads of tf.conv2d, with the filter gradient', async () => {
    const c = CASES.find((k) => k.name === 'stride 2, 3x3 16->32')!;
    const grads = () => {
      const { x, filter, dy } = convInputs(c);
      return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad))([x, filter], dy);
    };
    const seen: DispatchWork[] = [];
    observeLabDispatches((w) => seen.push(w));
    const got = await onWebGpu(grads);
    observeLabDispatches(null);
    const want = await onCpu(grads);
    expect(relErr(got[0]!, want[0]!)).toBeLessThan(1e-4);
    expect(relErr(got[1]!, want[1]!)).toBeLessThan(1e-4);
    expect(seen.map((w) => w.kernel).sort()).toEqual(['lab.filterGrad.partial', 'lab.filterGrad.reduce', 'lab.inputGrad']);
  });

  it('leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    const dataBefore = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    await onWebGpu(() => inputGradOf(CASES[3]!));
    expect(tf.memory().numTensors).toBe(before);
    expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).toBe(dataBefore);
    console.log(`max relative error: ${Math.max(...errors).toExponential(2)} vs tfjs-cpu, ${float64Err.toExponential(2)} vs float64`);
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
      shape(128, 32, 16, 32, 1, 2, 0),
      shape(128, 16, 32, 64, 1, 2, 0),
    ]) {
      const p = planInputGrad(s);
      expect(p.threads).toBeGreaterThanOrEqual(16384);
      expect(p.macs).toBe(s.N * s.OH * s.OW * s.KH * s.KW * s.Ci * s.Co);
    }
  });
});
