// The lab's own WebAssembly SIMD kernels (kernels-as/lab-kernels.ts) on the wasm backend, running on
// tfjs-wasm's heap in place: batch norm's moments and gradient in two passes each (batchnorm.ts), the
// ReLU gradient and add-then-ReLU of a residual block (fused.ts), as tfjs kernels; and, as functions,
// the stride-1 convolution and the filter gradient (by Winograd's F(4x4, 3x3) for 3x3 filters with an
// output size a multiple of 4, F(2x2, 3x3) with an even one, else directly: the filter gradient in one pass over x's frame and dy), the filter
// gradient's input frames, its packed output gradient (for the matrix-product path that remains where
// channels do not fit), and the strided input gradient's depth-to-space and crop (conv-backprop.ts,
// prepacked.ts).
//
// The module is instantiated once per tfjs-wasm module with that module's own memory as its import
// (shared in tfjs-wasm's threaded build, plain otherwise: lab-wasm.binary.ts has a build for each, and
// each of those with relaxed SIMD, loaded where the engine has it: Chromium since 114, Node 20 once the
// lab's CLI and benchmarks have set V8's flag for it, src/backend/relaxed-simd.node.ts),
// so a kernel reads its inputs and writes its outputs where tfjs keeps the tensors, without copies.
// Its work area (float64 sums per channel, the filter gradient's tap offsets) is malloc'd once in that
// heap. Kernels run on the calling thread, except the filter gradient and the stride-1 convolution
// (labConv2D: the forward convolutions, and the input gradients through conv-backprop.ts): on
// tfjs-wasm's threaded build (the browser worker, and Node with more than one thread) they are split by
// rows (of output or of 2x2 tiles) over helper threads, one fewer than XNNPACK's (lab-threads.ts; ResNet-20 at batch 128, the direct filter gradients 245 -> 138 ms per
// step on 2 threads).
//
// labWasm() returns null, and callers compose tfjs ops as before, where this cannot work: another
// backend, tfjs-wasm internals not as expected (see wasm-heap.ts), an engine without WebAssembly SIMD
// (its module fails to compile), or setLabWasm(false) (tests and benchmarks).

import { getKernel, registerKernel, type KernelBackend, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import { LAB_WASM_PLAIN, LAB_WASM_PLAIN_RELAXED, LAB_WASM_SHARED, LAB_WASM_SHARED_RELAXED } from './lab-wasm.binary.ts';
import { CTRL_INTS, JOB_INTS, LabPool, MAX_CHUNKS, splitRange, type LabPoolOp, type SpawnHelper, type ThreadWork } from './lab-threads.ts';
import { wasmHeapAccess, type WasmBackendInternals } from './wasm-heap.ts';

/** What kernels-as/lab-kernels.ts exports; every pointer is a byte offset into tfjs-wasm's heap. */
interface LabExports {
  bnMoments(x: number, m: number, c: number, gamma: number, beta: number, eps: number,
    mean: number, variance: number, inv: number, scale: number, shift: number, work: number): void;
  bnGrad(dy: number, x: number, y: number, m: number, c: number, mean: number, inv: number, gamma: number,
    dx: number, dgamma: number, dbeta: number, dxSum: number, work: number): void;
  reluGrad(dy: number, y: number, n: number, out: number): void;
  addRelu(a: number, b: number, n: number, out: number): void;
  frameChannelsFirst(x: number, n: number, h: number, w: number, ci: number, r: number, c: number, pt: number, pl: number, out: number): void;
  packGrid(dy: number, n: number, ho: number, wo: number, co: number, r: number, c: number, nr: number, k: number, base: number): void;
  depthToSpaceCrop(z: number, n: number, rows: number, cols: number, sh: number, sw: number, ci: number, h: number, w: number, top: number, left: number, out: number): void;
  framePhases(x: number, n: number, h: number, w: number, ci: number, sh: number, sw: number, r: number, c: number, top: number, left: number, out: number): void;
  filterGradTaps(xf: number, plane: number, taps: number, ntaps: number, dy: number, ho: number, wo: number, r: number, c: number,
    ci: number, co: number, r0: number, r1: number, out: number): void;
  frameChannelsLast(x: number, n: number, h: number, w: number, ci: number, r: number, c: number, top: number, left: number, out: number): void;
  convTaps(xp: number, taps: number, ntaps: number, w: number, ci: number, co: number, ho: number, wo: number, r: number, c: number,
    s: number, masks: number, r0: number, r1: number, y: number): void;
  winogradFilter(w: number, ci: number, co: number, u: number): void;
  convWinograd(x: number, u: number, ci: number, co: number, h: number, w: number, pt: number, pl: number, ho: number, wo: number,
    t0: number, t1: number, bt: number, work: number, y: number): void;
  filterGradWinograd(x: number, dy: number, ci: number, co: number, h: number, w: number, pt: number, pl: number, ho: number, wo: number,
    t0: number, t1: number, bt: number, work: number, du: number): void;
  winogradFilterGrad(du: number, ci: number, co: number, dw: number): void;
  winogradFilter4(w: number, ci: number, co: number, u: number, tmp: number): void;
  convWinograd4(x: number, u: number, ci: number, co: number, h: number, w: number, pt: number, pl: number, ho: number, wo: number,
    t0: number, t1: number, bt: number, work: number, y: number): void;
  filterGradWinograd4(x: number, dy: number, ci: number, co: number, h: number, w: number, pt: number, pl: number, ho: number, wo: number,
    t0: number, t1: number, bt: number, work: number, du: number): void;
  winogradFilterGrad4(du: number, ci: number, co: number, dw: number, tmp: number): void;
  copyRows(src: number, m: number, srcRow: number, dstRow: number, n: number, dst: number): void;
  sgdStep(w: number, buf: number, g: number, n: number, nesterov: number, lr: number, mom: number, wd: number, outW: number, outBuf: number): void;
}

/** Which build of the kernels runs: with relaxed SIMD (fused multiply-adds) or plain SIMD. */
export type LabWasmFlavour = 'relaxed-simd' | 'simd';

interface Lab {
  fn: LabExports;
  /** Byte offset of the work area in the heap. */
  work: number;
  flavour: LabWasmFlavour;
  /** Helper threads for the convolution kernels (tfjs-wasm's threaded build in a browser worker), or null. */
  pool: LabPool | null;
}

/** The parts of tfjs-wasm's Emscripten module used here, besides those of wasm-heap.ts. */
interface EmscriptenParts {
  wasmMemory?: WebAssembly.Memory;
  asm?: { memory?: WebAssembly.Memory };
  _malloc?: (bytes: number) => number;
}

/** Channels a batch norm may have here: the work area holds 3 float64 and 3 float32 per channel. */
const LAB_MAX_CHANNELS = 4096;
/** Taps a filter gradient may have here (their offsets go in the work area too). */
const LAB_MAX_TAPS = 1024;
const TAPS_AT = LAB_MAX_CHANNELS * 36;
/** labConv2D's tap masks, an int32 per 8 output channels. */
const MASKS_AT = TAPS_AT + LAB_MAX_TAPS * 4;
const WORK_BYTES = MASKS_AT + (LAB_MAX_CHANNELS / 8) * 4;

export const LAB_BN_MOMENTS = 'LabBatchNormMoments';
export const LAB_BN_GRAD = 'LabBatchNormGrad';
export const LAB_RELU_GRAD = 'LabReluGrad';
export const LAB_ADD_RELU = 'LabAddRelu';
export const LAB_SGD_STEP = 'LabSgdStep';

const labs = new WeakMap<object, Lab | null>();
let enabled = true;
/** Helper threads to start with the module (lab-threads.ts); initBackend sets it. */
let helperThreads = 0;
/** How helpers start: a browser worker, or a Node worker thread (lab-helper.node.ts; initBackend picks). */
let spawnHelper: SpawnHelper = spawnBrowserHelper;
let splitting = true;
let winograd = true;
/** Output tile of labConv2D's Winograd: 4 (F(4x4, 3x3)) where the output size is a multiple of 4, or 2. */
let winogradTile: 2 | 4 = 4;
/** Most threads one call is split over (the caller and up to 3 helpers). */
const MAX_PARTS = 4;

/**
 * How many helper threads the lab's convolution kernels start with a tfjs-wasm module instantiated
 * from now on, where workers and a shared memory exist (at most 3). initBackend sets tfjs-wasm's own
 * thread count less one, so that they use every core XNNPACK does.
 */
export function setLabHelperThreads(n: number, spawn: SpawnHelper = spawnBrowserHelper): void {
  helperThreads = Math.max(0, Math.min(MAX_PARTS - 1, Math.floor(n)));
  spawnHelper = spawn;
}

/** Whether 3x3 convolutions take Winograd's algorithms (true) or the direct kernel, to compare. */
export function setLabWinograd(on: boolean): void {
  winograd = on;
}

/** labConv2D's Winograd tile: F(4x4, 3x3) (4, where the output size allows) or F(2x2, 3x3) (2), to compare. */
export function setLabWinogradTile(tile: 2 | 4): void {
  winogradTile = tile;
}

/** Whether calls are split over the helper threads (true) or kept on the calling thread, to compare. */
export function setLabThreadSplitting(on: boolean): void {
  splitting = on;
}

/** Turns the lab's kernels off (false) or on again, for tests and benchmarks that compare both. */
export function setLabWasm(on: boolean): void {
  enabled = on;
}

function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(s.length));
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** A browser helper: a module worker that runs helperLoop (lab-helper.worker.ts). */
function spawnBrowserHelper(module: WebAssembly.Module, memory: WebAssembly.Memory, ctrlPtr: number): { terminate(): void } {
  const worker = new Worker(new URL('./lab-helper.worker.ts', import.meta.url), { type: 'module', name: 'lab-kernels-helper' });
  worker.postMessage({ module, memory, ctrlPtr });
  return worker;
}

function startPool(em: EmscriptenParts, fn: LabExports, memory: WebAssembly.Memory, module: WebAssembly.Module): LabPool | null {
  // Where a helper cannot start (no Worker), LabPool keeps the calls on this thread.
  if (helperThreads === 0 || typeof Atomics === 'undefined') return null;
  // The helpers' control blocks, then the job table.
  const ints = helperThreads * CTRL_INTS + JOB_INTS;
  const ctrl = em._malloc!(ints * 4);
  if (!ctrl) return null;
  new Int32Array(memory.buffer, ctrl, ints).fill(0);
  const ptrs = Array.from({ length: helperThreads }, (_, i) => ctrl + i * CTRL_INTS * 4);
  return new LabPool(fn as unknown as Record<LabPoolOp, (...a: number[]) => void>, memory, ptrs, ctrl + helperThreads * CTRL_INTS * 4, module, spawnHelper);
}

function instantiate(heap: WasmBackendInternals): Lab | null {
  const em = heap.wasm as unknown as EmscriptenParts;
  const memory = em.wasmMemory ?? em.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory) || typeof em._malloc !== 'function') return null;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const builds: [LabWasmFlavour, string][] = shared
    ? [['relaxed-simd', LAB_WASM_SHARED_RELAXED], ['simd', LAB_WASM_SHARED]]
    : [['relaxed-simd', LAB_WASM_PLAIN_RELAXED], ['simd', LAB_WASM_PLAIN]];
  for (const [flavour, b64] of builds) {
    let module: WebAssembly.Module;
    let instance: WebAssembly.Instance;
    try {
      module = new WebAssembly.Module(decodeBase64(b64));
      instance = new WebAssembly.Instance(module, { env: { memory } });
    } catch {
      continue; // no relaxed SIMD (or no SIMD at all) here, or a memory this build cannot import
    }
    const work = em._malloc(WORK_BYTES);
    if (!work) return null;
    const fn = instance.exports as unknown as LabExports;
    return { fn, work, flavour, pool: shared ? startPool(em, fn, memory, module) : null };
  }
  return null;
}

/**
 * Threads the filter gradient and the convolution are split over on this backend (0: no lab kernels):
 * 1 + the helper threads started, whether or not they are ready yet (lab-threads.ts, LabPool.parts),
 * so that the filter gradient's partial sums add up the same way at every step of a run, and a
 * resumed run repeats an uninterrupted one exactly.
 */
export function labThreads(backend: KernelBackend): number {
  const lab = labWasm(backend);
  return lab == null ? 0 : splitting && lab.pool != null ? lab.pool.parts : 1;
}

/** The helper pool's counters (split calls, the caller's own chunks and its waiting, ms), or null without helpers. */
export function labPoolStats(backend: KernelBackend): { calls: number; ownMs: number; waitMs: number; redone: number } | null {
  const stats = labWasm(backend)?.pool?.stats;
  return stats == null ? null : { ...stats };
}

/** Waits up to ms for the helper threads to start; true if they did (or there are none). Tests, benchmarks. */
export async function labWaitForHelpers(backend: KernelBackend, ms: number): Promise<boolean> {
  return (await labWasm(backend)?.pool?.waitReady(ms)) ?? true;
}

/**
 * What runs the lab's kernels on this backend, or null where they do not run: the build (relaxed SIMD
 * with FMA, or plain SIMD) and the threads its convolution kernels use now (1 + the helpers ready).
 */
export function labWasmInfo(backend: KernelBackend): { flavour: LabWasmFlavour; threads: number } | null {
  const lab = labWasm(backend);
  return lab == null ? null : { flavour: lab.flavour, threads: lab.pool?.threads ?? 1 };
}

/** The lab's kernels for this backend, or null where they cannot run (callers compose tfjs ops). */
export function labWasm(backend: KernelBackend): Lab | null {
  if (!enabled) return null;
  const heap = wasmHeapAccess(backend);
  if (heap == null) return null;
  let lab = labs.get(heap.wasm);
  if (lab === undefined) {
    lab = instantiate(heap);
    labs.set(heap.wasm, lab);
  }
  return lab;
}

// ---- the convolution gradients' data movement (called from conv-backprop.ts and prepacked.ts) -------

/** The heap and the lab's kernels on this backend, or null where they are not available. */
function labOn(backend: KernelBackend): { heap: WasmBackendInternals; lab: Lab } | null {
  const heap = wasmHeapAccess(backend);
  const lab = heap == null ? null : labWasm(backend);
  return heap != null && lab != null ? { heap, lab } : null;
}

/** labOn, for a float32 tensor. */
function available(backend: KernelBackend, t: TensorInfo): { heap: WasmBackendInternals; lab: Lab } | null {
  return t.dtype === 'float32' ? labOn(backend) : null;
}

/**
 * x [N,H,W,Ci] framed channels-first for the stride-1 filter gradient: a new tensor [Ci*N + 1, R, C]
 * whose grid (ch, img) holds image img's channel ch at rows pt.., columns pl.., zeros around it, and
 * a last all-zero grid. Null where the lab's kernels are not available.
 */
export function labFrameChannelsFirst(backend: KernelBackend, x: TensorInfo, R: number, C: number, pt: number, pl: number): TensorInfo | null {
  const ok = x.shape.length === 4 ? available(backend, x) : null;
  if (ok == null) return null;
  const { heap, lab } = ok;
  const [N, H, W, Ci] = x.shape as [number, number, number, number];
  if (pt < 0 || pl < 0 || pt + H > R || pl + W > C) throw new Error(`labFrameChannelsFirst: a ${H}x${W} image at (${pt}, ${pl}) is not inside a ${R}x${C} grid.`);
  const out = heap.makeOutput([Ci * N + 1, R, C], 'float32');
  lab.fn.frameChannelsFirst(ptr(heap, x), N, H, W, Ci, R, C, pt, pl, ptr(heap, out));
  return out;
}

/**
 * x [N,H,W,Ci] split into its sh*sw phase images, each framed channels-first for the strided filter
 * gradient: a new tensor [sh*sw*Ci*N + 1, R, C], grid ((a*sw + b)*Ci + ch)*N + img holding
 * x[img, sh*q + a, sw*s + b, ch] at (T + q, L + s), zeros around. Null where the lab's kernels are
 * not available.
 */
export function labFramePhases(backend: KernelBackend, x: TensorInfo, sh: number, sw: number, R: number, C: number, T: number, L: number): TensorInfo | null {
  const ok = x.shape.length === 4 ? available(backend, x) : null;
  if (ok == null) return null;
  const { heap, lab } = ok;
  const [N, H, W, Ci] = x.shape as [number, number, number, number];
  if (T < 0 || L < 0 || T + Math.ceil(H / sh) > R || L + Math.ceil(W / sw) > C) {
    throw new Error(`labFramePhases: ${H}x${W} images in ${sh}x${sw} phases at (${T}, ${L}) are not inside a ${R}x${C} grid.`);
  }
  const out = heap.makeOutput([sh * sw * Ci * N + 1, R, C], 'float32');
  lab.fn.framePhases(ptr(heap, x), N, H, W, Ci, sh, sw, R, C, T, L, ptr(heap, out));
  return out;
}

/**
 * dy [N,Ho,Wo,Co] written into packed fully-connected weights (prepacked.ts's layout: blocks of nr
 * columns, nr bias values then K rows of nr) at HEAPF32 index base, as rows (img*R + i)*C + j of an
 * R x C grid per image. False where the lab's kernels are not available (the caller writes them).
 */
export function labPackGrid(backend: KernelBackend, dy: TensorInfo, R: number, C: number, nr: number, K: number, base: number): boolean {
  const ok = available(backend, dy);
  if (ok == null) return false;
  const { heap, lab } = ok;
  const [N, Ho, Wo, Co] = dy.shape as [number, number, number, number];
  lab.fn.packGrid(ptr(heap, dy), N, Ho, Wo, Co, R, C, nr, K, base * 4);
  return true;
}

/**
 * The strided input gradient from its phase form (conv-backprop.ts): z [N, rows, cols, sh*sw*Ci] to
 * dx [N, H, W, Ci], dx[n,i,j,:] = z[n, (i+top)/sh, (j+left)/sw, phase ((i+top)%sh, (j+left)%sw)'s
 * channels]. Null where the lab's kernels are not available.
 */
export function labDepthToSpaceCrop(
  backend: KernelBackend,
  z: TensorInfo,
  sh: number,
  sw: number,
  [H, W, Ci]: readonly [number, number, number],
  top: number,
  left: number,
): TensorInfo | null {
  const ok = z.shape.length === 4 ? available(backend, z) : null;
  if (ok == null) return null;
  const { heap, lab } = ok;
  const [N, rows, cols, depth] = z.shape as [number, number, number, number];
  if (depth !== sh * sw * Ci || top < 0 || left < 0 || H + top > rows * sh || W + left > cols * sw) {
    throw new Error(`labDepthToSpaceCrop: z [${z.shape}] cannot give a ${H}x${W}x${Ci} image at (${top}, ${left}) with strides ${sh}x${sw}.`);
  }
  const out = heap.makeOutput([N, H, W, Ci], 'float32');
  lab.fn.depthToSpaceCrop(ptr(heap, z), N, rows, cols, sh, sw, Ci, H, W, top, left, ptr(heap, out));
  return out;
}

/**
 * Runs op once per chunk (argument list): over the helper threads where there are any, each thread
 * taking the next chunk as it comes free, else here in turn. With `work`, argument work.arg is the
 * running thread's own work area.
 */
function runParts(lab: Lab, op: LabPoolOp, chunks: number[][], work?: ThreadWork): void {
  if (lab.pool != null) return lab.pool.run(op, chunks, work);
  for (const args of chunks) {
    if (work !== undefined) args[work.arg] = work.areas[0]!;
    (lab.fn[op] as (...a: number[]) => void)(...args);
  }
}

/**
 * Chunks a call whose chunks write apart (the convolutions' output rows) is cut into for `parts`
 * threads: chunksPerThread each (the threads take them as they come free, so that one that starts
 * late or runs slower on a shared machine takes fewer and nobody waits long for the last), or one
 * where there is one thread. The same at every step of a run, as parts is.
 */
function chunksFor(parts: number, rows: number): number {
  return Math.max(1, Math.min(rows, MAX_CHUNKS, parts <= 1 ? 1 : parts * chunksPerThread));
}

let chunksPerThread = 8;
/** Chunks per thread for the convolutions (default 8; 1 gives one even part per thread). Benchmarks, bench/profile.ts --chunks. */
export function setLabChunksPerThread(n: number): void {
  chunksPerThread = Math.max(1, Math.floor(n));
}

/**
 * Adds `count` blocks of `size` floats, one after another from byte offset `from`, into the `size`
 * floats at `out`: a split filter gradient's partial sums, in part order (the same order whether or
 * not the helpers ran them).
 */
function addParts(heap: WasmBackendInternals, out: number, from: number, count: number, size: number): void {
  const f = heap.wasm.HEAPF32;
  const o = out / 4;
  for (let p = 0; p < count; p++) {
    const s0 = from / 4 + p * size;
    for (let i = 0; i < size; i++) f[o + i] = f[o + i]! + f[s0 + i]!;
  }
}

/** Whether labFilterGradTaps takes these channel counts. */
export function labFilterGradFits(ci: number, co: number, taps: number): boolean {
  return ci > 0 && co > 0 && ci % 4 === 0 && co % 8 === 0 && taps <= LAB_MAX_TAPS;
}

/**
 * The filter gradient [KH, KW, Ci, Co] from x's channels-first frame xf (labFrameChannelsFirst or
 * labFramePhases: channel ch of the frame at float ch*plane) and dy [N, Ho, Wo, Co] on an R x C grid,
 * tap t reading the frame from float offsets[t] on (kernels-as/lab-kernels.ts, filterGradTaps).
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
    throw new Error(`labFilterGradTaps: dy [${dy.shape}] on a ${R}x${C} grid does not fit a frame of ${frameFloats} floats for a ${KH}x${KW}x${Ci}x${Co} filter.`);
  }
  const taps = lab.work + TAPS_AT;
  new Int32Array(heap.wasm.HEAPF32.buffer, taps, offsets.length).set(offsets);
  const out = heap.makeOutput([KH, KW, Ci, Co], 'float32');
  const rows = N * Ho;
  const parts = Math.min(labThreads(backend), rows);
  const run = (r0: number, r1: number, at: number) => [ptr(heap, xf), plane, taps, offsets.length, ptr(heap, dy), Ho, Wo, R, C, Ci, Co, r0, r1, at];
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
  runParts(lab, 'filterGradTaps', splitRange(rows, parts).map(([r0, r1], p) => run(r0, r1, p === 0 ? outAt : scratchAt + (p - 1) * size * 4)));
  addParts(heap, outAt, scratchAt, parts - 1, size);
  heap.disposeData(scratch.dataId);
  return out;
}

/**
 * A dilation-1 convolution of x [N,H,W,Ci] with filter [KH,KW,Ci,Co], padding (top, bottom, left,
 * right) >= 0 and the same stride both ways, giving [N, Ho, Wo, Co]: x framed channels-last with zero
 * borders, then every output pixel summed over taps and channels by the lab's kernel
 * (kernels-as/lab-kernels.ts, convTaps), split by rows over the helper threads where there are any.
 * tapMasks (an int32 per 8 output channels, bit t set where tap t has a nonzero weight for them; at
 * most 31 taps) lets it skip all-zero taps. A 3x3 filter with an even
 * output height and width takes Winograd's F(2x2, 3x3) instead (convWinograd: 16 multiply-adds per
 * 2x2 tile and channel pair instead of 36; ResNet-20's 3x3 layers at batch 128 in Node, 64 channels
 * 12.3 -> 6.2 ms, 32 channels 12.7 -> 7.2 ms, 16 channels 12.6 -> 10.6 ms, where the transforms of its
 * 4x more pixels per multiply-add cost nearly what the products save), and where the output size is
 * a multiple of 4, F(4x4, 3x3) (convWinograd4: 36 multiply-adds per 4x4 tile and channel pair where
 * F(2x2, 3x3) does 64, and 36 transformed values to move per 16 output pixels instead of 64; the same
 * layers 7.3 -> 5.1, 3.6 -> 2.6 and 3.2 -> 2.2 ms). Null where the lab's kernels
 * are not available or the shapes do not fit (output channels a multiple of 8, input channels of 4:
 * the first layer's forward convolution, 3 channels, stays in XNNPACK, 4.7 ms at batch 128 in Node
 * against 5.5 ms by Winograd with its channels padded to 4).
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
  if (winograd && stride === 1 && KH === 3 && KW === 3 && Ho % 2 === 0 && Wo % 2 === 0) {
    convWinograd(heap, lab, winogradForm(Ho, Wo), labThreads(backend), ptr(heap, x), ptr(heap, filter), [N, H, W, Ci, Co], [pt, pl, Ho, Wo], yAt);
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
  runParts(lab, 'convTaps', splitRange(rows, chunksFor(labThreads(backend), rows)).map(([r0, r1]) => [...args, r0, r1, yAt]));
  heap.disposeData(xp.dataId);
  return y;
}

/**
 * Winograd's two algorithms in kernels-as/lab-kernels.ts: F(2x2, 3x3) (tile 2: 4x4 transformed points
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

/** The form for an Ho x Wo output: F(4x4, 3x3) where both are multiples of 4 (unless setLabWinogradTile(2)), else F(2x2, 3x3). */
function winogradForm(Ho: number, Wo: number): WinogradForm {
  return winogradTile === 4 && Ho % 4 === 0 && Wo % 4 === 0 ? F4 : F2;
}

/**
 * Tiles per block: a block's transformed input and output (points * bt * (ci + co) floats) take about
 * 128 KiB, so that they stay in the L2 cache between the transforms and the products (ResNet-20's
 * layers in Node: F(2x2, 3x3) measured alike from 1024 to 4096 floats per tile's channels, 512 slower
 * for the filter gradient; F(4x4, 3x3)'s forward layers alike with 64 and 256 KiB).
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
 * labConv2D's 3x3 case by Winograd (kernels-as/lab-kernels.ts, convWinograd or convWinograd4) into y
 * [N, Ho, Wo, Co], read from x itself (no framed copy): the filter transformed once, then the tile rows
 * (rows of tiles) split over the helper threads, each part with its own work area.
 */
function convWinograd(
  heap: WasmBackendInternals, lab: Lab, form: WinogradForm, threads: number, xAt: number, filterAt: number,
  [N, H, W, Ci, Co]: readonly [number, number, number, number, number], [pt, pl, Ho, Wo]: readonly [number, number, number, number], yAt: number,
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
  runParts(lab, form.conv, splitRange(tileRows, chunksFor(parts, tileRows)).map(([t0, t1]) =>
    [xAt, uAt, Ci, Co, H, W, pt, pl, Ho, Wo, t0, t1, bt, 0, yAt]), { arg: 13, areas });
  heap.disposeData(work.dataId);
  heap.disposeData(u.dataId);
}

/**
 * The filter gradient [3, 3, Ci, Co] of a stride-1 convolution of x [N,H,W,Ci] with a 3x3 filter and
 * padding (top, bottom, left, right), from dy [N, Ho, Wo, Co], by Winograd's F(2x2, 3x3) run backwards
 * (F(4x4, 3x3) where Ho and Wo are multiples of 4 and setLabWinogradTile has not asked for 2x2 tiles)
 * (kernels-as/lab-kernels.ts, filterGradWinograd: 16 multiply-adds per 2x2 tile and channel pair where
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
  if (!winograd || KH !== 3 || KW !== 3 || Co % 8 !== 0 || x.shape.length !== 4 || dy.shape.length !== 4) return null;
  const ok = dy.dtype === 'float32' && x.dtype === 'float32' ? available(backend, x) : null;
  if (ok == null || Math.min(pt, pb, pl, pr) < 0) return null;
  const [N, H, W, xCi] = x.shape as [number, number, number, number];
  const [dyN, Ho, Wo, dyCo] = dy.shape as [number, number, number, number];
  if (xCi !== Ci || dyN !== N || dyCo !== Co || Ho !== H + pt + pb - 2 || Wo !== W + pl + pr - 2) {
    throw new Error(`labFilterGradWinograd: x [${x.shape}] and dy [${dy.shape}] do not fit a 3x3x${Ci}x${Co} filter with pads ${[pt, pb, pl, pr]}.`);
  }
  if (Ho % 2 !== 0 || Wo % 2 !== 0 || Ho < 2 || Wo < 2) return null;
  const { heap, lab } = ok;
  const form = winogradForm(Ho, Wo);
  if (Ci % 4 !== 0) {
    // The first layer (3 channels): with zero channels up to a multiple of 4, then their rows cut off.
    const Cp = Ci + 4 - (Ci % 4);
    const xPad = padChannels(heap, lab, x, Cp);
    const dwPad = filterGradWinograd(heap, lab, form, labThreads(backend), ptr(heap, xPad), ptr(heap, dy), [N, H, W, Cp, Co], [pt, pl, Ho, Wo]);
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
  heap: WasmBackendInternals, lab: Lab, form: WinogradForm, threads: number, xAt: number, dyAt: number,
  [N, H, W, Ci, Co]: readonly [number, number, number, number, number], [pt, pl, Ho, Wo]: readonly [number, number, number, number],
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
  runParts(lab, form.grad, splitRange(tileRows, parts).map(([t0, t1], p) => [...args, t0, t1, bt, workAt + p * workFloats * 4, duAt(p)]));
  addParts(heap, duAt(0), duAt(1), parts - 1, size);
  const dw = heap.makeOutput([3, 3, Ci, Co], 'float32');
  form.filterGrad(lab.fn, duAt(0), Ci, Co, ptr(heap, dw), workAt); // the parts' work areas are free again: scratch
  heap.disposeData(work.dataId);
  return dw;
}

// ---- kernels ----------------------------------------------------------------------------------------

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function ptr(heap: WasmBackendInternals, t: TensorInfo): number {
  const d = heap.dataIdMap.get(t.dataId);
  if (d == null) throw new Error('lab-wasm: a tensor is not on this wasm backend.');
  return d.memoryOffset;
}

function setup(backend: KernelBackend, kernel: string): { heap: WasmBackendInternals; lab: Lab } {
  const ok = labOn(backend);
  if (ok == null) throw new Error(`${kernel}: the lab's wasm kernels are not available on this backend.`);
  return ok;
}

/** [m, c] of an NHWC or [N, C] float32 tensor whose channel count the kernels take. */
function rowsAndChannels(shape: readonly number[]): [number, number] {
  const c = shape[shape.length - 1] ?? 0;
  return [sizeOf(shape) / Math.max(c, 1), c];
}

/** Whether the batch-norm kernels take a tensor of this shape: channels a multiple of 4, at least one row. */
export function labBatchNormFits(shape: readonly number[]): boolean {
  const [m, c] = rowsAndChannels(shape);
  return (shape.length === 2 || shape.length === 4) && c > 0 && c % 4 === 0 && c <= LAB_MAX_CHANNELS && m >= 1;
}

function checkFloat(kernel: string, ...ts: TensorInfo[]): void {
  for (const t of ts) {
    if (t.dtype !== 'float32') throw new Error(`${kernel}: float32 tensors only, got ${t.dtype}.`);
  }
}

/** Inputs x, gamma, beta; attr eps. Outputs mean, variance, inv, scale, shift, each [C]. */
function bnMomentsKernel({ inputs, backend, attrs }: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: NamedAttrMap }): TensorInfo[] {
  const { heap, lab } = setup(backend as KernelBackend, LAB_BN_MOMENTS);
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  checkFloat(LAB_BN_MOMENTS, x, gamma, beta);
  if (!labBatchNormFits(x.shape)) throw new Error(`${LAB_BN_MOMENTS}: cannot take shape [${x.shape}].`);
  const [m, c] = rowsAndChannels(x.shape);
  const outs = [0, 1, 2, 3, 4].map(() => heap.makeOutput([c], 'float32'));
  const [mean, variance, inv, scale, shift] = outs.map((t) => ptr(heap, t)) as [number, number, number, number, number];
  lab.fn.bnMoments(ptr(heap, x), m, c, ptr(heap, gamma), ptr(heap, beta), Number(attrs?.eps ?? 0), mean, variance, inv, scale, shift, lab.work);
  return outs;
}

/**
 * Inputs dy, x, mean, inv, gamma and, after a fused ReLU, its output y. Outputs dx, dgamma, dbeta and,
 * with the attribute sumDx, dx summed per channel (the gradient of a bias added to x).
 */
function bnGradKernel({ inputs, backend, attrs }: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: NamedAttrMap }): TensorInfo[] {
  const { heap, lab } = setup(backend as KernelBackend, LAB_BN_GRAD);
  const { dy, x, y, mean, inv, gamma } = inputs as Record<string, TensorInfo>;
  checkFloat(LAB_BN_GRAD, dy!, x!, mean!, inv!, gamma!, ...(y ? [y] : []));
  if (!labBatchNormFits(x!.shape) || sizeOf(dy!.shape) !== sizeOf(x!.shape) || (y && sizeOf(y.shape) !== sizeOf(x!.shape))) {
    throw new Error(`${LAB_BN_GRAD}: dy [${dy!.shape}], x [${x!.shape}]${y ? `, y [${y.shape}]` : ''} do not fit.`);
  }
  const [m, c] = rowsAndChannels(x!.shape);
  const dx = heap.makeOutput([...x!.shape], 'float32');
  const dgamma = heap.makeOutput([c], 'float32');
  const dbeta = heap.makeOutput([c], 'float32');
  const dxSum = attrs?.sumDx === true ? heap.makeOutput([c], 'float32') : null;
  lab.fn.bnGrad(
    ptr(heap, dy!), ptr(heap, x!), y ? ptr(heap, y) : 0, m, c, ptr(heap, mean!), ptr(heap, inv!), ptr(heap, gamma!),
    ptr(heap, dx), ptr(heap, dgamma), ptr(heap, dbeta), dxSum ? ptr(heap, dxSum) : 0, lab.work,
  );
  return dxSum ? [dx, dgamma, dbeta, dxSum] : [dx, dgamma, dbeta];
}

function elementwise(kernel: string, a: TensorInfo, b: TensorInfo, backend: unknown, run: (lab: Lab, a: number, b: number, n: number, out: number) => void): TensorInfo {
  const { heap, lab } = setup(backend as KernelBackend, kernel);
  checkFloat(kernel, a, b);
  const n = sizeOf(a.shape);
  if (n !== sizeOf(b.shape)) throw new Error(`${kernel}: [${a.shape}] and [${b.shape}] differ in size.`);
  const out = heap.makeOutput([...a.shape], 'float32');
  run(lab, ptr(heap, a), ptr(heap, b), n, ptr(heap, out));
  return out;
}

/**
 * Inputs w, buf (its momentum buffer), g (its gradient); attrs nesterov (Torch's form, else neon's),
 * lr, momentum, weightDecay (0: none). Outputs the new w and buf (lab-kernels.ts sgdStep has the
 * formulas: those of src/train/solvers.ts, rounded the same way).
 */
function sgdStepKernel({ inputs, backend, attrs }: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: NamedAttrMap }): TensorInfo[] {
  const { heap, lab } = setup(backend as KernelBackend, LAB_SGD_STEP);
  const { w, buf, g } = inputs as { w: TensorInfo; buf: TensorInfo; g: TensorInfo };
  checkFloat(LAB_SGD_STEP, w, buf, g);
  const n = sizeOf(w.shape);
  if (sizeOf(buf.shape) !== n || sizeOf(g.shape) !== n) throw new Error(`${LAB_SGD_STEP}: w [${w.shape}], buf [${buf.shape}], g [${g.shape}] differ in size.`);
  const outW = heap.makeOutput([...w.shape], 'float32');
  const outBuf = heap.makeOutput([...w.shape], 'float32');
  const num = (name: string) => {
    const v = Number(attrs?.[name] ?? 0);
    if (!Number.isFinite(v)) throw new Error(`${LAB_SGD_STEP}: ${name} must be finite, got ${String(attrs?.[name])}.`);
    return v;
  };
  lab.fn.sgdStep(ptr(heap, w), ptr(heap, buf), ptr(heap, g), n, attrs?.nesterov === true ? 1 : 0, num('lr'), num('momentum'), num('weightDecay'), ptr(heap, outW), ptr(heap, outBuf));
  return [outW, outBuf];
}

for (const [kernelName, kernelFunc] of [
  [LAB_SGD_STEP, sgdStepKernel],
  [LAB_BN_MOMENTS, bnMomentsKernel],
  [LAB_BN_GRAD, bnGradKernel],
  [LAB_RELU_GRAD, ({ inputs, backend }: { inputs: Record<string, TensorInfo>; backend: unknown }) =>
    elementwise(LAB_RELU_GRAD, inputs.dy!, inputs.y!, backend, (lab, dy, y, n, out) => lab.fn.reluGrad(dy, y, n, out))],
  [LAB_ADD_RELU, ({ inputs, backend }: { inputs: Record<string, TensorInfo>; backend: unknown }) =>
    elementwise(LAB_ADD_RELU, inputs.a!, inputs.b!, backend, (lab, a, b, n, out) => lab.fn.addRelu(a, b, n, out))],
] as const) {
  if (getKernel(kernelName, 'wasm') == null) {
    registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as never });
  }
}
