// The wrappers of the lab's convolution kernels (kernels-as/conv-taps.ts, filter-grad-taps.ts,
// winograd2.ts, winograd4.ts) on tfjs-wasm's heap: labConv2D (a convolution, directly or by Winograd)
// and the filter gradients labFilterGradTaps and labFilterGradWinograd, split by rows (of output or
// of tiles) over the helper threads where there are any. Tensors are NHWC as tfjs keeps them: x is
// (N, H, W, Ci), filters (KH, KW, Ci, Co), outputs (N, Ho, Wo, Co). Each returns null where the lab's
// kernels are not available or the shapes do not fit, and the caller takes XNNPACK or composed ops.
// Not the choice between them (conv-backprop.ts), nor the loader (lab-wasm.ts).

import type { KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';
import { splitRange, type LabPoolOp } from './lab-threads.ts';
import {
  addParts,
  available,
  chunksFor,
  LAB_MAX_CHANNELS,
  LAB_MAX_TAPS,
  labThreads,
  MASKS_AT,
  ptr,
  runParts,
  sizeOf,
  TAPS_AT,
  type Lab,
  type LabExports,
} from './lab-wasm.ts';
import { kernelOptions } from './options.ts';
import type { WasmBackendInternals } from './wasm-heap.ts';

/** Whether labFilterGradTaps takes these channel counts. */
export function labFilterGradFits(ci: number, co: number, taps: number): boolean {
  return ci > 0 && co > 0 && ci % 4 === 0 && co % 8 === 0 && taps <= LAB_MAX_TAPS;
}

/**
 * The filter gradient [KH, KW, Ci, Co] from x's channels-first frame xf (labFrameChannelsFirst or
 * labFramePhases: channel ch of the frame at float ch*plane) and dy [N, Ho, Wo, Co] on an R x C grid,
 * tap t reading the frame from float offsets[t] on (kernels-as/filter-grad-taps.ts).
 * Null where the lab's kernels are not available or the channels do not fit (labFilterGradFits).
 */
export function labFilterGradTaps(
  backend: KernelBackend,
  xf: TensorInfo,
  plane: number,
  offsets: readonly number[],
  dy: TensorInfo,
  R: number,
  C: number,
  [KH, KW, Ci, Co]: readonly [number, number, number, number],
): TensorInfo | null {
  const ok = dy.shape.length === 4 && xf.dtype === 'float32' ? available(backend, dy) : null;
  if (ok == null || offsets.length !== KH * KW || !labFilterGradFits(Ci, Co, offsets.length)) return null;
  const { heap, lab } = ok;
  const [N, Ho, Wo, dyCo] = dy.shape as [number, number, number, number];
  const frameFloats = sizeOf(xf.shape);
  const reach = Math.max(...offsets) + (Ci - 1) * plane + ((N - 1) * R + Ho - 1) * C + Wo;
  if (dyCo !== Co || Ho > R || Wo > C || Math.min(...offsets) < 0 || reach > frameFloats) {
    throw new Error(
      `labFilterGradTaps: dy [${dy.shape}] on a ${R}x${C} grid does not fit a frame of ${frameFloats} floats for a ${KH}x${KW}x${Ci}x${Co} filter.`,
    );
  }
  const taps = lab.work + TAPS_AT;
  new Int32Array(heap.wasm.HEAPF32.buffer, taps, offsets.length).set(offsets);
  const out = heap.makeOutput([KH, KW, Ci, Co], 'float32');
  const rows = N * Ho;
  const parts = Math.min(labThreads(backend), rows);
  const run = (r0: number, r1: number, at: number) => [
    ptr(heap, xf),
    plane,
    taps,
    offsets.length,
    ptr(heap, dy),
    Ho,
    Wo,
    R,
    C,
    Ci,
    Co,
    r0,
    r1,
    at,
  ];
  if (parts <= 1) {
    runParts(lab, 'filterGradTaps', [run(0, rows, ptr(heap, out))]);
    return out;
  }
  // Each part sums its rows into its own output (the first into out, the others into a scratch
  // tensor), added up here: KH*KW*Ci*Co floats per part.
  const size = KH * KW * Ci * Co;
  const scratch = heap.makeOutput([parts - 1, size], 'float32');
  const outAt = ptr(heap, out);
  const scratchAt = ptr(heap, scratch);
  runParts(
    lab,
    'filterGradTaps',
    splitRange(rows, parts).map(([r0, r1], p) => run(r0, r1, p === 0 ? outAt : scratchAt + (p - 1) * size * 4)),
  );
  addParts(heap, outAt, scratchAt, parts - 1, size);
  heap.disposeData(scratch.dataId);
  return out;
}

/**
 * A dilation-1 convolution of x [N,H,W,Ci] with filter [KH,KW,Ci,Co], padding (top, bottom, left,
 * right) >= 0 and the same stride both ways, giving [N, Ho, Wo, Co]: x framed channels-last with zero
 * borders, then every output pixel summed over taps and channels by the lab's kernel
 * (kernels-as/conv-taps.ts, convTaps), split by rows over the helper threads where there are any.
 * tapMasks (an int32 per 8 output channels, bit t set where tap t has a nonzero weight for them; at
 * most 31 taps) lets it skip all-zero taps. A 3x3 filter at stride 1 with an even output height and
 * width takes Winograd's F(2x2, 3x3) instead (16 multiply-adds per 2x2 tile and channel pair instead
 * of 36), and where the output size is a multiple of 4, F(4x4, 3x3) (36 per 4x4 tile where F(2x2, 3x3)
 * does 64, and fewer transformed values to move), unless the backend's kernel options say otherwise.
 * Null where the lab's kernels are not available or the shapes do not fit (output channels a multiple
 * of 8, input channels of 4: the first layer's forward convolution, 3 channels, stays in XNNPACK).
 */
export function labConv2D(
  backend: KernelBackend,
  x: TensorInfo,
  filter: TensorInfo,
  [pt, pb, pl, pr]: readonly [number, number, number, number],
  stride = 1,
  tapMasks?: Int32Array,
): TensorInfo | null {
  const ok = x.shape.length === 4 && filter.shape.length === 4 && filter.dtype === 'float32' && stride >= 1 ? available(backend, x) : null;
  if (ok == null) return null;
  const [N, H, W, Ci] = x.shape as [number, number, number, number];
  const [KH, KW, fCi, Co] = filter.shape as [number, number, number, number];
  const Ho = Math.floor((H + pt + pb - KH) / stride) + 1;
  const Wo = Math.floor((W + pl + pr - KW) / stride) + 1;
  if (fCi !== Ci || Ci % 4 !== 0 || Co % 8 !== 0 || KH * KW > LAB_MAX_TAPS || Math.min(pt, pb, pl, pr) < 0) return null;
  // The frame: pt zero rows above each image, and below it at least pb (shared with the next image's
  // top rows, and one zero image after the last); likewise for columns.
  const R = H + Math.max(pt, pb);
  const C = W + Math.max(pl, pr);
  if (H + pt + pb < KH || W + pl + pr < KW || Ho > R || Wo > C) return null;
  const { heap, lab } = ok;
  const y = heap.makeOutput([N, Ho, Wo, Co], 'float32');
  const yAt = ptr(heap, y);
  const { winograd, winogradTile } = kernelOptions(backend);
  if (winograd && stride === 1 && KH === 3 && KW === 3 && Ho % 2 === 0 && Wo % 2 === 0) {
    convWinograd(
      backend,
      heap,
      lab,
      winogradForm(Ho, Wo, winogradTile),
      labThreads(backend),
      ptr(heap, x),
      ptr(heap, filter),
      [N, H, W, Ci, Co],
      [pt, pl, Ho, Wo],
      yAt,
    );
    return y;
  }
  const xp = heap.makeOutput([(N + 1) * R * C, Ci], 'float32');
  lab.fn.frameChannelsLast(ptr(heap, x), N, H, W, Ci, R, C, pt, pl, ptr(heap, xp));
  const taps = lab.work + TAPS_AT;
  const offsets = new Int32Array(heap.wasm.HEAPF32.buffer, taps, KH * KW);
  for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) offsets[kh * KW + kw] = kh * C + kw;
  const rows = N * Ho;
  let masks = 0;
  if (tapMasks != null && KH * KW <= 31 && tapMasks.length === Co / 8 && Co <= LAB_MAX_CHANNELS) {
    masks = lab.work + MASKS_AT;
    new Int32Array(heap.wasm.HEAPF32.buffer, masks, tapMasks.length).set(tapMasks);
  }
  const args = [ptr(heap, xp), taps, KH * KW, ptr(heap, filter), Ci, Co, Ho, Wo, R, C, stride, masks];
  runParts(
    lab,
    'convTaps',
    splitRange(rows, chunksFor(backend, labThreads(backend), rows)).map(([r0, r1]) => [...args, r0, r1, yAt]),
  );
  heap.disposeData(xp.dataId);
  return y;
}

/**
 * Winograd's two algorithms (kernels-as/winograd2.ts, winograd4.ts): F(2x2, 3x3) (tile 2: 4x4 transformed points
 * per 2x2 output tile) and F(4x4, 3x3) (tile 4: 6x6 points per 4x4 tile; its kernels also keep 36
 * pointers and a tile's transform, 192 floats, at the head of each part's work area). filter and
 * filterGrad take the 3x3 filter to its points and back; tmp is scratch of 72 floats.
 */
interface WinogradForm {
  tile: 2 | 4;
  points: number;
  scratchFloats: number;
  conv: LabPoolOp;
  grad: LabPoolOp;
  filter(fn: LabExports, w: number, ci: number, co: number, u: number, tmp: number): void;
  filterGrad(fn: LabExports, du: number, ci: number, co: number, dw: number, tmp: number): void;
}

const F2: WinogradForm = {
  tile: 2,
  points: 16,
  scratchFloats: 0,
  conv: 'convWinograd',
  grad: 'filterGradWinograd',
  filter: (fn, w, ci, co, u) => fn.winogradFilter(w, ci, co, u),
  filterGrad: (fn, du, ci, co, dw) => fn.winogradFilterGrad(du, ci, co, dw),
};

const F4: WinogradForm = {
  tile: 4,
  points: 36,
  scratchFloats: 192,
  conv: 'convWinograd4',
  grad: 'filterGradWinograd4',
  filter: (fn, w, ci, co, u, tmp) => fn.winogradFilter4(w, ci, co, u, tmp),
  filterGrad: (fn, du, ci, co, dw, tmp) => fn.winogradFilterGrad4(du, ci, co, dw, tmp),
};

/** The form for an Ho x Wo output: F(4x4, 3x3) where both are multiples of 4 and tile is 4, else F(2x2, 3x3). */
function winogradForm(Ho: number, Wo: number, tile: 2 | 4): WinogradForm {
  return tile === 4 && Ho % 4 === 0 && Wo % 4 === 0 ? F4 : F2;
}

/**
 * Tiles per block: a block's transformed input and output (points * bt * (ci + co) floats) take about
 * 128 KiB, so that they stay in the L2 cache between the transforms and the products.
 */
function winogradBlockTiles(form: WinogradForm, ci: number, co: number): number {
  return Math.max(4, Math.floor(32768 / form.points / (ci + co) / 4) * 4);
}

/** Floats of one part's work area: ci zeros (to a 64-byte line), the form's scratch, then its matrices each way, each followed by 64 bytes. */
function winogradWorkFloats(form: WinogradForm, bt: number, ci: number, co: number): number {
  return ci + 16 + form.scratchFloats + form.points * (bt * (ci + co) + 32);
}

/** x [.., C] copied with zero channels up to Cp (a new tensor). */
function padChannels(heap: WasmBackendInternals, lab: Lab, x: TensorInfo, Cp: number): TensorInfo {
  const C = x.shape[x.shape.length - 1]!;
  const out = heap.makeOutput([...x.shape.slice(0, -1), Cp], 'float32');
  lab.fn.copyRows(ptr(heap, x), sizeOf(x.shape) / C, C, Cp, C, ptr(heap, out));
  return out;
}

/**
 * labConv2D's 3x3 case by Winograd (kernels-as/winograd2.ts convWinograd, winograd4.ts convWinograd4) into y
 * [N, Ho, Wo, Co], read from x itself (no framed copy): the filter transformed once, then the tile rows
 * (rows of tiles) split over the helper threads, each part with its own work area.
 */
function convWinograd(
  backend: KernelBackend,
  heap: WasmBackendInternals,
  lab: Lab,
  form: WinogradForm,
  threads: number,
  xAt: number,
  filterAt: number,
  [N, H, W, Ci, Co]: readonly [number, number, number, number, number],
  [pt, pl, Ho, Wo]: readonly [number, number, number, number],
  yAt: number,
): void {
  const u = heap.makeOutput([form.points * Ci * Co + 72], 'float32');
  const uAt = ptr(heap, u);
  form.filter(lab.fn, filterAt, Ci, Co, uAt, uAt + form.points * Ci * Co * 4);
  const tileRows = N * (Ho / form.tile);
  const parts = Math.max(1, Math.min(threads, tileRows));
  const bt = winogradBlockTiles(form, Ci, Co);
  const workFloats = winogradWorkFloats(form, bt, Ci, Co);
  const work = heap.makeOutput([parts, workFloats], 'float32');
  const workAt = ptr(heap, work);
  const areas = Array.from({ length: parts }, (_, p) => workAt + p * workFloats * 4);
  runParts(
    lab,
    form.conv,
    splitRange(tileRows, chunksFor(backend, parts, tileRows)).map(([t0, t1]) => [
      xAt,
      uAt,
      Ci,
      Co,
      H,
      W,
      pt,
      pl,
      Ho,
      Wo,
      t0,
      t1,
      bt,
      0,
      yAt,
    ]),
    { arg: 13, areas },
  );
  heap.disposeData(work.dataId);
  heap.disposeData(u.dataId);
}

/**
 * The filter gradient [3, 3, Ci, Co] of a stride-1 convolution of x [N,H,W,Ci] with a 3x3 filter and
 * padding (top, bottom, left, right), from dy [N, Ho, Wo, Co], by Winograd's F(2x2, 3x3) run backwards
 * (F(4x4, 3x3) where Ho and Wo are multiples of 4 and the backend's winogradTile is 4)
 * (kernels-as/winograd2.ts, filterGradWinograd: 16 multiply-adds per 2x2 tile and channel pair where
 * filterGradTaps does 36), read from x itself as convWinograd does, the tile rows split over the
 * helper threads, each part summing into its own [16, Ci, Co], added up here and taken back to 3x3.
 * Input channels off a multiple of 4 (the first layer's 3) are padded with zero channels. Null where
 * the lab's kernels are not available, Winograd is off, or the shapes do not fit (Ho and Wo even, Co a
 * multiple of 8).
 */
export function labFilterGradWinograd(
  backend: KernelBackend,
  x: TensorInfo,
  dy: TensorInfo,
  [pt, pb, pl, pr]: readonly [number, number, number, number],
  [KH, KW, Ci, Co]: readonly [number, number, number, number],
): TensorInfo | null {
  const { winograd, winogradTile } = kernelOptions(backend);
  if (!winograd || KH !== 3 || KW !== 3 || Co % 8 !== 0 || x.shape.length !== 4 || dy.shape.length !== 4) return null;
  const ok = dy.dtype === 'float32' && x.dtype === 'float32' ? available(backend, x) : null;
  if (ok == null || Math.min(pt, pb, pl, pr) < 0) return null;
  const [N, H, W, xCi] = x.shape as [number, number, number, number];
  const [dyN, Ho, Wo, dyCo] = dy.shape as [number, number, number, number];
  if (xCi !== Ci || dyN !== N || dyCo !== Co || Ho !== H + pt + pb - 2 || Wo !== W + pl + pr - 2) {
    throw new Error(
      `labFilterGradWinograd: x [${x.shape}] and dy [${dy.shape}] do not fit a 3x3x${Ci}x${Co} filter with pads ${[pt, pb, pl, pr]}.`,
    );
  }
  if (Ho % 2 !== 0 || Wo % 2 !== 0 || Ho < 2 || Wo < 2) return null;
  const { heap, lab } = ok;
  const form = winogradForm(Ho, Wo, winogradTile);
  if (Ci % 4 !== 0) {
    // The first layer (3 channels): with zero channels up to a multiple of 4, then their rows cut off.
    const Cp = Ci + 4 - (Ci % 4);
    const xPad = padChannels(heap, lab, x, Cp);
    const dwPad = filterGradWinograd(
      heap,
      lab,
      form,
      labThreads(backend),
      ptr(heap, xPad),
      ptr(heap, dy),
      [N, H, W, Cp, Co],
      [pt, pl, Ho, Wo],
    );
    const dw = heap.makeOutput([3, 3, Ci, Co], 'float32');
    lab.fn.copyRows(ptr(heap, dwPad), 9, Cp * Co, Ci * Co, Ci * Co, ptr(heap, dw));
    heap.disposeData(dwPad.dataId);
    heap.disposeData(xPad.dataId);
    return dw;
  }
  return filterGradWinograd(heap, lab, form, labThreads(backend), ptr(heap, x), ptr(heap, dy), [N, H, W, Ci, Co], [pt, pl, Ho, Wo]);
}

/** labFilterGradWinograd's sums in the form's kernel, Ci a multiple of 4: dw [3, 3, Ci, Co]. */
function filterGradWinograd(
  heap: WasmBackendInternals,
  lab: Lab,
  form: WinogradForm,
  threads: number,
  xAt: number,
  dyAt: number,
  [N, H, W, Ci, Co]: readonly [number, number, number, number, number],
  [pt, pl, Ho, Wo]: readonly [number, number, number, number],
): TensorInfo {
  const tileRows = N * (Ho / form.tile);
  const parts = Math.max(1, Math.min(threads, tileRows));
  const bt = winogradBlockTiles(form, Ci, Co);
  const workFloats = winogradWorkFloats(form, bt, Ci, Co);
  const size = form.points * Ci * Co;
  const work = heap.makeOutput([parts, workFloats + size], 'float32');
  const workAt = ptr(heap, work);
  const duAt = (p: number) => workAt + (parts * workFloats + p * size) * 4;
  const args = [xAt, dyAt, Ci, Co, H, W, pt, pl, Ho, Wo];
  runParts(
    lab,
    form.grad,
    splitRange(tileRows, parts).map(([t0, t1], p) => [...args, t0, t1, bt, workAt + p * workFloats * 4, duAt(p)]),
  );
  addParts(heap, duAt(0), duAt(1), parts - 1, size);
  const dw = heap.makeOutput([3, 3, Ci, Co], 'float32');
  form.filterGrad(lab.fn, duAt(0), Ci, Co, ptr(heap, dw), workAt); // the parts' work areas are free again: scratch
  heap.disposeData(work.dataId);
  return dw;
}
