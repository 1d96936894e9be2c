// The lab's batch-norm kernels on WebGPU (Dawn in Node) against the composed path on tfjs-cpu, through
// batchNormTrain / batchNormInfer: values, statistics and gradients at ResNet layer shapes (small
// batch), [N, C], odd channel counts and sizes, the fused ReLU and the input bias; the one-pass moments
// against float64 sums where the mean is far from zero; and the composed path with labWebGpu off.

import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchNormInfer, batchNormTrain } from '../batchnorm.ts';
import { relErr, values } from '../test-utils.ts';
import { observeLabDispatches } from './dispatch.ts';
import { onCpu, onWebGpu, useWebGpu } from './test-utils.ts';

beforeAll(useWebGpu, 60_000);

interface Case {
  shape: number[];
  relu?: boolean;
  bias?: boolean;
  offset?: number;
}

const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

/** y, mean, variance, then the gradients w.r.t. x, gamma, beta (and the bias) of sum(y * r). */
function train({ shape, relu = false, bias = false, offset = 0 }: Case): tf.Tensor[] {
  const c = shape[shape.length - 1]!;
  const x = tf.tensor<tf.Rank>(values(size(shape), 1, 2, offset), shape) as tf.Tensor4D;
  const gamma = tf.tensor1d(values(c, 2, 0.5, 1));
  const beta = tf.tensor1d(values(c, 3, 0.5));
  const b = tf.tensor1d(values(c, 4, 0.3));
  const r = tf.tensor(values(size(shape), 5), shape);
  const stats: tf.Tensor[] = [];
  const f = (...args: tf.Tensor[]) => {
    const [xi, gi, bi, bb] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D?];
    const out = batchNormTrain(xi, gi, bi, 1e-5, { relu, inputBias: bb });
    stats.push(tf.keep(out.y), tf.keep(out.mean), tf.keep(out.variance));
    return tf.sum(tf.mul(out.y, r)) as tf.Scalar;
  };
  const { grads } = tf.valueAndGrads(f)(bias ? [x, gamma, beta, b] : [x, gamma, beta]);
  return [...stats, ...grads];
}

const names = ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta', 'dbias'];

async function compare(c: Case): Promise<Float32Array[]> {
  const got = await onWebGpu(() => train(c));
  const want = await onCpu(() => train(c));
  const errs: Record<string, number> = {};
  // The bias gradient is zero up to rounding (y does not depend on it); compared below instead.
  for (let i = 0; i < 6; i++) errs[names[i]!] = relErr(got[i]!, want[i]!);
  for (const [k, e] of Object.entries(errs)) expect(e, k).toBeLessThan(1e-5);
  return got;
}

describe('lab batch norm on webgpu, training', () => {
  const cases: Case[] = [
    { shape: [2, 32, 32, 16], relu: true }, // ResNet stage 1
    { shape: [2, 16, 16, 32] }, // stage 2
    { shape: [2, 8, 8, 64], relu: true }, // stage 3
    { shape: [4, 10] }, // neon's BN on the logits
    { shape: [3, 10] },
    { shape: [3, 5, 7, 3], relu: true },
    { shape: [1, 9, 9, 10] },
    { shape: [2, 7, 5, 100], relu: true }, // two channel tiles, the second partly used
    { shape: [1, 1, 1, 16] },
  ];
  for (const c of cases) {
    it(`matches the composed path on tfjs-cpu at [${c.shape}]${c.relu ? ', ReLU fused' : ''}`, async () => {
      await compare(c);
    });
  }

  for (const [shape, relu] of [
    [[2, 8, 8, 16], true],
    [[2, 5, 5, 20], false],
    [[6, 64], false],
  ] as const) {
    it(`with inputBias at [${shape}]${relu ? ', ReLU fused' : ''}: values, the mean of x + b, S(dx)`, async () => {
      const got = await compare({ shape: [...shape], relu, bias: true });
      const c = shape[shape.length - 1]!;
      const sums = new Float64Array(c);
      const scale = new Float64Array(c);
      got[3]!.forEach((v, i) => {
        sums[i % c] += v;
        scale[i % c] += Math.abs(v);
      });
      for (let j = 0; j < c; j++) {
        expect(Math.abs(got[6]![j]! - sums[j]!)).toBeLessThan(1e-5 * scale[j]!);
        expect(Math.abs(got[6]![j]!)).toBeLessThan(1e-5 * scale[j]!);
      }
    });
  }

  it('takes the moments in one pass soundly: x = 1000 + noise against float64 sums', async () => {
    // The mean itself rounds to float32's 6e-5 steps at 1000, so y is compared with float64 values.
    const shape = [4, 16, 16, 16];
    const c = 16;
    const [y, mean, variance] = await onWebGpu(() => train({ shape, offset: 1000 }));
    const [yCpu] = await onCpu(() => train({ shape, offset: 1000 }));
    const x = values(size(shape), 1, 2, 1000);
    const gamma = values(c, 2, 0.5, 1);
    const beta = values(c, 3, 0.5);
    const m = x.length / c;
    const want = new Float64Array(x.length);
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let i = j; i < x.length; i += c) s += x[i]!;
      const mu = s / m;
      let q = 0;
      for (let i = j; i < x.length; i += c) q += (x[i]! - mu) ** 2;
      expect(Math.abs(mean![j]! - mu) / mu).toBeLessThan(1e-7);
      expect(Math.abs(variance![j]! - q / m) / (q / m)).toBeLessThan(1e-5);
      for (let i = j; i < x.length; i += c) want[i] = ((x[i]! - mu) * gamma[j]!) / Math.sqrt(q / m + 1e-5) + beta[j]!;
    }
    expect(relErr(y!, want)).toBeLessThan(3e-5);
    expect(relErr(y!, want)).toBeLessThanOrEqual(relErr(yCpu!, want) * 1.5);
  });

  it('runs two dispatches each way, and the composed path with labWebGpu off', async () => {
    const kernels: string[] = [];
    observeLabDispatches((w) => kernels.push(w.kernel));
    try {
      await onWebGpu(() => train({ shape: [2, 4, 4, 16], relu: true }));
    } finally {
      observeLabDispatches(null);
    }
    expect(kernels.filter((k) => k.startsWith('lab.bn.'))).toEqual([
      'lab.bn.moments',
      'lab.bn.normalise',
      'lab.bn.gradSums',
      'lab.bn.gradApply',
    ]);
    const on = await tf.profile(() =>
      tf.tidy(() => batchNormTrain(tf.ones([2, 4, 4, 16]) as tf.Tensor4D, tf.ones([16]), tf.zeros([16]), 1e-5).y),
    );
    expect(on.kernelNames).toContain('LabWebGpuBatchNorm');
    const got = await onWebGpu(() => train({ shape: [2, 4, 4, 16], relu: true }), false);
    const want = await onCpu(() => train({ shape: [2, 4, 4, 16], relu: true }));
    for (let i = 0; i < 6; i++) expect(relErr(got[i]!, want[i]!), names[i]).toBeLessThan(1e-5);
  });
});

describe('lab batch norm on webgpu, inference', () => {
  for (const [shape, relu, bias] of [
    [[2, 8, 8, 16], true, false],
    [[3, 5, 7, 3], false, true],
    [[4, 10], true, true],
  ] as const) {
    it(`matches the composed path on tfjs-cpu at [${shape}] (relu ${relu}, bias ${bias})`, async () => {
      const run = () => {
        const c = shape[shape.length - 1]!;
        const x = tf.tensor<tf.Rank>(values(size([...shape]), 1, 2), [...shape]) as tf.Tensor4D;
        const [gamma, beta, mean, b] = [2, 3, 4, 6].map((s) => tf.tensor1d(values(c, s, 0.5, s === 2 ? 1 : 0)));
        const variance = tf.tensor1d(values(c, 5, 0.4, 0.5));
        return batchNormInfer(x, gamma!, beta!, mean!, variance, 1e-3, { relu, inputBias: bias ? b : undefined });
      };
      const got = await onWebGpu(run);
      const want = await onCpu(run);
      expect(relErr(got[0]!, want[0]!)).toBeLessThan(1e-5);
    });
  }
});
