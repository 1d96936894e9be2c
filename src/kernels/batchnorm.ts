// Batch normalisation for training and inference with a closed-form gradient (tf.customGrad), so tfjs
// does not broadcast per-channel gradients back with Tile and full-tensor Sums. With M = N*H*W and S(t)
// the per-channel sum over N, H, W:
//   forward:  mean = S(x)/M, xc = x - mean, var = S(xc^2)/M (biased), inv = 1/sqrt(var + eps),
//             a = gamma*inv, y = a*xc + beta
//   backward: dbeta = S(dy), dgamma = inv*S(dy*xc), dx = a*dy - xc*(a*inv*dgamma/M) - a*dbeta/M.
// `relu: true` fuses the following ReLU (dy masked by y > 0). `inputBias: b` normalises x + b without
// adding it (a conv bias, gcr: docs/protocols.md §3.4). On wasm with channels a multiple of 4 the lab's
// kernels (lab-wasm.ts) do it in two passes each way, on webgpu the lab's (webgpu/batchnorm.ts) in two
// dispatches each way; composed ops cover every other case.
// Inputs are NHWC [N,H,W,C] or, after a dense layer, [N,C]. Not here: the running statistics (model/).

import * as tf from '@tensorflow/tfjs-core';
import { FusedDepthwiseConv2D } from '@tensorflow/tfjs-core';
import { channelSum } from './fused.ts';
import { LAB_BN_GRAD, LAB_BN_MOMENTS, labBatchNormFits } from './lab-ops.ts';
import { labWasm } from './lab-wasm.ts';
import { LAB_WEBGPU_BN, LAB_WEBGPU_BN_GRAD, LAB_WEBGPU_BN_INFER } from './webgpu/batchnorm.ts';
import { labWebGpu } from './webgpu/register.ts';

export interface BatchNormTrainResult<R extends tf.Rank> {
  /** Normalised output, the same shape as x. Differentiable w.r.t. x, gamma, beta (and inputBias). */
  y: tf.Tensor<R>;
  /** Batch mean per channel [C] (of x + inputBias), for the running statistics; carries no gradient. */
  mean: tf.Tensor1D;
  /** Biased batch variance per channel (divided by N*H*W) [C]; carries no gradient. */
  variance: tf.Tensor1D;
}

/** Thrown for inputs batchNormTrain/Infer do not handle (rank, channel count). */
export class BatchNormShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BatchNormShapeError';
  }
}

function as4d(x: tf.Tensor): { x4: tf.Tensor4D; n: number; h: number; w: number; c: number } {
  if (x.rank === 4) {
    const [n, h, w, c] = x.shape as [number, number, number, number];
    return { x4: x as tf.Tensor4D, n, h, w, c };
  }
  if (x.rank === 2) {
    const [n, c] = x.shape as [number, number];
    return { x4: tf.reshape(x, [n, 1, 1, c]), n, h: 1, w: 1, c };
  }
  throw new BatchNormShapeError(`batch norm expects an NHWC [N,H,W,C] or [N,C] tensor, got shape [${x.shape}].`);
}

function checkChannels(c: number, ...params: [string, tf.Tensor][]): void {
  for (const [name, t] of params) {
    if (t.rank !== 1 || t.shape[0] !== c) {
      throw new BatchNormShapeError(`batch norm ${name} must have shape [${c}], got [${t.shape}].`);
    }
  }
}

/** t * scale + shift per channel (last axis), then ReLU if asked; scale and shift are [C]. */
function affine(t: tf.Tensor4D, scale: tf.Tensor1D, shift: tf.Tensor1D, relu = false): tf.Tensor4D {
  if (tf.getBackend() === 'wasm') {
    // The kernel itself: tf.fused.depthwiseConv2d would not fuse the ReLU while a gradient is being
    // recorded (our customGrad computes the gradient, so the fused kernel is safe here).
    const c = scale.shape[0];
    const filter = tf.reshape(scale, [1, 1, c, 1]) as tf.Tensor4D;
    const attrs = { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1], activation: relu ? 'relu' : 'linear' };
    return tf.engine().runKernel(FusedDepthwiseConv2D, { x: t, filter, bias: shift }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  }
  const y = tf.add(tf.mul(t, scale), shift) as tf.Tensor4D;
  return relu ? tf.relu(y) : y;
}

/**
 * Training-mode batch norm (then ReLU, with `relu: true`): normalises with the batch's own statistics. y is differentiable w.r.t.
 * x, gamma and beta (closed-form gradient); mean and variance are returned for the running-average
 * update and are not connected to the gradient tape. The caller owns all three tensors.
 */
export function batchNormTrain<R extends tf.Rank.R2 | tf.Rank.R4>(
  x: tf.Tensor<R>,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  eps: number,
  options: { relu?: boolean; inputBias?: tf.Tensor1D } = {},
): BatchNormTrainResult<R> {
  const relu = options.relu === true;
  const bias = options.inputBias;
  const { n, h, w, c } = as4d(x);
  checkChannels(c, ['gamma', gamma], ['beta', beta], ...(bias ? [['inputBias', bias] as [string, tf.Tensor]] : []));
  const m = n * h * w;
  const useLab = labBatchNormFits(x.shape) && labWasm(tf.backend()) != null;
  const useGpu = !useLab && labWebGpu(tf.backend());
  let stats: [tf.Tensor1D, tf.Tensor1D] | undefined;
  /** The statistics to report: the mean of x + b where there is a bias. */
  const keepStats = (mean: tf.Tensor1D, variance: tf.Tensor1D, biasIn?: tf.Tensor1D): [tf.Tensor1D, tf.Tensor1D] => [
    tf.keep(biasIn ? (tf.add(mean, biasIn) as tf.Tensor1D) : mean),
    tf.keep(variance),
  ];

  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xIn, gamma1, beta1] = args as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
    const biasIn = bias ? (args[3] as tf.Tensor1D) : undefined;
    const save = args[bias ? 4 : 3] as tf.GradSaveFunc;
    if (useGpu) {
      // Two dispatches each way (webgpu/batchnorm.ts): the moments' partials, then normalise (and
      // the statistics); the gradient's partial sums, then dx. coef is (mean, inv, gamma*inv, beta).
      const [y, mean, variance, coef] = tf
        .engine()
        .runKernel(LAB_WEBGPU_BN, { x: xIn, gamma: gamma1, beta: beta1 }, { eps, relu }) as tf.Tensor[];
      save([xIn, coef!]);
      stats = keepStats(mean as tf.Tensor1D, variance as tf.Tensor1D, biasIn);
      return {
        value: y!,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xS, coefS] = saved as [tf.Tensor, tf.Tensor];
          const [dx, dgamma, dbeta, dbias] = tf
            .engine()
            .runKernel(LAB_WEBGPU_BN_GRAD, { dy, x: xS, coef: coefS }, { relu, sumDx: biasIn !== undefined }) as tf.Tensor[];
          return biasIn ? [dx!, dgamma!, dbeta!, dbias!] : [dx!, dgamma!, dbeta!];
        },
      };
    }
    const { x4 } = as4d(xIn);
    if (useLab) {
      // Two passes each way in the lab's own kernels (lab-wasm.ts): the moments and the affine map's
      // scale and shift, then y = relu?(x*scale + shift); the gradient in one kernel from x itself.
      const [mean, variance, inv, scale, shift] = tf
        .engine()
        .runKernel(LAB_BN_MOMENTS, { x: x4, gamma: gamma1, beta: beta1 }, { eps }) as tf.Tensor1D[];
      const y4 = affine(x4, scale!, shift!, relu);
      save(relu ? [x4, mean!, inv!, gamma1, y4] : [x4, mean!, inv!, gamma1]);
      stats = keepStats(mean!, variance!, biasIn);
      return {
        value: tf.reshape(y4, xIn.shape),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xS, meanS, invS, gammaS, yS] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor4D?];
          const inputs: tf.NamedTensorMap = { dy, x: xS, mean: meanS, inv: invS, gamma: gammaS };
          if (yS) inputs.y = yS;
          const [dx, dgamma, dbeta, dbias] = tf.engine().runKernel(LAB_BN_GRAD, inputs, { sumDx: biasIn !== undefined }) as tf.Tensor[];
          const grads = [tf.reshape(dx!, xIn.shape), dgamma!, dbeta!];
          return biasIn ? [...grads, dbias!] : grads;
        },
      };
    }
    const mean = tf.div(channelSum(x4), m) as tf.Tensor1D;
    const xc = affine(x4, tf.onesLike(mean), tf.neg(mean));
    const variance = tf.div(channelSum(tf.square(xc)), m) as tf.Tensor1D;
    const inv = tf.rsqrt(tf.add(variance, eps)) as tf.Tensor1D;
    const a = tf.mul(gamma1, inv) as tf.Tensor1D;
    const y4 = affine(xc, a, beta1, relu);
    const y = tf.reshape(y4, xIn.shape);
    save(relu ? [xc, inv, a, y4] : [xc, inv, a]);
    // The forward runs inside a tidy of the engine; keep the statistics past it (see below).
    stats = keepStats(mean, variance, biasIn);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xcS, invS, aS, yS] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor4D?];
        const dyIn = tf.reshape(dy, [n, h, w, c]) as tf.Tensor4D;
        const dy4 = yS ? (tf.mul(dyIn, tf.step(yS)) as tf.Tensor4D) : dyIn; // through the fused ReLU
        const dbeta = channelSum(dy4);
        const dgamma = tf.mul(invS, channelSum(tf.mul(dy4, xcS))) as tf.Tensor1D;
        const k1 = tf.div(tf.mul(tf.mul(aS, invS), dgamma), m) as tf.Tensor1D;
        const k2 = tf.div(tf.mul(aS, dbeta), m) as tf.Tensor1D;
        // dx = (a*dy - k2) - k1*xc
        const dx = tf.sub(affine(dy4, aS, tf.neg(k2)), affine(xcS, k1, tf.zerosLike(k1)));
        const grads = [tf.reshape(dx, xIn.shape), dgamma, dbeta];
        return biasIn ? [...grads, channelSum(dx)] : grads;
      },
    };
  });

  const y = (bias ? f(x, gamma, beta, bias) : f(x, gamma, beta)) as tf.Tensor<R>;
  // The kept statistics belong to no tidy scope; clone them into the caller's scope (a clone is a
  // tape node with no path to any loss, so it costs nothing in backprop) and release the kept ones.
  const [keptMean, keptVar] = stats!;
  const mean = tf.clone(keptMean);
  const variance = tf.clone(keptVar);
  tf.dispose([keptMean, keptVar]);
  return { y, mean, variance };
}

/**
 * Inference-mode batch norm with running statistics: gamma*(x - mean)/sqrt(var + eps) + beta, then
 * ReLU when `relu` is set. On wasm one pass (the affine map with the ReLU fused in, as in training),
 * on webgpu one dispatch (webgpu/batchnorm.ts); elsewhere tfjs's batchNorm kernel, then ReLU. With
 * `inputBias: b` it normalises x + b (a conv's bias, as batchNormTrain does) without adding it:
 * x + b - mean = x - (mean - b).
 */
export function batchNormInfer<R extends tf.Rank.R2 | tf.Rank.R4>(
  x: tf.Tensor<R>,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  runningMean: tf.Tensor1D,
  runningVar: tf.Tensor1D,
  eps: number,
  options: { relu?: boolean; inputBias?: tf.Tensor1D } = {},
): tf.Tensor<R> {
  return tf.tidy(() => {
    const { x4, c } = as4d(x);
    const bias = options.inputBias;
    checkChannels(
      c,
      ['gamma', gamma],
      ['beta', beta],
      ['runningMean', runningMean],
      ['runningVar', runningVar],
      ...(bias ? [['inputBias', bias] as [string, tf.Tensor]] : []),
    );
    const relu = options.relu === true;
    if (labWebGpu(tf.backend())) {
      // One dispatch (webgpu/batchnorm.ts), the ReLU fused.
      const inputs: tf.NamedTensorMap = { x, gamma, beta, mean: runningMean, variance: runningVar };
      if (bias) inputs.bias = bias;
      return tf.engine().runKernel(LAB_WEBGPU_BN_INFER, inputs, { eps, relu }) as tf.Tensor<R>;
    }
    const mean = bias ? (tf.sub(runningMean, bias) as tf.Tensor1D) : runningMean;
    if (tf.getBackend() !== 'wasm') {
      const y = tf.batchNorm(x, mean, runningVar, beta, gamma, eps);
      return (relu ? tf.relu(y) : y) as tf.Tensor<R>;
    }
    const scale = tf.mul(gamma, tf.rsqrt(tf.add(runningVar, eps))) as tf.Tensor1D;
    const shift = tf.sub(beta, tf.mul(mean, scale)) as tf.Tensor1D;
    return tf.reshape(affine(x4, scale, shift, relu), x.shape);
  });
}
