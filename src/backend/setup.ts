// Picks and initialises the TensorFlow.js backend for training, in Node or in a browser worker:
// registers tfjs-core's gradients, loads the backend package, points wasm at its binaries, asks wasm
// for threads in a worker, registers our training kernels (src/kernels) and reports what it got.
//
// Environment-specific pieces are separate modules loaded with dynamic import, so neither side sees
// the other's: wasm-urls.browser.ts (Vite `?url` imports) and wasm-paths.node.ts (Node resolution).

import * as tf from '@tensorflow/tfjs-core';
import { registerTrainingKernels } from '../kernels/conv-backprop.ts';
import { labWaitForHelpers, labWasmInfo, setLabHelperThreads, type LabWasmFlavour } from '../kernels/lab-wasm.ts';
import { useKernelOptions, type KernelOptions } from '../kernels/options.ts';
import { registerWebGpuKernels } from '../kernels/webgpu/register.ts';
import { ensureGradients } from './gradients.ts';

export type { KernelOptions } from '../kernels/options.ts';

export type BackendName = 'wasm' | 'cpu' | 'webgl' | 'webgpu';
export const BACKEND_NAMES: readonly BackendName[] = ['wasm', 'cpu', 'webgl', 'webgpu'];

export interface InitBackendOptions {
  /**
   * wasm: how many threads XNNPACK should use (and the lab's convolution kernels, with threads - 1
   * helpers). In a browser worker tfjs-wasm sizes its pool as
   * min(4, max(1, navigator.hardwareConcurrency / 2)) when the module loads, so we set
   * hardwareConcurrency to 2 * threads before the first setBackend('wasm'). In Node, more than one
   * thread loads tfjs-wasm's threaded build by our own loader (wasm-threads.node.ts); 1 keeps tfjs's
   * single-threaded one. Default: the number of cores, at most 4 (a second thread on a 2-core machine
   * shortens the step markedly: bench/RESULTS.md). Ignored once the wasm module has loaded.
   */
  threads?: number;
  /**
   * wasm: XNNPACK's own threads, when they should differ from `threads` (the lab's kernels keep
   * threads - 1 helpers). Default: `threads`.
   */
  xnnpackThreads?: number;
  /** Where the .wasm binaries are: a folder prefix or a file map for setWasmPaths. Default: found. */
  wasmPaths?: string | Record<string, string>;
  /** Register the composed gradient kernels of src/kernels (default true). */
  trainingKernels?: boolean;
  /**
   * wasm: which of the lab's kernels run (src/kernels/options.ts; every one by default). Applied on
   * every call, so options left out go back to their defaults.
   */
  kernels?: Partial<KernelOptions>;
}

export interface BackendInfo {
  backend: BackendName;
  /** Threads the backend computes with (wasm: XNNPACK's pool; 1 for cpu; 0 for GPU backends). */
  threads: number;
  /** wasm: whether the SIMD binary is in use. */
  simd: boolean;
  /**
   * wasm: the lab's own kernels (src/kernels/lab-wasm.ts), where they run: their build (relaxed SIMD,
   * with fused multiply-adds, or plain SIMD) and the threads their convolutions use.
   */
  lab?: { flavour: LabWasmFlavour; threads: number };
  /** webgl / webgpu: the GPU (renderer or adapter) as the browser names it. */
  adapterInfo?: string;
  /** webgpu: the adapter is a software one (SwiftShader and the like), not a GPU. */
  software?: boolean;
  /** webgpu: the lab's own WebGPU kernels run (src/kernels/webgpu/; kernel option labWebGpu). */
  labWebGpu?: boolean;
}

/** One line for people: the backend, its threads or adapter, and whether the adapter is software. */
export function describeBackend(info: BackendInfo): string {
  const threads = (n: number) => `${n} thread${n === 1 ? '' : 's'}`;
  switch (info.backend) {
    case 'wasm': {
      const lab = info.lab
        ? `; lab kernels: ${info.lab.flavour === 'relaxed-simd' ? 'relaxed SIMD (FMA)' : 'SIMD'}, ${threads(info.lab.threads)}`
        : '';
      return `WebAssembly${info.simd ? ' SIMD' : ''}, ${threads(info.threads)}${lab}`;
    }
    case 'cpu':
      return 'JavaScript (tfjs-cpu), 1 thread';
    case 'webgl':
      return info.adapterInfo ? `WebGL2: ${info.adapterInfo}` : 'WebGL2';
    case 'webgpu':
      return `${info.adapterInfo ? `WebGPU: ${info.adapterInfo}` : 'WebGPU'}${info.labWebGpu ? '; lab kernels' : ''}`;
  }
}

/** The requested backend cannot run here (e.g. webgl in Node) or failed to start. */
export class BackendUnavailableError extends Error {
  constructor(
    readonly backend: BackendName,
    reason: string,
  ) {
    super(`Backend '${backend}' is not available: ${reason}`);
    this.name = 'BackendUnavailableError';
  }
}

function isNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return proc?.versions?.node != null;
}

type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');

/** Dynamic import of a CommonJS build gives its exports either directly or under default. */
function namedExports<T extends object>(mod: T): T {
  const inner = (mod as { default?: T }).default;
  return inner != null && typeof inner === 'object' && !('setWasmPaths' in mod) ? inner : mod;
}

/** Whether a backend instance exists already (tf.findBackend would start initialising it). */
function backendStarted(name: BackendName): boolean {
  return tf.engine().registry[name] != null;
}

/** How long initBackend waits at most for the lab's kernel helper threads to start. */
const HELPER_START_MS = 5000;

/** Threads wanted: `threads`, else the number of cores; at least 1, at most 4. */
function wantedThreads(threads: number | undefined): number {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const os = proc?.getBuiltinModule?.('node:os') as { availableParallelism?(): number } | undefined;
  const cores = nav?.hardwareConcurrency ?? os?.availableParallelism?.() ?? 1;
  return Math.max(1, Math.min(4, Math.floor(threads ?? cores)));
}

/** Before the wasm module loads in a worker: make it create `threads` XNNPACK threads. */
function requestWasmThreads(threads: number | undefined, xnnpackThreads: number | undefined): void {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (nav == null) return;
  const wanted = wantedThreads(threads);
  Object.defineProperty(nav, 'hardwareConcurrency', { value: 2 * wantedThreads(xnnpackThreads ?? wanted), configurable: true });
  // The lab's filter gradient splits its work over as many threads (lab-wasm.ts, lab-threads.ts).
  setLabHelperThreads(wanted - 1);
}

/** Before the wasm module loads in Node: tfjs-wasm's threaded build and the lab's helpers, if wanted. */
async function requestNodeWasmThreads(threads: number | undefined, xnnpackThreads: number | undefined): Promise<void> {
  const wanted = wantedThreads(threads);
  if (wanted <= 1) return;
  const [{ useThreadedWasm }, { spawnNodeHelper }] = await Promise.all([
    import('./wasm-threads.node.ts'),
    import('../kernels/lab-helper.node.ts'),
  ]);
  try {
    useThreadedWasm(wantedThreads(xnnpackThreads ?? wanted));
  } catch (e) {
    console.warn(`${e instanceof Error ? e.message : String(e)} Using tfjs-wasm's single-threaded build.`);
    return;
  }
  setLabHelperThreads(wanted - 1, spawnNodeHelper);
}

/** Runs `task`, collecting the first lines of what it prints with console.warn and console.error (still printed). */
async function withPrinted<T>(task: () => Promise<T>): Promise<{ value: T; printed: string[] }> {
  const printed: string[] = [];
  const { warn, error } = console;
  const collect =
    (print: (...args: unknown[]) => void) =>
    (...args: unknown[]) => {
      printed.push(
        args
          .map((a) => (a instanceof Error ? a.message : String(a)))
          .join(' ')
          .split('\n')[0],
      );
      print.apply(console, args);
    };
  console.warn = collect(warn);
  console.error = collect(error);
  try {
    return { value: await task(), printed };
  } finally {
    console.warn = warn;
    console.error = error;
  }
}

/**
 * Why wasm failed to start in this process: tfjs-wasm starts once per process, so a second try would
 * only say that its paths can no longer be set; it gets the first failure's reason instead.
 */
let wasmStartFailure: string | undefined;

async function setWasm(opts: InitBackendOptions): Promise<Omit<BackendInfo, 'backend'>> {
  const wasm = namedExports(await import('@tensorflow/tfjs-backend-wasm')) as WasmModule;
  if (!backendStarted('wasm') && wasmStartFailure !== undefined) throw new BackendUnavailableError('wasm', wasmStartFailure);
  if (!backendStarted('wasm')) {
    // Only before the module is instantiated: afterwards the paths and thread count are fixed.
    if (opts.wasmPaths != null) wasm.setWasmPaths(opts.wasmPaths);
    else if (isNode()) wasm.setWasmPaths((await import('./wasm-paths.node.ts')).nodeWasmDir());
    else wasm.setWasmPaths((await import('./wasm-urls.browser.ts')).WASM_FILE_URLS);
    if (isNode()) await requestNodeWasmThreads(opts.threads, opts.xnnpackThreads);
    else requestWasmThreads(opts.threads, opts.xnnpackThreads);
  }
  if (opts.trainingKernels !== false) registerTrainingKernels('wasm');
  const { value: ok, printed } = await withPrinted(() => tf.setBackend('wasm'));
  if (!ok) {
    // tfjs says only that initialisation failed; Emscripten printed why (a missing or unreadable .wasm file).
    const cause = printed.find((line) => /Aborted\(|CompileError|LinkError|failed to asynchronously prepare/.test(line));
    wasmStartFailure = `tf.setBackend failed${cause ? `: ${cause.slice(0, 300)}` : ' (are the .wasm files served?)'}.`;
    throw new BackendUnavailableError('wasm', wasmStartFailure);
  }
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  useKernelOptions(tf.backend(), opts.kernels);
  // Start the lab's kernels and their helper threads now, and let them come up before training
  // starts: a worker's nested worker starts only while its event loop runs, which the training steps
  // leave little room for, and until then the caller runs the helpers' parts too (lab-threads.ts).
  await labWaitForHelpers(tf.backend(), HELPER_START_MS);
  const lab = labWasmInfo(tf.backend());
  return { threads: wasm.getThreadsCount(), simd: simd === true, ...(lab != null ? { lab } : {}) };
}

async function setCpu(opts: InitBackendOptions): Promise<Omit<BackendInfo, 'backend'>> {
  await import('@tensorflow/tfjs-backend-cpu');
  if (opts.trainingKernels !== false) registerTrainingKernels('cpu');
  if (!(await tf.setBackend('cpu'))) throw new BackendUnavailableError('cpu', 'tf.setBackend failed.');
  return { threads: 1, simd: false };
}

function webglRenderer(): string | undefined {
  const gl = (tf.backend() as unknown as { gpgpu?: { gl?: WebGL2RenderingContext } }).gpgpu?.gl;
  if (gl == null) return undefined;
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  const name = ext != null ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
  return typeof name === 'string' ? name : undefined;
}

/** Whether an adapter is a software one (SwiftShader, lavapipe, llvmpipe) rather than a GPU. */
export function isSoftwareAdapter(name: string, isFallbackAdapter = false): boolean {
  return isFallbackAdapter || /swiftshader|lavapipe|llvmpipe|software/i.test(name);
}

/** The adapter tfjs-webgpu runs on, named as the browser (or Dawn) names it, and whether it is software. */
function webgpuAdapter(): { adapterInfo: string; software: boolean } {
  // tfjs-webgpu keeps the adapter's GPUAdapterInfo (Chrome 127+ and Dawn); older type definitions lack it.
  type Info = Partial<Record<'vendor' | 'architecture' | 'device' | 'description', string>> & { isFallbackAdapter?: boolean };
  const info = ((tf.backend() as unknown as { adapterInfo?: Info }).adapterInfo ?? {}) as Info;
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s) => s != null && s !== '');
  const name = parts.join(' ') || 'unnamed adapter';
  const software = isSoftwareAdapter(name, info.isFallbackAdapter === true);
  return { adapterInfo: name + (software ? ' (software adapter)' : ''), software };
}

async function setGpu(name: 'webgl' | 'webgpu', opts: InitBackendOptions): Promise<Omit<BackendInfo, 'backend'>> {
  if (isNode() && name === 'webgl') {
    throw new BackendUnavailableError(name, "webgl exists only in browsers; in Node use 'wasm', 'cpu' or 'webgpu'.");
  }
  if (isNode() && name === 'webgpu') {
    try {
      await (await import('./webgpu.node.ts')).installNodeWebGpu();
    } catch (e) {
      throw new BackendUnavailableError(name, e instanceof Error ? e.message : String(e));
    }
  }
  if (name === 'webgl') await import('@tensorflow/tfjs-backend-webgl');
  else await import('@tensorflow/tfjs-backend-webgpu');
  if (name === 'webgpu' && opts.trainingKernels !== false) registerWebGpuKernels();
  let ok = false;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new BackendUnavailableError(name, e instanceof Error ? e.message : String(e));
  }
  if (!ok)
    throw new BackendUnavailableError(
      name,
      isNode() ? 'Dawn found no WebGPU adapter.' : 'the browser has no usable adapter/context for it.',
    );
  if (name === 'webgl') {
    const adapterInfo = webglRenderer();
    return { threads: 0, simd: false, ...(adapterInfo != null ? { adapterInfo } : {}) };
  }
  const kernels = useKernelOptions(tf.backend(), opts.kernels);
  return { threads: 0, simd: false, ...webgpuAdapter(), labWebGpu: opts.trainingKernels !== false && kernels.labWebGpu };
}

/**
 * Makes `name` the active tfjs backend, ready for training (gradients and training kernels
 * registered). Safe to call again, also with another backend.
 */
export async function initBackend(name: BackendName, opts: InitBackendOptions = {}): Promise<BackendInfo> {
  await ensureGradients();
  let info: Omit<BackendInfo, 'backend'>;
  switch (name) {
    case 'wasm':
      info = await setWasm(opts);
      break;
    case 'cpu':
      info = await setCpu(opts);
      break;
    case 'webgl':
    case 'webgpu':
      info = await setGpu(name, opts);
      break;
    default: {
      const never: never = name;
      throw new BackendUnavailableError(never, `unknown backend name; use one of ${BACKEND_NAMES.join(', ')}.`);
    }
  }
  return { backend: name, ...info };
}
