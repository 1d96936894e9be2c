// wasm's Conv2D kernel wrapped for training: dilation-1 NHWC convolutions whose channels fit run in the
// lab's kernel where it loads (lab-conv.ts, labConv2D: directly or by Winograd), the forward ones and,
// through the input gradient's stride-1 Conv2D, every input gradient; everything else, and every call
// when the backend's kernel options say labConv: false, goes to wasm's own (XNNPACK). x is
// (N, H, W, Ci), the filter (KH, KW, Ci, Co). Registered by conv-backprop.ts.

import { backend_util } from '@tensorflow/tfjs-core';
import type { Conv2DAttrs, KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { labConv2D } from './lab-conv.ts';
import { kernelOptions } from './options.ts';

/** Conv2D by the lab's kernel where it fits, else `fallback` (wasm's own). */
export function makeLabConv2D(fallback: KernelConfig): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as Conv2DAttrs;
    const [sh, sw] = Array.isArray(a.strides) ? a.strides : [a.strides, a.strides];
    const dil1 = a.dilations == null || (Array.isArray(a.dilations) ? a.dilations : [a.dilations, a.dilations]).every((v) => v === 1);
    if (
      kernelOptions(backend as KernelBackend).labConv &&
      sh === sw &&
      dil1 &&
      (a.dataFormat ?? 'NHWC') === 'NHWC' &&
      x.shape.length === 4 &&
      filter.shape.length === 4
    ) {
      const info = backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        filter.shape as [number, number, number, number],
        [sh, sw],
        1,
        a.pad,
        a.dimRoundingMode,
        false,
        'channelsLast',
      );
      const { top, bottom, left, right } = info.padInfo;
      const y = labConv2D(backend as KernelBackend, x, filter, [top, bottom, left, right], sh);
      if (y != null) {
        if (y.shape[1] === info.outHeight && y.shape[2] === info.outWidth) return y;
        (backend as KernelBackend).disposeData(y.dataId);
      }
    }
    return fallback.kernelFunc(args);
  };
}
