// The option-A shortcut of the CIFAR ResNets (He et al. 2015; gcr's cat with zeros): keep every
// stride-th pixel, then append zero channels after the input's. On webgpu with the lab's kernels one
// dispatch each way (webgpu/shortcut.ts); elsewhere tfjs ops: a 1x1 average pool with stride 2, which
// has a gradient where stridedSlice has none, then pad. Both give the same bits. Not the projection
// shortcuts (model/resnet.ts).

import * as tf from '@tensorflow/tfjs-core';
import { LAB_WEBGPU_SHORTCUT, LAB_WEBGPU_SHORTCUT_GRAD } from './webgpu/shortcut.ts';
import { labWebGpu } from './webgpu/register.ts';

/** x [N,H,W,Cin] to [N, ceil(H/stride), ceil(W/stride), cout], zeros in channels Cin..cout-1. */
export function shortcutA(x: tf.Tensor4D, cout: number, stride: 1 | 2): tf.Tensor4D {
  const cin = x.shape[3];
  if (stride === 1 && cout === cin) return x;
  if (!labWebGpu(tf.backend())) {
    const sub = stride === 2 ? tf.avgPool(x, 1, 2, 'valid') : x;
    return tf.pad(sub, [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, cout - cin],
    ]);
  }
  const inShape = [...x.shape];
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.engine().runKernel(LAB_WEBGPU_SHORTCUT, { x: args[0] as tf.Tensor }, { stride, cout }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor) => tf.engine().runKernel(LAB_WEBGPU_SHORTCUT_GRAD, { dy }, { stride, inShape }) as tf.Tensor,
  }));
  return f(x) as tf.Tensor4D;
}
