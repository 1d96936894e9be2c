// Convolution gradient kernels for training on tfjs-backend-wasm (and, where measured faster, tfjs-cpu).
//
// tfjs-backend-wasm 4.22 ships no Conv2DBackpropFilter kernel, so tf.grads through tf.conv2d fails on
// it; its Conv2DBackpropInput exists but is a plain loop (not XNNPACK) and dominated the training step.
// Both kernels are registered here, composed from the backend's own fast kernels (Conv2D, BatchMatMul,
// Transpose, Reshape, PadV2, Slice; AvgPool for 1x1 kernels), so every heavy loop runs in XNNPACK,
// except on wasm where the lab's kernels load (lab-wasm.ts), for input channels a multiple of 4 and
// output channels of 8 (every ResNet layer but the first): there one pass of the lab's own kernel over
// x's frame and dy computes every tap of the filter gradient, and wasm's Conv2D is wrapped so that its
// convolutions (the forward ones, strided too, and the input gradient's below) run in the lab's kernel;
// with fused multiply-adds where the engine has relaxed SIMD, and split over helper threads in the
// browser worker (ResNet-20, batch 128, per step: filter gradients in the browser worker 257 -> 138 ms
// and Node 451 -> 313 ms; with the convolutions, the browser worker's step 656 -> 544 ms). For a 3x3
// filter at stride 1 with an even output size (every ResNet layer but the first and the strided ones)
// both run by Winograd's F(2x2, 3x3) instead (lab-wasm.ts: labConv2D, labFilterGradWinograd; browser
// worker step 483 -> 360 ms), by F(4x4, 3x3) where the output size is a multiple of 4 (every such
// CIFAR layer; Node ResNet-20 step about 350 -> 305 ms, ResNet-110 2,116 -> 1,634 ms), and so does
// the first layer's filter gradient, its 3 channels padded to 4. The data movement
// around the products (x's frames, the packed dy, the input gradient's depth-to-space and crop) is done
// in one pass each by the lab's SIMD kernels where they load, and by the tfjs kernels named here (or
// JS) otherwise:
//
//  - Filter gradient: dw[kh,kw,ci,co] = sum_{n,i,j} x[n, s*i+kh-pt, s*j+kw-pl, ci] * dy[n,i,j,co].
//    Stride 1 on wasm ("framed"): lay x out channels-first with zero borders, [Ci, N, R, C] with
//    R = H + max(pt, pb) rows per image (the bottom zeros of one image are the top zeros of the next)
//    and C = W + max(pl, pr), and pad dy to [N, R, C, Co] (in JS, wasm-heap.ts). On that common R x C grid, tap (kh, kw)
//    pairs dy at grid position p with x at p + kh*C + kw, so dw[kh,kw] = A_tap [Ci, N*R*C] times
//    dy [N*R*C, Co], where A_tap is the x frame read from flat offset kh*C + kw on: a view into the
//    same memory (wasm-heap.ts), no copy. The nine products share dy as BatchMatMul's weights, which
//    XNNPACK would pack on one thread at every step; instead dy is written straight into the packed
//    weights XNNPACK keeps for a held tensor of that shape (prepacked.ts; browser worker, ResNet-20:
//    the filter gradients 385 -> 277 ms per step, the whole step 965 -> 839 ms). This replaced the
//    dilated Conv2D below at stride 1 (ResNet-20, batch 128, Node CPU time: 48.0 -> 38.8 ms at
//    32x32x16, 38.6 -> 30.5 at 16x16x32, 32.1 -> 29.6 at 8x8x64):
//    a Conv2D with a new dy-sized filter every step transposes and packs that filter first (~17 ms
//    at 32x32x16), more than the packing of the matrix product (~9 ms) plus the frames (~6 ms).
//    Stride s > 1 on wasm: the same with x split into its s*s phase images x[:, a::s, b::s, :] (one
//    pass writes all their frames); each tap reads one phase (27.8 -> 21.6 ms at 32x32x16 -> 16x16x32).
//    On tfjs-cpu (or if the geometry does not fit): with x as [Ci,H,W,N] (the "batch" is Ci, the "channels" are N)
//    and dy as the filter [Ho,Wo,N,Co], this is one forward Conv2D with dilation = stride and the
//    forward's top/left padding; its output [Ci,KH',KW',Co] is cut to KH x KW and reordered to
//    [KH,KW,Ci,Co] (a small array, done in JS).
//  - Input gradient ("phase" form): split dx's rows by phase ph = (h + pt) mod s. Rows of one phase see
//    only the taps kh = s*m + ph, so all s*s phases are one stride-1 Conv2D of dy with a regrouped,
//    180-degree-rotated filter [Mh,Mw,Co,s*s*Ci] (Mh = ceil(KH/s); missing taps are zeros), followed
//    by depth-to-space as reshape/transpose. With stride 1 this is exactly "conv with the rotated
//    filter, in/out swapped, padding top = KH-1-pt, bottom = H-Ho+pt".
//  - Unpadded 1x1 kernels (neon's projection shortcut): dw = subsample(x)^T dy as one matrix product,
//    dx = zero-insertion (one PadV2) of dy w^T.
// tfjs-cpu gets the filter gradient too (its own is ~40x slower than the composed one); see
// COMPOSED_KERNELS for the measurements behind each choice.
//
// Only NHWC, dilation 1 (tfjs's conv2d gradient refuses dilation > 1 before reaching a kernel anyway).

import {
  AvgPool,
  AvgPoolGrad,
  backend_util,
  BatchMatMul,
  Conv2D,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  getKernel,
  PadV2,
  registerKernel,
  Reshape,
  Slice,
  Transpose,
  unregisterKernel,
} from '@tensorflow/tfjs-core';
import { registerNoCopyKernels, unregisterNoCopyKernels } from './no-copy.ts';
import { makeAvgPoolGrad } from './pool-grad.ts';
import { labConv2D, labDepthToSpaceCrop, labFilterGradTaps, labFilterGradWinograd, labFrameChannelsFirst, labFramePhases } from './lab-wasm.ts';
import { heapView, padBottomRight, releaseHeapView, wasmHeapAccess } from './wasm-heap.ts';
import { packedWeights, writeGrid } from './prepacked.ts';
import type {
  Conv2DAttrs,
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
} from '@tensorflow/tfjs-core';

/** Backends whose gradient kernels this module can replace. */
export type TrainingBackendName = 'wasm' | 'cpu';

/** Thrown when a gradient is asked for a convolution these kernels do not handle. */
export class UnsupportedConvGradientError extends Error {
  constructor(kernel: string, what: string) {
    super(
      `${kernel} (ResNet Lab composed kernel): ${what} is not supported; ` +
        `only NHWC, dilation 1, 'same' / 'valid' / explicit padding are.`,
    );
    this.name = 'UnsupportedConvGradientError';
  }
}

type Explicit = [[number, number], [number, number], [number, number], [number, number]];

/** Calls another kernel of the same backend directly (no engine, no tape). */
function callKernel(
  backendName: string,
  backend: KernelBackend,
  kernelName: string,
  inputs: NamedTensorInfoMap,
  attrs: NamedAttrMap,
): TensorInfo {
  const config = getKernel(kernelName, backendName);
  if (config == null) {
    throw new Error(`Kernel ${kernelName} is not registered for backend '${backendName}'.`);
  }
  const out = config.kernelFunc({ inputs, backend, attrs });
  return Array.isArray(out) ? out[0]! : out;
}

function dispose(backend: KernelBackend, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

function readFloats(backend: KernelBackend, info: TensorInfo): Float32Array {
  const values = backend.readSync(info.dataId);
  if (!(values instanceof Float32Array)) {
    throw new Error(`conv gradient kernels expect float32 tensors, got ${info.dtype}.`);
  }
  return values;
}

function writeFloats(backend: KernelBackend, values: Float32Array, shape: number[]): TensorInfo {
  return { dataId: backend.write(values, shape, 'float32'), shape, dtype: 'float32' };
}

function checkFormat(kernel: string, dataFormat: string | undefined, dilations: unknown): void {
  if (dataFormat != null && dataFormat !== 'NHWC') {
    throw new UnsupportedConvGradientError(kernel, `dataFormat '${dataFormat}'`);
  }
  if (dilations != null) {
    const d = Array.isArray(dilations) ? dilations : [dilations, dilations];
    if (d.some((v) => v !== 1)) throw new UnsupportedConvGradientError(kernel, `dilations ${String(dilations)}`);
  }
}

/**
 * Stride-1 Conv2D of x [N,H,W,C] with explicit padding that may be negative (negative = crop x).
 */
function conv2dPadded(
  backendName: string,
  backend: KernelBackend,
  x: TensorInfo,
  filter: TensorInfo,
  dilations: [number, number],
  pads: [number, number, number, number], // top, bottom, left, right
): TensorInfo {
  let [pt, pb, pl, pr] = pads;
  let input = x;
  if (pt < 0 || pb < 0 || pl < 0 || pr < 0) {
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const top = Math.max(0, -pt);
    const left = Math.max(0, -pl);
    const size = [n, h - top - Math.max(0, -pb), w - left - Math.max(0, -pr), c];
    input = callKernel(backendName, backend, Slice, { x }, { begin: [0, top, left, 0], size });
    pt = Math.max(0, pt);
    pb = Math.max(0, pb);
    pl = Math.max(0, pl);
    pr = Math.max(0, pr);
  }
  const pad: Explicit = [
    [0, 0],
    [pt, pb],
    [pl, pr],
    [0, 0],
  ];
  const out = callKernel(backendName, backend, Conv2D, { x: input, filter }, {
    strides: [1, 1],
    pad,
    dataFormat: 'NHWC',
    dilations,
    dimRoundingMode: undefined,
  } as unknown as NamedAttrMap);
  if (input !== x) dispose(backend, input);
  return out;
}

/**
 * Stride-1 filter gradient on wasm as one matrix product per tap, with no transposed copy of dy and
 * no per-step Conv2D operator for a dy-sized "filter" (see the file comment). Returns [KH,KW,Ci,Co],
 * or null when the geometry does not fit (the caller then takes the dilated-Conv2D path).
 */
function filterGradFramed(
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
  if (useLabTaps) {
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
  if (useLabTaps) {
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

let useLabTaps = true;

/**
 * For benchmarks and tests: whether the filter gradient may use the lab's one-pass kernel (true, where
 * it loads) or must take the matrix products on packed dy.
 */
export function setLabFilterGradTaps(on: boolean): void {
  useLabTaps = on;
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
function gridWeights(
  backendName: string,
  backend: KernelBackend,
  heap: NonNullable<ReturnType<typeof wasmHeapAccess>>,
  dy: TensorInfo,
  R: number,
  C: number,
): { b: TensorInfo; owned: boolean } {
  const [N, Ho, Wo, Co] = dy.shape as [number, number, number, number];
  const pw = usePrepacked ? packedWeights(heap, N * R * C, Co, `${N}x${R}x${C}x${Ho}x${Wo}`) : null;
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

let usePrepacked = true;

/** For benchmarks and tests: whether the filter gradient writes dy into XNNPACK's packed weights. */
export function setPrepackedWeights(on: boolean): void {
  usePrepacked = on;
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
function filterGradPhased(
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

/** How the filter gradient is composed: 'auto' picks per shape; the others force one path (benchmarks). */
export type FilterGradMethod = 'auto' | 'dilated';

/** Filter gradient as one dilated forward Conv2D (see the file comment). Returns [KH,KW,Ci,Co]. */
function makeFilterGrad(backendName: string, method: FilterGradMethod = 'auto'): KernelFunc {
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
function filterGrad1x1(
  backendName: string,
  backend: KernelBackend,
  x: TensorInfo,
  dy: TensorInfo,
  sh: number,
  sw: number,
): TensorInfo {
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

/** Input gradient as one stride-1 Conv2D plus depth-to-space (see the file comment). */
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

function makeInputGrad(backendName: string, fallback: KernelConfig | undefined): KernelFunc {
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
    // stride 2, 9 of 2x2 taps x 4 phases are real: ResNet-20's two such input gradients at batch 128
    // in Node, 12.6 -> 7.5 and 12.2 -> 7.4 ms).
    const z =
      (sh > 1 || sw > 1) && useLabConv && Math.min(...pads) >= 0
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

let useLabConv = true;

/**
 * For benchmarks and tests: whether stride-1 convolutions on wasm may run the lab's kernel (true, where
 * it loads) or always XNNPACK's.
 */
export function setLabConv(on: boolean): void {
  useLabConv = on;
}

/**
 * wasm's Conv2D, with stride-1 NHWC convolutions whose channels fit run by the lab's kernel where it
 * loads (lab-wasm.ts, labConv2D): the forward convolutions of every ResNet layer but the first and the
 * two strided ones, and through the input gradient's stride-1 Conv2D, every input gradient.
 * Everything else goes to wasm's own (XNNPACK) kernel.
 */
function makeLabConv2D(fallback: KernelConfig): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as Conv2DAttrs;
    const [sh, sw] = Array.isArray(a.strides) ? a.strides : [a.strides, a.strides];
    const dil1 = a.dilations == null || (Array.isArray(a.dilations) ? a.dilations : [a.dilations, a.dilations]).every((v) => v === 1);
    if (useLabConv && sh === sw && dil1 && (a.dataFormat ?? 'NHWC') === 'NHWC' && x.shape.length === 4 && filter.shape.length === 4) {
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

/** Kernel functions of this module, for benchmarks that want to call them without registering. */
export function composedKernels(backendName: string, fallbackInput?: KernelConfig) {
  return {
    filterGrad: makeFilterGrad(backendName),
    filterGradDilated: makeFilterGrad(backendName, 'dilated'),
    inputGrad: makeInputGrad(backendName, fallbackInput),
  };
}

const registered = new Set<string>();
const originals = new Map<string, KernelConfig | undefined>();

/** The kernel a backend had before registerTrainingKernels replaced it (undefined if none). */
export function originalKernel(kernelName: string, backendName: TrainingBackendName): KernelConfig | undefined {
  return originals.get(`${backendName}_${kernelName}`);
}

/**
 * Replaces a kernel, keeping the replaced one's setupFunc: a backend runs the setupFunc of the kernels
 * registered when it initialises, and wasm's own Conv2DBackpropInput (our NCHW fallback, and what
 * unregisterTrainingKernels restores) only works after its setup has bound the C function.
 */
function replaceKernel(config: KernelConfig): void {
  const key = `${config.backendName}_${config.kernelName}`;
  const existing = getKernel(config.kernelName, config.backendName);
  if (!originals.has(key)) originals.set(key, existing);
  if (existing != null) unregisterKernel(config.kernelName, config.backendName);
  const setupFunc = originals.get(key)?.setupFunc;
  registerKernel(setupFunc != null ? { ...config, setupFunc } : config);
}

/**
 * Which composed kernels each backend gets, from `npx tsx bench/kernels.ts` on the 2-core machine
 * (ResNet-20 conv shapes, Node 20, ms summed over its 8 shapes, median of 3-7 runs):
 *  - wasm, batch 32: forward Conv2D 22.9; filter gradient composed 47.8 (wasm has none); input
 *    gradient wasm's own 265, composed 30. Both composed kernels are registered.
 *  - cpu, batch 8: forward 278; filter gradient tfjs-cpu 12,677, composed 324 (39x faster); input
 *    gradient tfjs-cpu 181, composed 335 (1.8x slower). Only the filter gradient is registered.
 */
export const COMPOSED_KERNELS: Record<TrainingBackendName, { filter: boolean; input: boolean }> = {
  wasm: { filter: true, input: true },
  cpu: { filter: true, input: false },
};

/**
 * Registers the composed Conv2DBackpropFilter / Conv2DBackpropInput for a backend (per
 * COMPOSED_KERNELS), and on wasm also the Conv2D that runs stride-1 convolutions in the lab's kernel
 * (makeLabConv2D), the buffer-sharing Identity and Cast of no-copy.ts (tfjs-wasm
 * copies a tensor for every tensor saved for backprop; ~2% of a ResNet-20 step) and the 1x1
 * AvgPoolGrad of pool-grad.ts (option A's shortcut gradient). Idempotent; may be
 * called before or after tf.setBackend (these kernels need no setup step).
 */
export function registerTrainingKernels(backendName: TrainingBackendName): void {
  if (registered.has(backendName)) return;
  if (backendName === 'wasm') {
    registerNoCopyKernels('wasm');
    const fallback = getKernel(AvgPoolGrad, 'wasm');
    replaceKernel({ kernelName: AvgPoolGrad, backendName, kernelFunc: makeAvgPoolGrad(backendName, fallback) });
    const conv = getKernel(Conv2D, 'wasm');
    if (conv != null) replaceKernel({ kernelName: Conv2D, backendName, kernelFunc: makeLabConv2D(conv) });
  }
  const use = COMPOSED_KERNELS[backendName];
  if (use.filter) {
    replaceKernel({ kernelName: Conv2DBackpropFilter, backendName, kernelFunc: makeFilterGrad(backendName) });
  }
  if (use.input) {
    const fallback = getKernel(Conv2DBackpropInput, backendName);
    replaceKernel({ kernelName: Conv2DBackpropInput, backendName, kernelFunc: makeInputGrad(backendName, fallback) });
  }
  registered.add(backendName);
}

/** Puts back the kernels registerTrainingKernels replaced (for tests and benchmarks). */
export function unregisterTrainingKernels(backendName: TrainingBackendName): void {
  if (!registered.has(backendName)) return;
  if (backendName === 'wasm') unregisterNoCopyKernels('wasm');
  for (const kernelName of [Conv2DBackpropFilter, Conv2DBackpropInput, AvgPoolGrad, Conv2D]) {
    const key = `${backendName}_${kernelName}`;
    if (!originals.has(key)) continue;
    if (getKernel(kernelName, backendName) != null) unregisterKernel(kernelName, backendName);
    const original = originals.get(key);
    if (original != null) registerKernel(original);
    originals.delete(key);
  }
  registered.delete(backendName);
}
