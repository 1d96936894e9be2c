// The lab's own WebAssembly SIMD kernels (kernels-as/lab-kernels.ts) on the wasm backend, running on
// tfjs-wasm's heap in place: batch norm's moments and gradient in two passes each (batchnorm.ts), the
// ReLU gradient and add-then-ReLU of a residual block (fused.ts), as tfjs kernels; and, as functions,
// the filter gradient's input frames and packed output gradient and the strided input gradient's
// depth-to-space and crop (conv-backprop.ts, prepacked.ts).
//
// The module is instantiated once per tfjs-wasm module with that module's own memory as its import
// (shared in tfjs-wasm's threaded build, plain otherwise: lab-wasm.binary.ts has a build for each),
// so a kernel reads its inputs and writes its outputs where tfjs keeps the tensors, without copies.
// Its per-channel work area (float64 sums) is malloc'd once in that heap. Kernels run on the calling
// thread.
//
// labWasm() returns null, and callers compose tfjs ops as before, where this cannot work: another
// backend, tfjs-wasm internals not as expected (see wasm-heap.ts), an engine without WebAssembly SIMD
// (its module fails to compile), or setLabWasm(false) (tests and benchmarks).

import { getKernel, registerKernel, type KernelBackend, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import { LAB_WASM_PLAIN, LAB_WASM_SHARED } from './lab-wasm.binary.ts';
import { wasmHeapAccess, type WasmBackendInternals } from './wasm-heap.ts';

/** What kernels-as/lab-kernels.ts exports; every pointer is a byte offset into tfjs-wasm's heap. */
interface LabExports {
  bnMoments(x: number, m: number, c: number, gamma: number, beta: number, eps: number,
    mean: number, variance: number, inv: number, scale: number, shift: number, work: number): void;
  bnGrad(dy: number, x: number, y: number, m: number, c: number, mean: number, inv: number, gamma: number,
    dx: number, dgamma: number, dbeta: number, work: number): void;
  reluGrad(dy: number, y: number, n: number, out: number): void;
  addRelu(a: number, b: number, n: number, out: number): void;
  frameChannelsFirst(x: number, n: number, h: number, w: number, ci: number, r: number, c: number, pt: number, pl: number, out: number): void;
  packGrid(dy: number, n: number, ho: number, wo: number, co: number, r: number, c: number, nr: number, k: number, base: number): void;
  depthToSpaceCrop(z: number, n: number, rows: number, cols: number, sh: number, sw: number, ci: number, h: number, w: number, top: number, left: number, out: number): void;
  framePhases(x: number, n: number, h: number, w: number, ci: number, sh: number, sw: number, r: number, c: number, top: number, left: number, out: number): void;
}

interface Lab {
  fn: LabExports;
  /** Byte offset of the work area in the heap. */
  work: number;
}

/** The parts of tfjs-wasm's Emscripten module used here, besides those of wasm-heap.ts. */
interface EmscriptenParts {
  wasmMemory?: WebAssembly.Memory;
  asm?: { memory?: WebAssembly.Memory };
  _malloc?: (bytes: number) => number;
}

/** Channels a batch norm may have here: the work area holds 2 float64 and 3 float32 per channel. */
const LAB_MAX_CHANNELS = 4096;
const WORK_BYTES = LAB_MAX_CHANNELS * 28;

export const LAB_BN_MOMENTS = 'LabBatchNormMoments';
export const LAB_BN_GRAD = 'LabBatchNormGrad';
export const LAB_RELU_GRAD = 'LabReluGrad';
export const LAB_ADD_RELU = 'LabAddRelu';

const labs = new WeakMap<object, Lab | null>();
let enabled = true;

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

function instantiate(heap: WasmBackendInternals): Lab | null {
  const em = heap.wasm as unknown as EmscriptenParts;
  const memory = em.wasmMemory ?? em.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory) || typeof em._malloc !== 'function') return null;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  try {
    const module = new WebAssembly.Module(decodeBase64(shared ? LAB_WASM_SHARED : LAB_WASM_PLAIN));
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const work = em._malloc(WORK_BYTES);
    if (!work) return null;
    return { fn: instance.exports as unknown as LabExports, work };
  } catch {
    return null; // no WebAssembly SIMD here, or a memory this build cannot import
  }
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

/** Inputs dy, x, mean, inv, gamma and, after a fused ReLU, its output y. Outputs dx, dgamma, dbeta. */
function bnGradKernel({ inputs, backend }: { inputs: Record<string, TensorInfo>; backend: unknown }): TensorInfo[] {
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
  lab.fn.bnGrad(
    ptr(heap, dy!), ptr(heap, x!), y ? ptr(heap, y) : 0, m, c, ptr(heap, mean!), ptr(heap, inv!), ptr(heap, gamma!),
    ptr(heap, dx), ptr(heap, dgamma), ptr(heap, dbeta), lab.work,
  );
  return [dx, dgamma, dbeta];
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

for (const [kernelName, kernelFunc] of [
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
