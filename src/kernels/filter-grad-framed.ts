// The fast filter gradient on wasm ("framed"): dw[kh,kw,ci,co] = sum_{n,i,j} x[n, s*i+kh-pt, s*j+kw-pl, ci] * dy[n,i,j,co].
// x (N, H, W, Ci) is laid out channels-first with zero borders, (Ci, N, R, C) with R = H + max(pt, pb)
// rows per image (the bottom zeros of one image are the top zeros of the next) and C = W + max(pl, pr);
// on that common R x C grid, tap (kh, kw) pairs dy at grid position p with x at p + kh*C + kw. At
// stride s > 1, x is split into its s*s phase images x[:, a::s, b::s, :] first, and each tap reads one.
// Then, by preference: Winograd (3x3, stride 1) or one pass of the lab's kernel over frame and dy
// (lab-conv.ts), else one matrix product per tap on dy written into XNNPACK's packed weights
// (prepacked.ts), sharing one packing. Frames by the lab's kernel where it loads, else tfjs ops or JS.
// Not the composed reference path (filter-grad.ts: one dilated Conv2D), which takes what this refuses.

import { BatchMatMul, PadV2, Reshape, Transpose, type backend_util } from '@tensorflow/tfjs-core';
import type { KernelBackend, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { callKernel, dispose, readFloats, writeFloats } from './conv-ops.ts';
import { labFilterGradTaps, labFilterGradWinograd } from './lab-conv.ts';
import { labFrameChannelsFirst, labFramePhases } from './lab-framing.ts';
import { kernelOptions } from './options.ts';
import { packedWeights, writeGrid } from './prepacked.ts';
import { heapView, padBottomRight, releaseHeapView, wasmHeapAccess } from './wasm-heap.ts';

/**
 * Stride-1 filter gradient on wasm as one matrix product per tap, with no transposed copy of dy and
 * no per-step Conv2D operator for a dy-sized "filter", which would transpose and pack that filter at every step. Returns [KH,KW,Ci,Co],
 * or null when the geometry does not fit (the caller then takes the dilated-Conv2D path).
 */
export function filterGradFramed(
  backendName: string,
  backend: KernelBackend,
  heap: NonNullable<ReturnType<typeof wasmHeapAccess>>,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo | null {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outChannels: Co } = info;
  const { filterHeight: KH, filterWidth: KW, outHeight: Ho, outWidth: Wo } = info;
  const { top: pt, left: pl } = info.padInfo;
  // Rows of x the taps reach beyond the bottom / right edge (stride 1).
  const pb = Ho + KH - 1 - pt - H;
  const pr = Wo + KW - 1 - pl - W;
  if (pt < 0 || pl < 0 || pb < 0 || pr < 0) return null;
  // Frame: every image of every channel gets pt zero rows on top and R - H - pt below (shared with
  // the next image's top rows), likewise for columns; dy uses the same R x C grid.
  const R = H + Math.max(pt, pb);
  const C = W + Math.max(pl, pr);
  if (Ho > R || Wo > C || KH > R) return null;
  if (kernelOptions(backend).labFilterGradTaps) {
    // A 3x3 filter by Winograd's F(4x4, 3x3) or F(2x2, 3x3) where the shapes allow (lab-wasm.ts).
    const dw = labFilterGradWinograd(backend, x, dy, [pt, pb, pl, pr], [KH, KW, Ci, Co]);
    if (dw != null) return dw;
  }
  const P = N * R * C;

  // One extra zero image at the end: the last taps read up to (KH-1)*C + KW-1 elements past Ci*P.
  // In one pass by the lab's SIMD kernel where it loads, else Transpose then PadV2.
  const xf = labFrameChannelsFirst(backend, x, R, C, pt, pl) ?? frameComposed(backendName, backend, x, N, H, W, Ci, R, C, pt, pl); // [Ci*N+1, R, C]

  // dy at grid position p meets x at grid position p + kh*C + kw for tap (kh, kw): the x rows of one
  // tap are xf's flat elements from kh*C + kw on, Ci rows of P.
  return tapsFromFrame(backendName, backend, heap, xf, dy, R, C, [KH, KW, Ci, Co], P, (kh, kw) => kh * C + kw);
}

/**
 * dw [KH,KW,Ci,Co] from x's frame xf (Ci planes of P floats) and dy on an R x C grid, tap (kh, kw)
 * reading xf from offsetOf(kh, kw) on: in one pass over both by the lab's kernel where it loads
 * (lab-wasm.ts, labFilterGradTaps: dy read in place, no packed copy), else as one matrix product per
 * tap on packed dy (tapProducts). Frees xf.
 */
function tapsFromFrame(
  backendName: string,
  backend: KernelBackend,
  heap: NonNullable<ReturnType<typeof wasmHeapAccess>>,
  xf: TensorInfo,
  dy: TensorInfo,
  R: number,
  C: number,
  filter: readonly [number, number, number, number],
  P: number,
  offsetOf: (kh: number, kw: number) => number,
): TensorInfo {
  const [KH, KW] = filter;
  if (kernelOptions(backend).labFilterGradTaps) {
    const offsets: number[] = [];
    for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) offsets.push(offsetOf(kh, kw));
    const dw = labFilterGradTaps(backend, xf, P, offsets, dy, R, C, filter);
    if (dw != null) {
      dispose(backend, xf);
      return dw;
    }
  }
  return tapProducts(backendName, backend, heap, xf, gridWeights(backendName, backend, heap, dy, R, C), filter, P, offsetOf);
}

/** x [N,H,W,Ci] framed channels-first with tfjs kernels: [Ci*N+1, R, C] (see labFrameChannelsFirst). */
function frameComposed(
  backendName: string,
  backend: KernelBackend,
  x: TensorInfo,
  N: number,
  H: number,
  W: number,
  Ci: number,
  R: number,
  C: number,
  pt: number,
  pl: number,
): TensorInfo {
  const xT = callKernel(backendName, backend, Transpose, { x }, { perm: [3, 0, 1, 2] }); // [Ci,N,H,W]
  const xT3 = callKernel(backendName, backend, Reshape, { x: xT }, { shape: [Ci * N, H, W] });
  const xf = callKernel(backendName, backend, PadV2, { x: xT3 }, {
    paddings: [
      [0, 1],
      [pt, R - H - pt],
      [pl, C - W - pl],
    ],
    constantValue: 0,
  } as unknown as NamedAttrMap);
  dispose(backend, xT, xT3);
  return xf;
}

/**
 * dy [N,Ho,Wo,Co] on a grid of R x C positions per image (zeros elsewhere) as BatchMatMul's b
 * [1, N*R*C, Co]: written straight into the packed weights XNNPACK keeps for such a b (prepacked.ts),
 * or else padded here and packed by XNNPACK in the first product.
 */
export function gridWeights(
  backendName: string,
  backend: KernelBackend,
  heap: NonNullable<ReturnType<typeof wasmHeapAccess>>,
  dy: TensorInfo,
  R: number,
  C: number,
): { b: TensorInfo; owned: boolean } {
  const [N, Ho, Wo, Co] = dy.shape as [number, number, number, number];
  const pw = kernelOptions(backend).prepackedWeights ? packedWeights(heap, N * R * C, Co, `${N}x${R}x${C}x${Ho}x${Wo}`) : null;
  if (pw != null) {
    writeGrid(heap, pw, dy, R, C);
    return { b: pw.holder, owned: false };
  }
  const shape = [1, N * R * C, Co];
  if (R === Ho && C === Wo) return { b: callKernel(backendName, backend, Reshape, { x: dy }, { shape }), owned: true };
  const dyf = padBottomRight(heap, dy, [N, Ho, Wo * Co], R - Ho, (C - Wo) * Co); // [N, R, C*Co]
  const b = callKernel(backendName, backend, Reshape, { x: dyf }, { shape });
  dispose(backend, dyf);
  return { b, owned: true };
}

/**
 * dw[kh,kw] = (xf's Ci x P rows from offsetOf(kh, kw) on) times b [1, P, Co], for every tap; frees xf,
 * and b if owned. BatchMatMul caches the packed b (its weights) by tensor id, so all products share
 * one packing of dy (none at all when gridWeights wrote it into kept packed weights).
 */
function tapProducts(
  backendName: string,
  backend: KernelBackend,
  heap: NonNullable<ReturnType<typeof wasmHeapAccess>>,
  xf: TensorInfo,
  { b, owned }: { b: TensorInfo; owned: boolean },
  [KH, KW, Ci, Co]: readonly [number, number, number, number],
  P: number,
  offsetOf: (kh: number, kw: number) => number,
): TensorInfo {
  const dw = new Float32Array(KH * KW * Ci * Co);
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      const a = heapView(heap, xf, offsetOf(kh, kw), [1, Ci, P]);
      const prod = callKernel(backendName, backend, BatchMatMul, { a, b }, { transposeA: false, transposeB: false });
      releaseHeapView(heap, a);
      dw.set(readFloats(backend, prod), (kh * KW + kw) * Ci * Co);
      dispose(backend, prod);
    }
  }
  dispose(backend, xf);
  if (owned) dispose(backend, b);
  return writeFloats(backend, dw, [KH, KW, Ci, Co]);
}

/** Tap kh of a stride-s axis with top padding pt reads phase a = (kh - pt) mod s, shifted by u rows. */
function phaseOf(kh: number, pt: number, s: number): { a: number; u: number } {
  const q = kh - pt;
  const a = ((q % s) + s) % s;
  return { a, u: (q - a) / s };
}

/**
 * Strided filter gradient on wasm in the framed form: x split into its sh*sw phase images
 * x_ab[n,r,c] = x[n, sh*r+a, sw*c+b] (zeros past the edge), each framed channels-first as in the
 * stride-1 case and written in one pass (labFramePhases, or JS); tap (kh, kw) is a stride-1 product
 * of one phase with dy. Returns null when the geometry does not fit.
 */
export function filterGradPhased(
  backendName: string,
  backend: KernelBackend,
  heap: NonNullable<ReturnType<typeof wasmHeapAccess>>,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo | null {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outChannels: Co } = info;
  const { filterHeight: KH, filterWidth: KW, outHeight: Ho, outWidth: Wo, strideHeight: sh, strideWidth: sw } = info;
  const { top: pt, left: pl } = info.padInfo;
  if (pt < 0 || pl < 0 || x.dtype !== 'float32') return null;
  const Hp = Math.ceil(H / sh);
  const Wp = Math.ceil(W / sw);
  // Phase rows the taps reach: [uMin, Ho - 1 + uMax]; T zero rows on top, R rows per image.
  const uMin = phaseOf(0, pt, sh).u;
  const uMax = phaseOf(KH - 1, pt, sh).u;
  const vMin = phaseOf(0, pl, sw).u;
  const vMax = phaseOf(KW - 1, pl, sw).u;
  const T = Math.max(0, -uMin);
  const L = Math.max(0, -vMin);
  const R = Hp + Math.max(T, Math.max(0, Ho + uMax - Hp));
  const C = Wp + Math.max(L, Math.max(0, Wo + vMax - Wp));
  if (Ho > R || Wo > C || uMax + T >= R || vMax + L >= C) return null;
  const P = N * R * C;

  // [phase, Ci, N, R, C] plus one zero image at the end (the last taps read past phases*Ci*P), by the
  // lab's wasm kernel where it loads, else in JS.
  const xf = labFramePhases(backend, x, sh, sw, R, C, T, L) ?? framePhasesJs(heap, x, [N, H, W, Ci], sh, sw, R, C, T, L);
  return tapsFromFrame(backendName, backend, heap, xf, dy, R, C, [KH, KW, Ci, Co], P, (kh, kw) => {
    const r = phaseOf(kh, pt, sh);
    const c = phaseOf(kw, pl, sw);
    return (r.a * sw + c.a) * Ci * P + (r.u + T) * C + (c.u + L);
  });
}

/** labFramePhases in JS (see there). */
function framePhasesJs(
  heap: NonNullable<ReturnType<typeof wasmHeapAccess>>,
  x: TensorInfo,
  [N, H, W, Ci]: readonly [number, number, number, number],
  sh: number,
  sw: number,
  R: number,
  C: number,
  T: number,
  L: number,
): TensorInfo {
  const P = N * R * C;
  const phases = sh * sw;
  const xf = heap.makeOutput([phases * Ci * N + 1, R, C], 'float32');
  const mem = heap.wasm.HEAPF32;
  const o = heap.dataIdMap.get(xf.dataId)!.memoryOffset / 4;
  mem.fill(0, o, o + (phases * Ci * N + 1) * R * C);
  let src = heap.dataIdMap.get(x.dataId)!.memoryOffset / 4;
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < H; h++) {
      const a = h % sh;
      const rowBase = o + n * R * C + ((h - a) / sh + T) * C;
      for (let w = 0; w < W; w++) {
        const b = w % sw;
        let d = rowBase + (a * sw + b) * Ci * P + (w - b) / sw + L;
        for (let ci = 0; ci < Ci; ci++, d += P) mem[d] = mem[src++]!;
      }
    }
  }
  return xf;
}
