// The convolution shapes the WebGPU gradient tests run (filter-grad.test.ts, input-grad.test.ts):
// ResNet-20/56/110's layers at small batches, the strided and projection layers, the first layer and
// odd sizes, with deterministic inputs. Test data only.

import * as tf from '@tensorflow/tfjs-core';
import { values } from '../test-utils.ts';

export type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

/** The lab's 3x3 padding (src/model/resnet.ts): one pixel on every side. */
export const TORCH_PAD: Pad = [
  [0, 0],
  [1, 1],
  [1, 1],
  [0, 0],
];

export interface ConvCase {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number;
  pad: Pad;
}

export const CONV_CASES: ConvCase[] = [
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

/** The case's output shape, as tfjs computes it. */
export function outShape(c: ConvCase): [number, number, number, number] {
  return tf.backend_util.computeConv2DInfo(c.x, c.filter, c.stride, 1, c.pad).outShape;
}

/** Deterministic x, filter and dy for a case (the same on every backend). */
export function convInputs(c: ConvCase): { x: tf.Tensor4D; filter: tf.Tensor4D; dy: tf.Tensor4D } {
  const size = (s: number[]) => s.reduce((p, d) => p * d, 1);
  const out = outShape(c);
  return {
    x: tf.tensor4d(values(size(c.x), 11), c.x),
    filter: tf.tensor4d(values(size(c.filter), 13), c.filter),
    dy: tf.tensor4d(values(size(out), 12), out),
  };
}

/** The kernel attributes tf.conv2d's gradient passes (strides, pad, NHWC). */
export function convAttrs(c: ConvCase): { strides: [number, number]; pad: Pad; dataFormat: 'NHWC' } {
  return { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC' };
}
