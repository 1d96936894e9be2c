// Small ops of the ResNet forward pass whose hand-written gradients save less for backprop than tfjs's:
//  - addBias(x, b): x + b per channel; saves nothing, db = channelSum(dy) (AvgPool over H, W, then a
//    small Sum; tfjs-wasm's Sum over [0,1,2] transposes the whole tensor). In training a conv followed
//    by BN hands its bias to the BN instead (batchnorm.ts, inputBias).
//  - addSame(a, b): the residual addition; saves nothing, both gradients are dy.
//  - addRelu(a, b): relu(a + b), the paper block's end; saves only its output (shared with the next layer).
// Values equal tf.add / tf.relu; gradients to float32 rounding. No GPU-to-CPU reads; every backend.
// A gradient function returns a distinct tensor object per input (clones share the buffer): tfjs's
// backprop disposes an accumulated gradient object when it adds another, so a shared one would be freed.

import * as tf from '@tensorflow/tfjs-core';
import { LAB_ADD_RELU, LAB_RELU_GRAD } from './lab-ops.ts';
import { labWasm } from './lab-wasm.ts';
import { labWebGpu } from './webgpu/register.ts';

/** Per-channel sum over N, H, W of an NHWC tensor ([N,C] also accepted). Returns [C]. */
export function channelSum(t: tf.Tensor): tf.Tensor1D {
  if (t.rank === 2) return tf.sum(t, 0) as tf.Tensor1D;
  if (t.rank !== 4) throw new Error(`channelSum expects an NHWC [N,H,W,C] or [N,C] tensor, got rank ${t.rank}.`);
  const [n, h, w, c] = t.shape as [number, number, number, number];
  if (h * w === 1) return tf.sum(tf.reshape(t, [n, c]), 0) as tf.Tensor1D;
  const pooled = tf.avgPool(t as tf.Tensor4D, [h, w], [h, w], 'valid'); // [N,1,1,C]
  return tf.mul(tf.sum(tf.reshape(pooled, [n, c]), 0), h * w) as tf.Tensor1D;
}

function checkSame(op: string, a: tf.Tensor, b: tf.Tensor): void {
  if (a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${op} expects two tensors of one shape, got [${a.shape}] and [${b.shape}].`);
  }
}

/** x + b, b of shape [C] broadcast over the last axis of x (NHWC or [N,C]). */
export function addBias<T extends tf.Tensor>(x: T, b: tf.Tensor1D): T {
  const c = x.shape[x.rank - 1];
  if (b.rank !== 1 || b.shape[0] !== c) throw new Error(`addBias: bias must have shape [${c}], got [${b.shape}].`);
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, bi] = args as [tf.Tensor, tf.Tensor1D];
    return {
      value: tf.add(xi, bi),
      gradFunc: (dy: tf.Tensor) => [tf.clone(dy), channelSum(dy)],
    };
  });
  return f(x, b) as T;
}

/** a + b for two tensors of one shape; saves nothing for backprop. */
export function addSame<T extends tf.Tensor>(a: T, b: T): T {
  checkSame('addSame', a, b);
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [ai, bi] = args as [tf.Tensor, tf.Tensor];
    return { value: tf.add(ai, bi), gradFunc: (dy: tf.Tensor) => [tf.clone(dy), tf.clone(dy)] };
  });
  return f(a, b) as T;
}

/** relu(a + b) for two tensors of one shape; saves only the output. */
export function addRelu<T extends tf.Tensor>(a: T, b: T): T {
  checkSame('addRelu', a, b);
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [ai, bi, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    // On wasm and webgpu, one pass each way in the lab's own kernels instead of two.
    const lab = labWasm(tf.backend()) != null || labWebGpu(tf.backend());
    const y = lab ? (tf.engine().runKernel(LAB_ADD_RELU, { a: ai, b: bi }, {}) as tf.Tensor) : tf.relu(tf.add(ai, bi));
    save([y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const d = lab ? (tf.engine().runKernel(LAB_RELU_GRAD, { dy, y: saved[0]! }, {}) as tf.Tensor) : tf.mul(dy, tf.step(saved[0]!));
        return [d, tf.clone(d)];
      },
    };
  });
  return f(a, b) as T;
}
