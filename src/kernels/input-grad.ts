// The Conv2DBackpropInput kernel for training (tfjs-backend-wasm's own is a plain loop, not XNNPACK),
// in the "phase" form: dx's rows split by phase ph = (h + pt) mod s see only the taps kh = s*m + ph,
// so all s*s phases are one stride-1 Conv2D of dy (N, Ho, Wo, Co) with a regrouped, 180-degree-rotated
// filter (Mh, Mw, Co, s*s*Ci), Mh = ceil(KH/s) (missing taps are zeros), then depth-to-space and a crop.
// At stride 1 that is the convolution with the rotated filter, padding KH-1-pt on top. The Conv2D runs
// in the lab's kernel where it loads (lab-conv.ts, skipping all-zero taps), else XNNPACK; depth-to-space
// in one pass of the lab's kernel, else Reshape/Transpose/Slice. Unpadded 1x1 filters: z = dy w^T and
// one PadV2 for the zeros between rows. Only NHWC, dilation 1. Registered by conv-backprop.ts.

import { backend_util, Conv2DBackpropInput, PadV2, Reshape, Slice, Transpose } from '@tensorflow/tfjs-core';
import type { Conv2DBackpropInputAttrs, KernelBackend, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { callKernel, checkFormat, conv2dPadded, dispose, readFloats, writeFloats } from './conv-ops.ts';
import { labConv2D } from './lab-conv.ts';
import { labDepthToSpaceCrop } from './lab-framing.ts';
import { kernelOptions } from './options.ts';

/**
 * 1x1 input gradient with no padding: z = dy * w^T (a 1x1 Conv2D), then for stride s > 1 the
 * zeros between z's rows and columns are inserted with one PadV2 on a [N*Ho, 1, Wo, Ci] view.
 */
function inputGrad1x1(
  backendName: string,
  backend: KernelBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  inputShape: readonly [number, number, number, number],
  sh: number,
  sw: number,
): TensorInfo {
  const [N, H, W, Ci] = inputShape;
  const [, Ho, Wo, Co] = dy.shape as [number, number, number, number];
  const w = readFloats(backend, filter); // [1,1,Ci,Co]
  const wT = new Float32Array(Ci * Co);
  for (let ci = 0; ci < Ci; ci++) for (let co = 0; co < Co; co++) wT[co * Ci + ci] = w[ci * Co + co]!;
  const wInfo = writeFloats(backend, wT, [1, 1, Co, Ci]);
  const z = conv2dPadded(backendName, backend, dy, wInfo, [1, 1], [0, 0, 0, 0]); // [N,Ho,Wo,Ci]
  dispose(backend, wInfo);
  if (sh === 1 && sw === 1) return z;
  const z4 = callKernel(backendName, backend, Reshape, { x: z }, { shape: [N * Ho, 1, Wo, Ci] });
  const padded = callKernel(backendName, backend, PadV2, { x: z4 }, {
    paddings: [
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, (sw - 1) * Ci],
    ],
    constantValue: 0,
  } as unknown as NamedAttrMap); // [N*Ho, sh, Wo, sw*Ci]
  const full = callKernel(backendName, backend, Reshape, { x: padded }, { shape: [N, Ho * sh, Wo * sw, Ci] });
  dispose(backend, z, z4, padded);
  if (Ho * sh === H && Wo * sw === W) return full;
  const dx = callKernel(backendName, backend, Slice, { x: full }, { begin: [0, 0, 0, 0], size: [N, H, W, Ci] });
  dispose(backend, full);
  return dx;
}

/**
 * The phase filter: G[mh,mw,co,(ph,pw,ci)] = w[sh*(Mh-1-mh)+ph, sw*(Mw-1-mw)+pw, ci, co], zero where
 * the tap falls outside the KH x KW kernel. w is [KH,KW,Ci,Co]; G is [Mh,Mw,Co,sh*sw*Ci].
 */
export function phaseFilter(
  w: Float32Array,
  [KH, KW, Ci, Co]: readonly [number, number, number, number],
  sh: number,
  sw: number,
): { values: Float32Array; shape: [number, number, number, number] } {
  const Mh = Math.ceil(KH / sh);
  const Mw = Math.ceil(KW / sw);
  const P = sh * sw * Ci;
  const g = new Float32Array(Mh * Mw * Co * P);
  for (let mh = 0; mh < Mh; mh++) {
    for (let ph = 0; ph < sh; ph++) {
      const kh = sh * (Mh - 1 - mh) + ph;
      if (kh >= KH) continue;
      for (let mw = 0; mw < Mw; mw++) {
        for (let pw = 0; pw < sw; pw++) {
          const kw = sw * (Mw - 1 - mw) + pw;
          if (kw >= KW) continue;
          for (let ci = 0; ci < Ci; ci++) {
            const from = ((kh * KW + kw) * Ci + ci) * Co;
            const to = (mh * Mw + mw) * Co * P + (ph * sw + pw) * Ci + ci;
            for (let co = 0; co < Co; co++) g[to + co * P] = w[from + co]!;
          }
        }
      }
    }
  }
  return { values: g, shape: [Mh, Mw, Co, P] };
}

/**
 * For labConv2D: per 8 output channels of a filter [KH, KW, Ci, Co] (values in that order), an int32
 * whose bit t is set where tap t has a nonzero weight for any of them.
 */
function tapMasks(values: Float32Array, [KH, KW, Ci, Co]: readonly number[]): Int32Array {
  const masks = new Int32Array(Math.ceil(Co! / 8));
  for (let t = 0; t < KH! * KW!; t++) {
    for (let c = 0; c < Ci!; c++) {
      const row = (t * Ci! + c) * Co!;
      for (let o = 0; o < Co!; o++) if (values[row + o] !== 0) masks[o >> 3]! |= 1 << t;
    }
  }
  return masks;
}

/** Input gradient as one stride-1 Conv2D plus depth-to-space (the file comment). */
export function makeInputGrad(backendName: string, fallback: KernelConfig | undefined): KernelFunc {
  return (args) => {
    const { inputs, backend: b, attrs } = args;
    const backend = b as KernelBackend;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as Conv2DBackpropInputAttrs & { dilations?: unknown };
    if (a.dataFormat === 'NCHW' && fallback != null) return fallback.kernelFunc(args);
    checkFormat(Conv2DBackpropInput, a.dataFormat, a.dilations);
    const info = backend_util.computeConv2DInfo(
      a.inputShape,
      filter.shape as [number, number, number, number],
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
      false,
      'channelsLast',
    );
    const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outChannels: Co } = info;
    const { filterHeight: KH, filterWidth: KW, outHeight: Ho, outWidth: Wo, strideHeight: sh, strideWidth: sw } = info;
    const { top: pt, left: pl } = info.padInfo;

    if (KH === 1 && KW === 1 && pt === 0 && pl === 0) {
      return inputGrad1x1(backendName, backend, dy, filter, [N, H, W, Ci], sh, sw);
    }

    const g = phaseFilter(readFloats(backend, filter), [KH, KW, Ci, Co], sh, sw);
    const gInfo = writeFloats(backend, g.values, g.shape);
    const [Mh, Mw] = g.shape;
    // Phase rows q in [q0, Q) cover dx rows h = sh*q + ph - pt for all h in [0, H).
    const q0 = Math.floor(pt / sh);
    const Q = Math.ceil((H + pt) / sh);
    const r0 = Math.floor(pl / sw);
    const R = Math.ceil((W + pl) / sw);
    const pads: [number, number, number, number] = [Mh - 1 - q0, Q - Ho, Mw - 1 - r0, R - Wo];
    // Strided: the lab's kernel skips the regrouped filter's all-zero taps (for a 3x3 filter at
    // stride 2, 9 of 2x2 taps x 4 phases are real).
    const z =
      (sh > 1 || sw > 1) && kernelOptions(backend).labConv && Math.min(...pads) >= 0
        ? labConv2D(backend, dy, gInfo, pads, 1, tapMasks(g.values, g.shape))
        : null;
    const zz = z ?? conv2dPadded(backendName, backend, dy, gInfo, [1, 1], pads);
    dispose(backend, gInfo); // zz: [N, Q-q0, R-r0, sh*sw*Ci]

    const rows = Q - q0;
    const cols = R - r0;
    const top = pt - sh * q0;
    const left = pl - sw * r0;
    // The phases to their places and the crop in one pass by the lab's wasm kernel where it loads.
    const direct = sh > 1 || sw > 1 ? labDepthToSpaceCrop(backend, zz, sh, sw, [H, W, Ci], top, left) : null;
    if (direct != null) {
      dispose(backend, zz);
      return direct;
    }
    let full = zz; // becomes [N, rows*sh, cols*sw, Ci]
    if (sh > 1) {
      // [N*rows, cols, sh, sw*Ci] -> [N*rows, sh, cols, sw*Ci]: row phase moves next to the row index.
      const zr = callKernel(backendName, backend, Reshape, { x: zz }, { shape: [N * rows, cols, sh, sw * Ci] });
      const t = callKernel(backendName, backend, Transpose, { x: zr }, { perm: [0, 2, 1, 3] });
      dispose(backend, zz, zr);
      full = t;
    }
    const shaped = callKernel(backendName, backend, Reshape, { x: full }, { shape: [N, rows * sh, cols * sw, Ci] });
    dispose(backend, full);

    if (top === 0 && left === 0 && rows * sh === H && cols * sw === W) return shaped;
    const dx = callKernel(backendName, backend, Slice, { x: shaped }, { begin: [0, top, left, 0], size: [N, H, W, Ci] });
    dispose(backend, shaped);
    return dx;
  };
}
