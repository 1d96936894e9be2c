// Which of the lab's training kernels run: one options object per tfjs backend, handed to initBackend
// (src/backend/setup.ts) and read by the kernels through kernelOptions(backend). Every switch is on by
// default; turning one off falls back to the path beneath it (XNNPACK or composed tfjs ops), so that
// tests and bench/profile.ts can compare both. Not the thread count (initBackend's `threads`), which
// is fixed once the wasm module has loaded.

/** The kernel choices. Each is read at every call, so a new initBackend call takes effect at once. */
export interface KernelOptions {
  /** The lab's own wasm kernels (lab-wasm.ts); false: none of them, tfjs ops composed instead. */
  labWasm: boolean;
  /** Convolutions on wasm (forward, and the input gradient's) in the lab's kernel; false: XNNPACK's. */
  labConv: boolean;
  /** The filter gradient in the lab's one-pass kernels; false: matrix products on packed dy. */
  labFilterGradTaps: boolean;
  /** The matrix-product filter gradient writes dy into XNNPACK's packed weights (prepacked.ts). */
  prepackedWeights: boolean;
  /** 3x3 stride-1 convolutions by Winograd's algorithms; false: the lab's direct kernel. */
  winograd: boolean;
  /** Winograd's output tile: 4 (F(4x4, 3x3), where the output size is a multiple of 4) or 2 (F(2x2, 3x3)). */
  winogradTile: 2 | 4;
  /** The lab's convolutions split over its helper threads; false: on the calling thread only. */
  threadSplitting: boolean;
  /** Chunks per thread a split convolution is cut into (the threads take them as they come free); 1: one even part each. */
  chunksPerThread: number;
  /** webgpu: the lab's own WebGPU kernels (src/kernels/webgpu/); false: tfjs-webgpu's stock kernels and composed ops. */
  labWebGpu: boolean;
}

export const DEFAULT_KERNEL_OPTIONS: Readonly<KernelOptions> = Object.freeze({
  labWasm: true,
  labConv: true,
  labFilterGradTaps: true,
  prepackedWeights: true,
  winograd: true,
  winogradTile: 4,
  threadSplitting: true,
  chunksPerThread: 8,
  labWebGpu: true,
});

const byBackend = new WeakMap<object, Readonly<KernelOptions>>();

/** The options in force on this backend: those initBackend was last given for it, else the defaults. */
export function kernelOptions(backend: object): Readonly<KernelOptions> {
  return byBackend.get(backend) ?? DEFAULT_KERNEL_OPTIONS;
}

/**
 * Sets the options of one backend: the defaults, overridden by `options`. For initBackend, which
 * calls it on every call, so that options left out go back to their defaults.
 */
export function useKernelOptions(backend: object, options: Partial<KernelOptions> = {}): Readonly<KernelOptions> {
  const chunks = options.chunksPerThread ?? DEFAULT_KERNEL_OPTIONS.chunksPerThread;
  if (!(chunks >= 1)) throw new RangeError(`chunksPerThread must be at least 1, got ${chunks}.`);
  if (options.winogradTile != null && options.winogradTile !== 2 && options.winogradTile !== 4) {
    throw new RangeError(`winogradTile must be 2 or 4, got ${String(options.winogradTile)}.`);
  }
  const merged = Object.freeze({ ...DEFAULT_KERNEL_OPTIONS, ...options, chunksPerThread: Math.floor(chunks) });
  byBackend.set(backend, merged);
  return merged;
}
