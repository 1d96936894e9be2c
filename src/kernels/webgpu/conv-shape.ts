// The convolution as the lab's WebGPU gradient kernels see it (filter-grad.ts, input-grad.ts): NHWC
// sizes, filter, strides and the top/left padding, read from tfjs's computeConv2DInfo so the padding
// is tfjs's own. Not a kernel.

import { backend_util } from '@tensorflow/tfjs-core';

/** x is [N,H,W,Ci], dy [N,OH,OW,Co], the filter [KH,KW,Ci,Co]. */
export interface ConvShape {
  N: number;
  H: number;
  W: number;
  Ci: number;
  OH: number;
  OW: number;
  Co: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  padTop: number;
  padLeft: number;
}

/** The shape of an NHWC convolution with tfjs's attributes (dilation 1). */
export function convShape(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  pad: 'same' | 'valid' | number | backend_util.ExplicitPadding,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): ConvShape {
  const info = backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  return {
    N: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    Ci: info.inChannels,
    OH: info.outHeight,
    OW: info.outWidth,
    Co: info.outChannels,
    KH: info.filterHeight,
    KW: info.filterWidth,
    SH: info.strideHeight,
    SW: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}
