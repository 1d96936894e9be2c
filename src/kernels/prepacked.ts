// Matrix weights that XNNPACK packed once, rewritten in place from JS at every step (tfjs-backend-wasm
// 4.22): the filter gradient's products (conv-backprop.ts) without a repack per step. tfjs-wasm's
// BatchMatMul caches an XNNPACK operator per weight tensor id and packs b once; the filter gradient has
// a new dy every step. So one holder tensor per shape [K, N] keeps its operator, and dy is written
// straight into the packed buffer (the zero frame around each image is never written: it stays zero).
// Packed layout (kr = sr = 1): blocks of nr columns, each nr zero biases then K rows of nr weights.
// Its place and nr are found once per shape with marker values, then checked: a product with weights
// written here must equal XNNPACK's own bit for bit, or packedWeights returns null and the caller packs
// the usual way. Uses tfjs-wasm internals (wasm-heap.ts).

import { BatchMatMul, getKernel, type KernelBackend, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackendInternals } from './wasm-heap.ts';
import { labPackGrid } from './lab-framing.ts';

let useLab = true;

/** For tests: false makes writeGrid take its JS loop even where the lab's wasm kernel loads. */
export function setWriteGridInWasm(on: boolean): void {
  useLab = on;
}

/** A [1, K, N] holder whose XNNPACK operator's packed weights this module writes. */
export interface PackedWeights {
  /** Give this as BatchMatMul's b (never dispose it: releasePackedWeights does). */
  holder: TensorInfo;
  K: number;
  N: number;
  /** Output columns per packed block. */
  nr: number;
  /** HEAPF32 index of weight (k = 0, n = 0). */
  base: number;
}

interface BackendState {
  shapes: Map<string, PackedWeights>;
  /** Set when the layout was not as expected: never try again on this backend. */
  disabled: boolean;
}

/** Distinct shapes kept per backend; the least recently used one is released beyond this. */
const MAX_SHAPES = 8;
const states = new WeakMap<object, BackendState>();

function stateOf(backend: object): BackendState {
  let s = states.get(backend);
  if (s == null) {
    s = { shapes: new Map(), disabled: false };
    states.set(backend, s);
  }
  return s;
}

function product(heap: WasmBackendInternals, a: TensorInfo, b: TensorInfo): TensorInfo {
  const kernel = getKernel(BatchMatMul, 'wasm');
  if (kernel == null) throw new Error('BatchMatMul is not registered for wasm.');
  const attrs = { transposeA: false, transposeB: false } as unknown as NamedAttrMap;
  return kernel.kernelFunc({ inputs: { a, b }, backend: heap as unknown as KernelBackend, attrs }) as TensorInfo;
}

function offsetOf(heap: WasmBackendInternals, t: TensorInfo): number {
  return heap.dataIdMap.get(t.dataId)!.memoryOffset / 4;
}

/** Discoveries so far: each uses its own markers, so none is found in an older buffer. */
let discoveries = 0;

/** Marker values: small normal floats (no NaN payloads or denormals a copy could change). */
function markerBits(i: number, salt: number): number {
  return new Uint32Array(new Float32Array([1.2345e-33 * (i + 3 + 16 * salt)]).buffer)[0]!;
}

/** Where `bits` first occurs in the heap outside [skipFrom, skipTo), searching outwards from `near`. */
function findBits(u32: Uint32Array, bits: number, near: number, skipFrom: number, skipTo: number): number {
  const ok = (p: number) => u32[p] === bits && (p < skipFrom || p >= skipTo);
  let lo = near;
  let hi = near;
  for (let span = 1 << 16; lo > 0 || hi < u32.length; span *= 2) {
    const newHi = Math.min(u32.length, hi + span);
    for (let p = hi; p < newHi; p++) if (ok(p)) return p;
    hi = newHi;
    const newLo = Math.max(0, lo - span);
    for (let p = newLo; p < lo; p++) if (ok(p)) return p;
    lo = newLo;
  }
  return -1;
}

function discover(heap: WasmBackendInternals, K: number, N: number): PackedWeights | null {
  const salt = discoveries++ % 100_000;
  const mark = (i: number) => markerBits(i, salt);
  const holder = heap.makeOutput([1, K, N], 'float32');
  const h = offsetOf(heap, holder);
  const marks: [number, number][] = [
    [0, 0],
    [1, 0],
    [0, 1],
    [K - 1, N - 1],
    [K >> 1, N >> 1],
    [Math.min(K - 1, 5), Math.min(N - 1, 11)],
    [K - 1, 0],
  ];
  let u32 = new Uint32Array(heap.wasm.HEAPF32.buffer);
  u32.fill(0, h, h + K * N);
  marks.forEach(([k, n], i) => (u32[h + k * N + n] = mark(i)));
  const a = heap.makeOutput([1, 1, K], 'float32');
  heap.wasm.HEAPF32.fill(0, offsetOf(heap, a), offsetOf(heap, a) + K);
  heap.disposeData(product(heap, a, holder).dataId);
  heap.disposeData(a.dataId);

  u32 = new Uint32Array(heap.wasm.HEAPF32.buffer);
  const fail = () => {
    heap.disposeData(holder.dataId);
    return null;
  };
  const base = findBits(u32, mark(0), h, h, h + K * N);
  if (base < 0 || u32[base + 1] !== mark(2)) return fail();
  let nr = 0;
  for (const candidate of [4, 8, 16, 32]) if (u32[base + candidate] === mark(1)) nr = candidate;
  if (nr === 0 || (K > 1 && N > 1 && nr === 1)) return fail();
  const pw: PackedWeights = { holder, K, N, nr, base };
  const blocks = Math.ceil(N / nr);
  for (let i = 0; i < marks.length; i++) {
    const [k, n] = marks[i]!;
    if (u32[weightIndex(pw, k, n)] !== mark(i)) return fail();
  }
  for (let b = 0; b < blocks; b++) {
    const start = base - nr + b * (nr + K * nr);
    for (let j = 0; j < nr; j++) if (u32[start + j] !== 0) return fail(); // the bias: zeros
  }
  if (!checkProduct(heap, pw)) return fail();
  clearWeights(heap, pw);
  // The holder's own values are never read again (products find its operator by id).
  heap.wasm.HEAPF32.fill(0, offsetOf(heap, holder), offsetOf(heap, holder) + K * N);
  return pw;
}

/** HEAPF32 index of packed weight (k, n). */
function weightIndex(pw: PackedWeights, k: number, n: number): number {
  const block = Math.floor(n / pw.nr);
  return pw.base + block * (pw.nr + pw.K * pw.nr) + k * pw.nr + (n % pw.nr);
}

function clearWeights(heap: WasmBackendInternals, pw: PackedWeights): void {
  const mem = heap.wasm.HEAPF32;
  for (let b = 0; b < Math.ceil(pw.N / pw.nr); b++) {
    const start = pw.base + b * (pw.nr + pw.K * pw.nr);
    mem.fill(0, start, start + pw.K * pw.nr);
  }
}

/**
 * Writes a [K, N] matrix into the packed weights and compares a product with it to the same product
 * through a freshly packed tensor: they must agree bit for bit.
 */
function checkProduct(heap: WasmBackendInternals, pw: PackedWeights): boolean {
  const { K, N } = pw;
  const M = 3;
  const values = new Float32Array(K * N);
  let seed = 12345;
  const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (let i = 0; i < values.length; i++) values[i] = next();
  const fresh = heap.makeOutput([1, K, N], 'float32');
  heap.wasm.HEAPF32.set(values, offsetOf(heap, fresh));
  const a = heap.makeOutput([1, M, K], 'float32');
  const aValues = new Float32Array(M * K);
  for (let i = 0; i < aValues.length; i++) aValues[i] = next();
  heap.wasm.HEAPF32.set(aValues, offsetOf(heap, a));
  clearWeights(heap, pw);
  const mem = heap.wasm.HEAPF32;
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) mem[weightIndex(pw, k, n)] = values[k * N + n]!;
  const ours = product(heap, a, pw.holder);
  const theirs = product(heap, a, fresh);
  const x = heap.wasm.HEAPF32.slice(offsetOf(heap, ours), offsetOf(heap, ours) + M * N);
  const y = heap.wasm.HEAPF32.slice(offsetOf(heap, theirs), offsetOf(heap, theirs) + M * N);
  heap.disposeData(ours.dataId);
  heap.disposeData(theirs.dataId);
  heap.disposeData(fresh.dataId);
  heap.disposeData(a.dataId);
  let same = true;
  for (let i = 0; i < M * N; i++) if (!Object.is(x[i], y[i])) same = false;
  return same;
}

/**
 * Packed weights of shape [K, N] on this wasm backend, found (once per shape and tag) or reused; null
 * if the layout is not XNNPACK's as this module knows it. The caller writes them (writeGrid) before use.
 */
export function packedWeights(heap: WasmBackendInternals, K: number, N: number, tag = ''): PackedWeights | null {
  const state = stateOf(heap);
  if (state.disabled) return null;
  // The tag tells apart uses of one [K, N] that leave different rows zero (writeGrid's geometry).
  const key = `${K}x${N}/${tag}`;
  const known = state.shapes.get(key);
  if (known != null) {
    state.shapes.delete(key); // most recently used goes last
    state.shapes.set(key, known);
    return known;
  }
  let pw: PackedWeights | null = null;
  try {
    pw = discover(heap, K, N);
  } catch {
    pw = null; // a product that failed while finding the layout: pack the usual way from now on
  }
  if (pw == null) {
    state.disabled = true;
    return null;
  }
  state.shapes.set(key, pw);
  if (state.shapes.size > MAX_SHAPES) {
    const [oldKey, old] = state.shapes.entries().next().value as [string, PackedWeights];
    state.shapes.delete(oldKey);
    heap.disposeData(old.holder.dataId);
  }
  return pw;
}

/**
 * Writes dy [Nimg, Ho, Wo, Co] (N = Co) as the packed rows of a grid of R x C positions per image:
 * row k = (n*R + i)*C + j holds dy[n, i, j, :] for i < Ho, j < Wo; the other rows stay zero.
 */
export function writeGrid(heap: WasmBackendInternals, pw: PackedWeights, dy: TensorInfo, R: number, C: number): void {
  const [Nimg, Ho, Wo, Co] = dy.shape as [number, number, number, number];
  if (Co !== pw.N || Nimg * R * C !== pw.K || Ho > R || Wo > C) {
    throw new Error(`writeGrid: dy [${dy.shape}] on a ${R}x${C} grid does not fit packed weights [${pw.K}, ${pw.N}].`);
  }
  // The lab's SIMD kernel (lab-wasm.ts) where it loads; the same loop in JS otherwise.
  if (useLab && labPackGrid(heap as unknown as KernelBackend, dy, R, C, pw.nr, pw.K, pw.base)) return;
  const mem = heap.wasm.HEAPF32;
  const src0 = offsetOf(heap, dy);
  const nr = pw.nr;
  const blockStride = nr + pw.K * nr;
  for (let b = 0; b * nr < Co; b++) {
    const width = Math.min(nr, Co - b * nr);
    const dst0 = pw.base + b * blockStride;
    for (let n = 0; n < Nimg; n++) {
      for (let i = 0; i < Ho; i++) {
        let s = src0 + (n * Ho + i) * Wo * Co + b * nr;
        let d = dst0 + (n * R + i) * C * nr;
        if (width === 8) {
          for (let j = 0; j < Wo; j++, s += Co, d += 8) {
            mem[d] = mem[s]!;
            mem[d + 1] = mem[s + 1]!;
            mem[d + 2] = mem[s + 2]!;
            mem[d + 3] = mem[s + 3]!;
            mem[d + 4] = mem[s + 4]!;
            mem[d + 5] = mem[s + 5]!;
            mem[d + 6] = mem[s + 6]!;
            mem[d + 7] = mem[s + 7]!;
          }
        } else {
          for (let j = 0; j < Wo; j++, s += Co, d += nr) for (let c = 0; c < width; c++) mem[d + c] = mem[s + c]!;
        }
      }
    }
  }
}

/** Frees every holder (and with it its XNNPACK operator) kept for this backend. */
export function releasePackedWeights(heap: WasmBackendInternals): void {
  const state = states.get(heap);
  if (state == null) return;
  for (const pw of state.shapes.values()) heap.disposeData(pw.holder.dataId);
  state.shapes.clear();
}

/** Shapes currently kept for this backend (tests). */
export function packedShapeCount(heap: WasmBackendInternals): number {
  return states.get(heap)?.shapes.size ?? 0;
}
