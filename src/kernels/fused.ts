// Small ops of the ResNet forward pass with hand-written gradients that save less for backprop than
// tfjs's own, and reduce per-channel sums cheaply:
//
//  - addBias(x, b): x + b per channel (a conv bias). tfjs's Add saves both inputs (only for their
//    shapes), so every conv output stayed alive until the backward pass, and its bias gradient was a
//    Sum over [0,1,2], which tfjs-wasm runs as a full transpose plus a reduction. Here nothing is saved
//    and db = channelSum(dy) (AvgPool over H,W, then a small Sum). In training, a conv followed by a
//    batch norm hands its bias to the batch norm instead (batchnorm.ts, inputBias: no pass at all);
//    addBias remains for evaluation and for a conv whose output is added to the shortcut first.
//  - addSame(a, b): a + b of one shape (the residual addition). Saves nothing; both gradients are dy.
//  - addRelu(a, b): relu(a + b), the paper block's end. Saves only its output, which the next layer
//    saves anyway (shared buffer): d = dy * (y > 0) for both inputs.
//
// Values are exactly those of tf.add / tf.relu; the gradients are equal to float32 rounding (the
// bias gradient sums in another order). No GPU-to-CPU reads; works on every backend. A gradient
// function returns a distinct tensor object per input (clones share the buffer): tfjs's backprop
// disposes an input's accumulated gradient object when it adds another, so one object given to two
// inputs would be freed while still in use.

import * as tf from '@tensorflow/tfjs-core';
import { LAB_ADD_RELU, LAB_RELU_GRAD } from './lab-ops.ts';
import { labWasm } from './lab-wasm.ts';

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
    // On wasm, one pass each way in the lab's own kernels (lab-wasm.ts) instead of two.
    const lab = labWasm(tf.backend()) != null;
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
