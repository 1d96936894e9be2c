// The Conv2DBackpropFilter kernel for training (tfjs-backend-wasm 4.22 has none; tfjs-cpu's own is far
// slower than this). Unpadded 1x1 filters: dw = subsample(x)^T dy as one matrix product. On wasm, the
// framed paths of filter-grad-framed.ts. Otherwise the composed reference: with x as (Ci, H, W, N) (the
// "batch" is Ci, the "channels" N) and dy as the filter (Ho, Wo, N, Co), one forward Conv2D with
// dilation = stride and the forward's top/left padding; its output (Ci, KH', KW', Co) is cut to KH x KW
// and reordered to (KH, KW, Ci, Co) in JS. Only NHWC, dilation 1. Registered by conv-backprop.ts.

import { AvgPool, backend_util, BatchMatMul, Conv2DBackpropFilter, Reshape, Transpose } from '@tensorflow/tfjs-core';
import type { Conv2DBackpropFilterAttrs, KernelBackend, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { callKernel, checkFormat, conv2dPadded, dispose, readFloats, writeFloats } from './conv-ops.ts';
import { filterGradFramed, filterGradPhased, gridWeights } from './filter-grad-framed.ts';
import { wasmHeapAccess } from './wasm-heap.ts';

/** How the filter gradient is composed: 'auto' picks per shape; the others force one path (benchmarks). */
export type FilterGradMethod = 'auto' | 'dilated';

/** Filter gradient as one dilated forward Conv2D (the file comment). Returns [KH,KW,Ci,Co]. */
export function makeFilterGrad(backendName: string, method: FilterGradMethod = 'auto'): KernelFunc {
  return ({ inputs, backend: b, attrs }) => {
    const backend = b as KernelBackend;
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const a = attrs as unknown as Conv2DBackpropFilterAttrs & { dilations?: unknown };
    checkFormat(Conv2DBackpropFilter, a.dataFormat, a.dilations);
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      a.filterShape,
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
      false,
      'channelsLast',
    );
    const { inHeight: H, inWidth: W, inChannels: Ci, outChannels: Co, filterHeight: KH, filterWidth: KW } = info;
    const { outHeight: Ho, outWidth: Wo, strideHeight: sh, strideWidth: sw } = info;
    const { top: pt, left: pl } = info.padInfo;

    if (KH === 1 && KW === 1 && pt === 0 && pl === 0) return filterGrad1x1(backendName, backend, x, dy, sh, sw);
    const heap = method !== 'dilated' ? wasmHeapAccess(backend) : null;
    if (heap != null) {
      const framed =
        sh === 1 && sw === 1
          ? filterGradFramed(backendName, backend, heap, x, dy, info)
          : filterGradPhased(backendName, backend, heap, x, dy, info);
      if (framed != null) return framed;
    }

    const xT = callKernel(backendName, backend, Transpose, { x }, { perm: [3, 1, 2, 0] }); // [Ci,H,W,N]
    const dyT = callKernel(backendName, backend, Transpose, { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho,Wo,N,Co]
    // Output rows = H + pt + pb - (Ho-1)*sh; ask for at least KH (extra rows are cut below).
    const pb = Math.max(0, KH - H - pt + (Ho - 1) * sh);
    const pr = Math.max(0, KW - W - pl + (Wo - 1) * sw);
    const raw = conv2dPadded(backendName, backend, xT, dyT, [sh, sw], [pt, pb, pl, pr]); // [Ci,KHo,KWo,Co]
    dispose(backend, xT, dyT);

    const KHo = raw.shape[1]!;
    const KWo = raw.shape[2]!;
    const src = readFloats(backend, raw);
    const dw = new Float32Array(KH * KW * Ci * Co);
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        for (let ci = 0; ci < Ci; ci++) {
          const from = ((ci * KHo + kh) * KWo + kw) * Co;
          dw.set(src.subarray(from, from + Co), ((kh * KW + kw) * Ci + ci) * Co);
        }
      }
    }
    dispose(backend, raw);
    return writeFloats(backend, dw, [KH, KW, Ci, Co]);
  };
}

/**
 * 1x1 filter gradient with no padding: dw = xs^T dy, xs = x subsampled by the stride (a 1x1 AvgPool)
 * as [N*Ho*Wo, Ci]. The transpose is explicit because BatchMatMul with transposeA is slow on wasm.
 */
function filterGrad1x1(backendName: string, backend: KernelBackend, x: TensorInfo, dy: TensorInfo, sh: number, sw: number): TensorInfo {
  const [N, Ho, Wo, Co] = dy.shape as [number, number, number, number];
  const Ci = x.shape[3]!;
  const M = N * Ho * Wo;
  const xs =
    sh === 1 && sw === 1
      ? x
      : callKernel(backendName, backend, AvgPool, { x }, {
          filterSize: [1, 1],
          strides: [sh, sw],
          pad: 'valid',
          dimRoundingMode: undefined,
        } as unknown as NamedAttrMap); // [N,Ho,Wo,Ci]
  const xs2 = callKernel(backendName, backend, Reshape, { x: xs }, { shape: [M, Ci] });
  const xsT = callKernel(backendName, backend, Transpose, { x: xs2 }, { perm: [1, 0] }); // [Ci, M]
  const a = callKernel(backendName, backend, Reshape, { x: xsT }, { shape: [1, Ci, M] });
  // dy as the weights [1, M, Co]: on wasm written into kept packed weights (a grid with no frame).
  const heap = wasmHeapAccess(backend);
  const { b, owned } =
    heap != null
      ? gridWeights(backendName, backend, heap, dy, Ho, Wo)
      : { b: callKernel(backendName, backend, Reshape, { x: dy }, { shape: [1, M, Co] }), owned: true };
  const prod = callKernel(backendName, backend, BatchMatMul, { a, b }, { transposeA: false, transposeB: false });
  const dw = callKernel(backendName, backend, Reshape, { x: prod }, { shape: [1, 1, Ci, Co] });
  dispose(backend, xs2, xsT, a, prod);
  if (owned) dispose(backend, b);
  if (xs !== x) dispose(backend, xs);
  return dw;
}
