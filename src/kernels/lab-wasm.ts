// The loader of the lab's WebAssembly SIMD kernels (kernels-as/, built into lab-wasm.binary.ts) on
// tfjs-backend-wasm: one instance per tfjs-wasm module, importing its memory, so a kernel reads and
// writes tensors where tfjs keeps them. The relaxed-SIMD build (fused multiply-adds) where it
// compiles, else plain SIMD; a work area malloc'd once in that heap; helper threads via lab-threads.ts.
// labWasm() returns null, and callers compose tfjs ops, on another backend, with unexpected tfjs-wasm
// internals (wasm-heap.ts), without WebAssembly SIMD, or when the kernel options say labWasm: false.
// Not the wrappers: lab-conv.ts (convolutions), lab-framing.ts (data movement), lab-ops.ts (BN, ReLU, SGD).

import type { KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';
import { LAB_WASM_PLAIN, LAB_WASM_PLAIN_RELAXED, LAB_WASM_SHARED, LAB_WASM_SHARED_RELAXED } from './lab-wasm.binary.ts';
import { CTRL_INTS, JOB_INTS, LabPool, MAX_CHUNKS, type LabPoolOp, type SpawnHelper, type ThreadWork } from './lab-threads.ts';
import { kernelOptions } from './options.ts';
import { wasmHeapAccess, type WasmBackendInternals } from './wasm-heap.ts';

/** What kernels-as/lab-kernels.ts exports (one family per file there); every pointer is a byte offset into tfjs-wasm's heap. */
export interface LabExports {
  bnMoments(
    x: number,
    m: number,
    c: number,
    gamma: number,
    beta: number,
    eps: number,
    mean: number,
    variance: number,
    inv: number,
    scale: number,
    shift: number,
    work: number,
  ): void;
  bnGrad(
    dy: number,
    x: number,
    y: number,
    m: number,
    c: number,
    mean: number,
    inv: number,
    gamma: number,
    dx: number,
    dgamma: number,
    dbeta: number,
    dxSum: number,
    work: number,
  ): void;
  reluGrad(dy: number, y: number, n: number, out: number): void;
  addRelu(a: number, b: number, n: number, out: number): void;
  frameChannelsFirst(
    x: number,
    n: number,
    h: number,
    w: number,
    ci: number,
    r: number,
    c: number,
    pt: number,
    pl: number,
    out: number,
  ): void;
  packGrid(dy: number, n: number, ho: number, wo: number, co: number, r: number, c: number, nr: number, k: number, base: number): void;
  depthToSpaceCrop(
    z: number,
    n: number,
    rows: number,
    cols: number,
    sh: number,
    sw: number,
    ci: number,
    h: number,
    w: number,
    top: number,
    left: number,
    out: number,
  ): void;
  framePhases(
    x: number,
    n: number,
    h: number,
    w: number,
    ci: number,
    sh: number,
    sw: number,
    r: number,
    c: number,
    top: number,
    left: number,
    out: number,
  ): void;
  filterGradTaps(
    xf: number,
    plane: number,
    taps: number,
    ntaps: number,
    dy: number,
    ho: number,
    wo: number,
    r: number,
    c: number,
    ci: number,
    co: number,
    r0: number,
    r1: number,
    out: number,
  ): void;
  frameChannelsLast(
    x: number,
    n: number,
    h: number,
    w: number,
    ci: number,
    r: number,
    c: number,
    top: number,
    left: number,
    out: number,
  ): void;
  convTaps(
    xp: number,
    taps: number,
    ntaps: number,
    w: number,
    ci: number,
    co: number,
    ho: number,
    wo: number,
    r: number,
    c: number,
    s: number,
    masks: number,
    r0: number,
    r1: number,
    y: number,
  ): void;
  winogradFilter(w: number, ci: number, co: number, u: number): void;
  convWinograd(
    x: number,
    u: number,
    ci: number,
    co: number,
    h: number,
    w: number,
    pt: number,
    pl: number,
    ho: number,
    wo: number,
    t0: number,
    t1: number,
    bt: number,
    work: number,
    y: number,
  ): void;
  filterGradWinograd(
    x: number,
    dy: number,
    ci: number,
    co: number,
    h: number,
    w: number,
    pt: number,
    pl: number,
    ho: number,
    wo: number,
    t0: number,
    t1: number,
    bt: number,
    work: number,
    du: number,
  ): void;
  winogradFilterGrad(du: number, ci: number, co: number, dw: number): void;
  winogradFilter4(w: number, ci: number, co: number, u: number, tmp: number): void;
  convWinograd4(
    x: number,
    u: number,
    ci: number,
    co: number,
    h: number,
    w: number,
    pt: number,
    pl: number,
    ho: number,
    wo: number,
    t0: number,
    t1: number,
    bt: number,
    work: number,
    y: number,
  ): void;
  filterGradWinograd4(
    x: number,
    dy: number,
    ci: number,
    co: number,
    h: number,
    w: number,
    pt: number,
    pl: number,
    ho: number,
    wo: number,
    t0: number,
    t1: number,
    bt: number,
    work: number,
    du: number,
  ): void;
  winogradFilterGrad4(du: number, ci: number, co: number, dw: number, tmp: number): void;
  copyRows(src: number, m: number, srcRow: number, dstRow: number, n: number, dst: number): void;
  sgdStep(
    w: number,
    buf: number,
    g: number,
    n: number,
    nesterov: number,
    lr: number,
    mom: number,
    wd: number,
    outW: number,
    outBuf: number,
  ): void;
}

/** Which build of the kernels runs: with relaxed SIMD (fused multiply-adds) or plain SIMD. */
export type LabWasmFlavour = 'relaxed-simd' | 'simd';

export interface Lab {
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
export const LAB_MAX_CHANNELS = 4096;
/** Taps a filter gradient may have here (their offsets go in the work area too). */
export const LAB_MAX_TAPS = 1024;
export const TAPS_AT = LAB_MAX_CHANNELS * 36;
/** labConv2D's tap masks, an int32 per 8 output channels. */
export const MASKS_AT = TAPS_AT + LAB_MAX_TAPS * 4;
const WORK_BYTES = MASKS_AT + (LAB_MAX_CHANNELS / 8) * 4;

const labs = new WeakMap<object, Lab | null>();
/** Helper threads to start with the module (lab-threads.ts); initBackend sets it before the module loads. */
let helperThreads = 0;
/** How helpers start: a browser worker, or a Node worker thread (lab-helper.node.ts; initBackend picks). */
let spawnHelper: SpawnHelper = spawnBrowserHelper;
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
  return new LabPool(
    fn as unknown as Record<LabPoolOp, (...a: number[]) => void>,
    memory,
    ptrs,
    ctrl + helperThreads * CTRL_INTS * 4,
    module,
    spawnHelper,
  );
}

function instantiate(heap: WasmBackendInternals): Lab | null {
  const em = heap.wasm as unknown as EmscriptenParts;
  const memory = em.wasmMemory ?? em.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory) || typeof em._malloc !== 'function') return null;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const builds: [LabWasmFlavour, string][] = shared
    ? [
        ['relaxed-simd', LAB_WASM_SHARED_RELAXED],
        ['simd', LAB_WASM_SHARED],
      ]
    : [
        ['relaxed-simd', LAB_WASM_PLAIN_RELAXED],
        ['simd', LAB_WASM_PLAIN],
      ];
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
  return lab == null ? 0 : kernelOptions(backend).threadSplitting && lab.pool != null ? lab.pool.parts : 1;
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
  if (!kernelOptions(backend).labWasm) return null;
  const heap = wasmHeapAccess(backend);
  if (heap == null) return null;
  let lab = labs.get(heap.wasm);
  if (lab === undefined) {
    lab = instantiate(heap);
    labs.set(heap.wasm, lab);
  }
  return lab;
}

/** The heap and the lab's kernels on this backend, or null where they are not available. */
export function labOn(backend: KernelBackend): { heap: WasmBackendInternals; lab: Lab } | null {
  const heap = wasmHeapAccess(backend);
  const lab = heap == null ? null : labWasm(backend);
  return heap != null && lab != null ? { heap, lab } : null;
}

/** labOn, for a float32 tensor. */
export function available(backend: KernelBackend, t: TensorInfo): { heap: WasmBackendInternals; lab: Lab } | null {
  return t.dtype === 'float32' ? labOn(backend) : null;
}

/**
 * Runs op once per chunk (argument list): over the helper threads where there are any, each thread
 * taking the next chunk as it comes free, else here in turn. With `work`, argument work.arg is the
 * running thread's own work area.
 */
export function runParts(lab: Lab, op: LabPoolOp, chunks: number[][], work?: ThreadWork): void {
  if (lab.pool != null) return lab.pool.run(op, chunks, work);
  for (const args of chunks) {
    if (work !== undefined) args[work.arg] = work.areas[0]!;
    (lab.fn[op] as (...a: number[]) => void)(...args);
  }
}

/**
 * Chunks a call whose chunks write apart (the convolutions' output rows) is cut into for `parts`
 * threads: the backend's chunksPerThread each (the threads take them as they come free, so that one
 * that starts late or runs slower on a shared machine takes fewer and nobody waits long for the last),
 * or one where there is one thread. The same at every step of a run, as parts is.
 */
export function chunksFor(backend: KernelBackend, parts: number, rows: number): number {
  const perThread = kernelOptions(backend).chunksPerThread;
  return Math.max(1, Math.min(rows, MAX_CHUNKS, parts <= 1 ? 1 : parts * perThread));
}

/**
 * Adds `count` blocks of `size` floats, one after another from byte offset `from`, into the `size`
 * floats at `out`: a split filter gradient's partial sums, in part order (the same order whether or
 * not the helpers ran them).
 */
export function addParts(heap: WasmBackendInternals, out: number, from: number, count: number, size: number): void {
  const f = heap.wasm.HEAPF32;
  const o = out / 4;
  for (let p = 0; p < count; p++) {
    const s0 = from / 4 + p * size;
    for (let i = 0; i < size; i++) f[o + i] = f[o + i]! + f[s0 + i]!;
  }
}

/** Elements of a tensor of this shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Byte offset of a tensor in the heap. */
export function ptr(heap: WasmBackendInternals, t: TensorInfo): number {
  const d = heap.dataIdMap.get(t.dataId);
  if (d == null) throw new Error('lab-wasm: a tensor is not on this wasm backend.');
  return d.memoryOffset;
}

/** labOn for a kernel that cannot run without the lab: throws, naming the kernel. */
export function setup(backend: KernelBackend, kernel: string): { heap: WasmBackendInternals; lab: Lab } {
  const ok = labOn(backend);
  if (ok == null) throw new Error(`${kernel}: the lab's wasm kernels are not available on this backend.`);
  return ok;
}
