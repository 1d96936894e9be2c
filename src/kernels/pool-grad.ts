// AvgPoolGrad for a 1x1 window without padding (option A's shortcut: keep every s-th pixel) on
// tfjs-backend-wasm: the gradient is dy spread onto every s-th pixel with zeros between, which one
// PadV2 writes, where tfjs-wasm's own AvgPoolGrad loops over every input pixel. Any other
// window, padding or format goes to the backend's own kernel. Values are exact (the mean of one pixel).

import { backend_util, PadV2, Reshape, Slice, getKernel } from '@tensorflow/tfjs-core';
import type { AvgPoolGradAttrs, KernelBackend, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

function call(
  backendName: string,
  backend: KernelBackend,
  kernelName: string,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap,
): TensorInfo {
  const config = getKernel(kernelName, backendName);
  if (config == null) throw new Error(`Kernel ${kernelName} is not registered for backend '${backendName}'.`);
  const out = config.kernelFunc({ inputs, backend, attrs });
  return Array.isArray(out) ? out[0]! : out;
}

/**
 * The AvgPoolGrad kernel function: the zero-insertion path for 1x1 windows without padding, else
 * `fallback` (the backend's own kernel).
 */
export function makeAvgPoolGrad(backendName: string, fallback: KernelConfig | undefined): KernelFunc {
  return (args) => {
    const backend = args.backend as KernelBackend;
    const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
    const { filterSize, strides, pad } = args.attrs as unknown as AvgPoolGradAttrs;
    const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad);
    const { top, left, bottom, right } = info.padInfo;
    const simple =
      info.filterHeight === 1 && info.filterWidth === 1 && top === 0 && left === 0 && bottom === 0 && right === 0 && dy.dtype === 'float32';
    if (!simple) {
      if (fallback == null) throw new Error(`No AvgPoolGrad kernel for this window on '${backendName}'.`);
      return fallback.kernelFunc(args);
    }
    const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: Ho, outWidth: Wo, strideHeight: sh, strideWidth: sw } = info;
    // [N*Ho, 1, Wo, C] -> [N*Ho, sh, Wo, sw*C]: each row of dy, then sh-1 zero rows; each pixel, then
    // sw-1 zero pixels. Read as [N, Ho*sh, Wo*sw, C], cut to [N, H, W, C].
    const rows = call(backendName, backend, Reshape, { x: dy }, { shape: [N * Ho, 1, Wo, C] });
    const spread = call(backendName, backend, PadV2, { x: rows }, {
      paddings: [
        [0, 0],
        [0, sh - 1],
        [0, 0],
        [0, (sw - 1) * C],
      ],
      constantValue: 0,
    } as unknown as NamedAttrMap);
    const full = call(backendName, backend, Reshape, { x: spread }, { shape: [N, Ho * sh, Wo * sw, C] });
    backend.disposeData(rows.dataId);
    backend.disposeData(spread.dataId);
    if (Ho * sh === H && Wo * sw === W) return full;
    const dx = call(backendName, backend, Slice, { x: full }, { begin: [0, 0, 0, 0], size: [N, H, W, C] });
    backend.disposeData(full.dataId);
    return dx;
  };
}
