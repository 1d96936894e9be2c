// The training loss and the batch error of a classifier's logits: softmaxCrossEntropy(logits, labels)
// gives the mean softmax cross-entropy over the rows (differentiable w.r.t. the logits) and the
// fraction of rows whose argmax is not the label (no gradient). On webgpu with the lab's kernels:
// one dispatch forward, which also saves the probabilities, and one backward (webgpu/softmax-xent.ts).
// Elsewhere the composed tfjs ops that src/train/trainer.ts uses. Not the test-set error
// (src/train/evaluate.ts).

import * as tf from '@tensorflow/tfjs-core';
import { LAB_SOFTMAX_XENT, LAB_SOFTMAX_XENT_GRAD } from './webgpu/softmax-xent.ts';
import { labWebGpu } from './webgpu/register.ts';

/** Whether softmaxCrossEntropy runs the fused WebGPU kernels on this backend (false where they are unregistered). */
export function labSoftmaxXent(backend: unknown = tf.backend()): boolean {
  return labWebGpu(backend) && tf.getKernel(LAB_SOFTMAX_XENT, 'webgpu') != null && tf.getKernel(LAB_SOFTMAX_XENT_GRAD, 'webgpu') != null;
}

/**
 * Mean cross-entropy of softmax(logits) against labels, and the error fraction. logits [N, C]
 * float32, labels [N] int32 in [0, C). Returns two scalars the caller owns.
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): { loss: tf.Scalar; error: tf.Scalar } {
  if (logits.rank !== 2 || labels.rank !== 1 || labels.shape[0] !== logits.shape[0] || labels.dtype !== 'int32') {
    throw new Error(
      `softmaxCrossEntropy: needs logits [N, C] and int32 labels [N], got [${logits.shape}] and ${labels.dtype} [${labels.shape}].`,
    );
  }
  const [n, c] = logits.shape;
  if (!labSoftmaxXent() || logits.dtype !== 'float32' || n < 1 || c < 1) {
    return tf.tidy(() => ({
      loss: tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, c), tf.logSoftmax(logits)), 1))) as tf.Scalar,
      error: tf.mean(tf.cast(tf.notEqual(tf.argMax(logits, 1), labels), 'float32')) as tf.Scalar,
    }));
  }
  return tf.tidy(() => {
    const [value, error, probs] = tf.engine().runKernel(LAB_SOFTMAX_XENT, { logits, labels }, {}) as [tf.Scalar, tf.Scalar, tf.Tensor2D];
    // The loss is already computed; the custom gradient only ties it to the logits (clone shares the data).
    const loss = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const save = args[1] as tf.GradSaveFunc;
      save([probs, labels]);
      return {
        value: tf.clone(value),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
          tf.engine().runKernel(LAB_SOFTMAX_XENT_GRAD, { probs: saved[0]!, labels: saved[1]!, dy }, {}) as tf.Tensor,
        ],
      };
    })(logits) as tf.Scalar;
    return { loss, error };
  });
}
