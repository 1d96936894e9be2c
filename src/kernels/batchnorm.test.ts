// Checks batchNormTrain / batchNormInfer against tf autodiff of the textbook formula (tf.moments) on
// the cpu and wasm backends: values, gradients w.r.t. x, gamma and beta, shapes NHWC and [N,C], the
// fused ReLU option, and that repeated forward+backward calls leave no tensors behind.

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { batchNormInfer, batchNormTrain, BatchNormShapeError } from './batchnorm.ts';
import { LAB_BN_GRAD, LAB_BN_MOMENTS } from './lab-ops.ts';
import { patchKernelOptions, relErr, values } from './test-utils.ts';

/**
 * 'wasm' trains batch norm with the lab's own kernels where the shape fits (lab-wasm.ts);
 * 'wasm-composed' turns them off, so the composed tfjs ops stay tested on wasm too.
 */
async function use(backend: string): Promise<void> {
  await tf.setBackend(backend === 'wasm-composed' ? 'wasm' : backend);
  if (backend.startsWith('wasm')) patchKernelOptions({ labWasm: backend !== 'wasm-composed' });
}

/** The textbook formula; tf autodiff gives its gradient. */
function naiveBn(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number) {
  const axes = x.rank === 4 ? [0, 1, 2] : [0];
  const { mean, variance } = tf.moments(x, axes);
  const y = tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta);
  return { y, mean, variance };
}

type Impl = (x: tf.Tensor, g: tf.Tensor1D, b: tf.Tensor1D, eps: number) => { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor };

/** y, mean, variance and the gradients of sum(y * r) w.r.t. x, gamma, beta. */
function run(impl: Impl, shape: number[], eps: number) {
  return tf.tidy(() => {
    const c = shape[shape.length - 1]!;
    const size = shape.reduce((a, b) => a * b, 1);
    // Non-zero mean and a non-unit scale so that the centring and the variance both matter.
    const x = tf.tensor(values(size, 11, 3, 0.7), shape);
    const gamma = tf.tensor1d(values(c, 12, 0.5, 1));
    const beta = tf.tensor1d(values(c, 13, 0.5));
    const r = tf.tensor(values(size, 14), shape);
    const out = impl(x, gamma, beta, eps);
    const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(impl(a, g as tf.Tensor1D, b as tf.Tensor1D, eps).y, r));
    const [dx, dg, db] = tf.grads(f)([x, gamma, beta]);
    return {
      y: out.y.dataSync(),
      mean: out.mean.dataSync(),
      variance: out.variance.dataSync(),
      dx: dx!.dataSync(),
      dgamma: dg!.dataSync(),
      dbeta: db!.dataSync(),
    };
  });
}

const SHAPES: number[][] = [
  [4, 8, 8, 16],
  [3, 5, 7, 8], // odd sizes
  [2, 32, 32, 3],
  [128, 10], // BN on logits (neon)
  [5, 1, 1, 4], // H = W = 1
  [3, 9, 9, 20], // the lab kernels' 16- and 4-channel groups
  [300, 64], // rows off the lab kernels' block of 128
];

describe.each(['cpu', 'wasm', 'wasm-composed'])('batchNormTrain on %s', (backend) => {
  it.each(SHAPES.map((s) => [s.join('x'), s] as const))('matches autodiff of the naive formula for %s', async (_n, shape) => {
    await use(backend);
    for (const eps of [1e-5, 1e-3]) {
      const got = run(batchNormTrain as unknown as Impl, shape, eps);
      const want = run(naiveBn as unknown as Impl, shape, eps);
      expect(relErr(got.y, want.y)).toBeLessThan(1e-5);
      expect(relErr(got.mean, want.mean)).toBeLessThan(1e-5);
      expect(relErr(got.variance, want.variance)).toBeLessThan(1e-5);
      expect(relErr(got.dx, want.dx)).toBeLessThan(1e-4);
      expect(relErr(got.dgamma, want.dgamma)).toBeLessThan(1e-4);
      expect(relErr(got.dbeta, want.dbeta)).toBeLessThan(1e-5);
    }
  });

  it.each([[[4, 8, 8, 16]], [[3, 5, 7, 8]], [[3, 9, 9, 20]]])(
    'with relu: true equals relu of the naive formula, gradient too, for %j',
    async (shape: number[]) => {
      await use(backend);
      const fused: Impl = (x, g, b, eps) => batchNormTrain(x as tf.Tensor4D, g, b, eps, { relu: true });
      const naive: Impl = (x, g, b, eps) => {
        const o = naiveBn(x, g, b, eps);
        return { ...o, y: tf.relu(o.y) };
      };
      const got = run(fused, shape, 1e-5);
      const want = run(naive, shape, 1e-5);
      expect(got.y.some((v) => v === 0) && got.y.some((v) => v > 0)).toBe(true); // the ReLU is active
      expect(relErr(got.y, want.y)).toBeLessThan(1e-5);
      expect(relErr(got.dx, want.dx)).toBeLessThan(1e-4);
      expect(relErr(got.dgamma, want.dgamma)).toBeLessThan(1e-4);
      expect(relErr(got.dbeta, want.dbeta)).toBeLessThan(1e-5);
    },
  );

  it.each([
    [[4, 8, 8, 16], false],
    [[3, 9, 9, 20], true],
    [[300, 64], false],
  ] as const)(
    'with inputBias equals the formula on x + bias for %j (relu %s): values, the mean of x + bias, and the bias gradient S(dx)',
    async (shape, relu) => {
      await use(backend);
      const c = shape[shape.length - 1]!;
      const bias = tf.tensor1d(values(c, 15, 2));
      const withBias: Impl = (x, g, b, eps) => batchNormTrain(x as tf.Tensor4D, g, b, eps, { relu, inputBias: bias });
      const addedFirst: Impl = (x, g, b, eps) => {
        const o = naiveBn(tf.add(x, bias), g, b, eps);
        return { ...o, y: relu ? tf.relu(o.y) : o.y };
      };
      const got = run(withBias, [...shape], 1e-5);
      const want = run(addedFirst, [...shape], 1e-5);
      expect(relErr(got.y, want.y)).toBeLessThan(1e-5);
      expect(relErr(got.mean, want.mean)).toBeLessThan(1e-5); // the running statistics see x + bias
      expect(relErr(got.variance, want.variance)).toBeLessThan(1e-5);
      expect(relErr(got.dx, want.dx)).toBeLessThan(1e-4);
      expect(relErr(got.dgamma, want.dgamma)).toBeLessThan(1e-4);
      expect(relErr(got.dbeta, want.dbeta)).toBeLessThan(1e-5);
      // The bias gradient: the per-channel sum of dx (zero up to rounding, as y does not depend on the
      // bias in training mode), here checked against a float64 sum of the dx returned.
      const dbias = tf.tidy(() => {
        const x = tf.tensor(
          values(
            shape.reduce((a, b) => a * b, 1),
            11,
            3,
            0.7,
          ),
          [...shape],
        );
        const gamma = tf.tensor1d(values(c, 12, 0.5, 1));
        const beta = tf.tensor1d(values(c, 13, 0.5));
        const r = tf.tensor(values(x.size, 14), [...shape]);
        const f = (bb: tf.Tensor) =>
          tf.sum(tf.mul(batchNormTrain(x as tf.Tensor4D, gamma, beta, 1e-5, { relu, inputBias: bb as tf.Tensor1D }).y, r));
        return tf.grad(f)(bias).dataSync();
      });
      const sums = new Float64Array(c);
      const scale = new Float64Array(c);
      got.dx.forEach((v, i) => {
        sums[i % c] += v;
        scale[i % c] += Math.abs(v);
      });
      for (let j = 0; j < c; j++) {
        expect(Math.abs(dbias[j]! - sums[j]!)).toBeLessThan(1e-5 * scale[j]!);
        expect(Math.abs(dbias[j]!)).toBeLessThan(1e-5 * scale[j]!);
      }
      bias.dispose();
    },
  );

  it('returns shapes [C] for mean and variance and no gradient through them', async () => {
    await use(backend);
    tf.tidy(() => {
      const x = tf.tensor4d(values(2 * 4 * 4 * 3, 1), [2, 4, 4, 3]);
      const g = tf.ones([3]) as tf.Tensor1D;
      const b = tf.zeros([3]) as tf.Tensor1D;
      const { y, mean, variance } = batchNormTrain(x, g, b, 1e-5);
      expect(y.shape).toEqual([2, 4, 4, 3]);
      expect(mean.shape).toEqual([3]);
      expect(variance.shape).toEqual([3]);
      // Only y is connected: the gradient of sum(mean) + sum(variance) w.r.t. x is null or zero.
      const dx = tf.grad((t: tf.Tensor) => {
        const o = batchNormTrain(t as tf.Tensor4D, g, b, 1e-5);
        return tf.add(tf.sum(o.mean), tf.mul(tf.sum(o.y), 0));
      })(x);
      expect(Math.max(...Array.from(dx.dataSync(), Math.abs))).toBe(0);
    });
  });

  it('leaks no tensors over 50 forward+backward calls', async () => {
    await use(backend);
    const x = tf.tensor4d(values(4 * 8 * 8 * 16, 3), [4, 8, 8, 16]);
    const gamma = tf.variable(tf.ones([16]) as tf.Tensor1D);
    const beta = tf.variable(tf.zeros([16]) as tf.Tensor1D);
    const step = () =>
      tf.tidy(() => {
        let stats: tf.Tensor[] = [];
        const { grads, value } = tf.variableGrads(() => {
          const out = batchNormTrain(x, gamma, beta, 1e-5);
          stats = [out.mean, out.variance];
          return tf.sum(tf.square(out.y)) as tf.Scalar;
        });
        return [value, ...Object.values(grads), ...stats];
      });
    tf.dispose(step());
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) tf.dispose(step());
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, gamma, beta]);
  });
});

describe('batchNormTrain on wasm with the lab kernels', () => {
  it('runs the two lab kernels and none of the composed ops, and agrees with the composed ops', async () => {
    const shape = [4, 8, 8, 16];
    const relu: Impl = (x, g, b, eps) => batchNormTrain(x as tf.Tensor4D, g, b, eps, { relu: true });
    await use('wasm');
    const prof = await tf.profile(() => {
      run(relu, shape, 1e-5);
    });
    const names = new Set(prof.kernels.map((k) => k.name));
    expect(names.has(LAB_BN_MOMENTS) && names.has(LAB_BN_GRAD)).toBe(true);
    for (const op of ['AvgPool', 'Step', 'Square', 'Sub']) expect(names.has(op), op).toBe(false);
    const lab = run(relu, shape, 1e-5);
    await use('wasm-composed');
    const composed = run(relu, shape, 1e-5);
    patchKernelOptions({ labWasm: true });
    for (const k of ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'] as const) {
      expect(relErr(lab[k], composed[k]), k).toBeLessThan(1e-5);
    }
  });
});

describe.each(['cpu', 'wasm'])('batchNormInfer on %s', (backend) => {
  it.each([[[3, 4, 5, 6]], [[7, 6]]])('equals the formula for %j', async (shape: number[]) => {
    await use(backend);
    tf.tidy(() => {
      const c = shape[shape.length - 1]!;
      const size = shape.reduce((a, b) => a * b, 1);
      const x = tf.tensor(values(size, 21, 2, 0.3), shape);
      const gamma = tf.tensor1d(values(c, 22, 0.5, 1));
      const beta = tf.tensor1d(values(c, 23));
      const mean = tf.tensor1d(values(c, 24));
      const variance = tf.tensor1d(values(c, 25, 0.4, 1));
      const got = batchNormInfer(x as tf.Tensor4D, gamma, beta, mean, variance, 1e-3);
      const want = tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-3))), gamma), beta);
      expect(got.shape).toEqual(shape);
      expect(relErr(got.dataSync(), want.dataSync())).toBeLessThan(1e-6);
      const gotRelu = batchNormInfer(x as tf.Tensor4D, gamma, beta, mean, variance, 1e-3, { relu: true });
      expect(relErr(gotRelu.dataSync(), tf.relu(want).dataSync())).toBeLessThan(1e-6);
      // inputBias: normalises x + bias (a conv's bias), with and without the ReLU.
      const bias = tf.tensor1d(values(c, 26, 3));
      const wantBias = tf.add(tf.mul(tf.div(tf.sub(tf.add(x, bias), mean), tf.sqrt(tf.add(variance, 1e-3))), gamma), beta);
      const gotBias = batchNormInfer(x as tf.Tensor4D, gamma, beta, mean, variance, 1e-3, { inputBias: bias });
      expect(relErr(gotBias.dataSync(), wantBias.dataSync())).toBeLessThan(1e-6);
      const gotBiasRelu = batchNormInfer(x as tf.Tensor4D, gamma, beta, mean, variance, 1e-3, { inputBias: bias, relu: true });
      expect(relErr(gotBiasRelu.dataSync(), tf.relu(wantBias).dataSync())).toBeLessThan(1e-6);
    });
  });

  it('rejects a gamma of the wrong size', async () => {
    await use(backend);
    const x = tf.zeros([2, 4, 4, 3]) as tf.Tensor4D;
    const g = tf.ones([4]) as tf.Tensor1D;
    expect(() => batchNormTrain(x, g, g, 1e-5)).toThrow(BatchNormShapeError);
    expect(() => batchNormInfer(x, g, g, g, g, 1e-5)).toThrow(BatchNormShapeError);
    tf.dispose([x, g]);
  });
});
