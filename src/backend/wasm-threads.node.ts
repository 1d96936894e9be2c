// Node-only: tfjs-wasm's multi-threaded SIMD build in Node, so the CLI and the Node bench use every
// core as the browser worker does. tfjs-backend-wasm never picks it in Node (tensorflow/tfjs#3830: its
// loader hands Emscripten a Blob URL that worker_threads cannot start), but the build runs there; this
// registers 'wasm' again with a factory that loads it from files (the pthread script, shipped as a
// string, goes to a temporary file). The backend and kernels are tfjs-backend-wasm's own.
// XNNPACK's threads are capped at the cores / 2 seen at start-up, so os.cpus reports 2 * threads while
// the module starts, then is put back. Node modules come through process.getBuiltinModule, so a
// browser bundle that includes this file pulls in nothing from Node.

import * as tf from '@tensorflow/tfjs-core';
import { workerExecArgv } from '../kernels/lab-helper.node.ts';

type Require = (id: string) => unknown;

interface NodeApis {
  require: Require & { resolve(id: string): string };
  join(...p: string[]): string;
  dirname(p: string): string;
  tmpdir(): string;
  mkdtempSync(prefix: string): string;
  writeFileSync(p: string, data: string): void;
  rmSync(p: string, o: { recursive: boolean; force: boolean }): void;
  existsSync(p: string): boolean;
  os: { cpus(): unknown[] };
  workerThreads: { Worker: new (file: string, opts?: { execArgv?: string[] }) => object };
  execArgv: string[];
}

function nodeApis(): NodeApis {
  const proc = (globalThis as { process?: { execArgv: string[]; getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') {
    throw new Error("tfjs-wasm's threaded build in Node needs Node >= 20.16 (process.getBuiltinModule).");
  }
  const get = proc.getBuiltinModule.bind(proc);
  const mod = get('node:module') as { createRequire(url: string): NodeApis['require'] };
  const path = get('node:path') as Pick<NodeApis, 'join' | 'dirname'>;
  const fs = get('node:fs') as Pick<NodeApis, 'mkdtempSync' | 'writeFileSync' | 'rmSync' | 'existsSync'>;
  const os = get('node:os') as NodeApis['os'] & { tmpdir(): string };
  const workerThreads = get('node:worker_threads') as NodeApis['workerThreads'];
  return { require: mod.createRequire(import.meta.url), ...path, ...fs, tmpdir: os.tmpdir, os, workerThreads, execArgv: proc.execArgv };
}

/** What the Emscripten factory resolves with: the parts of the module this file and tfjs use. */
interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  wasmMemory?: WebAssembly.Memory;
  PThread?: { runningWorkers?: { unref?(): void }[]; unusedWorkers?: { unref?(): void }[] };
  tfjs?: Record<string, (...a: number[]) => number>;
}

type Factory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;

/**
 * Registers 'wasm' anew (before it first starts) so that it loads the threaded SIMD build with
 * `threads` XNNPACK threads. Throws, leaving tfjs's own registration in place, where the build's files
 * are missing.
 */
export function useThreadedWasm(threads: number): void {
  const api = nodeApis();
  const main = api.require.resolve('@tensorflow/tfjs-backend-wasm'); // dist/tf-backend-wasm.node.js
  const out = api.join(api.dirname(main), '..', 'wasm-out');
  const glue = api.join(out, 'tfjs-backend-wasm-threaded-simd.js');
  const binary = api.join(out, 'tfjs-backend-wasm-threaded-simd.wasm');
  const workerModule = api.join(out, 'tfjs-backend-wasm-threaded-simd.worker.js');
  for (const f of [glue, binary, workerModule]) {
    if (!api.existsSync(f)) throw new Error(`tfjs-backend-wasm's threaded build is missing ${f}.`);
  }
  const wasmPkg = api.require('@tensorflow/tfjs-backend-wasm') as {
    BackendWasm: new (module: EmscriptenModule) => tf.KernelBackend;
    setThreadsCount(n: number): void;
  };
  const factory = api.require(glue) as Factory;
  const { wasmWorkerContents } = api.require(workerModule) as { wasmWorkerContents: string };

  // tfjs's own factory (the single-threaded build), to fall back on where the threaded one fails to start.
  type Registry = Record<string, { factory: () => tf.KernelBackend | Promise<tf.KernelBackend> }>;
  const tfjsFactory = (tf.engine() as unknown as { registryFactory: Registry }).registryFactory['wasm']?.factory;
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      try {
        return await threadedBackend();
      } catch (e) {
        if (tfjsFactory == null) throw e;
        const why = e instanceof Error ? e.message : String(e);
        console.warn(`tfjs-wasm's threaded build did not start in Node (${why}); using its single-threaded one.`);
        return tfjsFactory();
      }
    },
    2,
  );

  async function threadedBackend(): Promise<tf.KernelBackend> {
    const dir = api.mkdtempSync(api.join(api.tmpdir(), 'resnet-lab-wasm-'));
    const pthreadScript = api.join(dir, 'pthread-worker.cjs');
    // The package's string has its "\n" escapes turned into newlines (tfjs undoes that for its Blob too).
    api.writeFileSync(pthreadScript, wasmWorkerContents.replace(/\n/g, '\\n'));
    const cpus = api.os.cpus;
    api.os.cpus = () => {
      const real = cpus();
      return Array.from({ length: 2 * threads }, (_, i) => real[i % real.length]);
    };
    // Emscripten starts its pthread workers with `new Worker(file)`, inheriting the process's Node
    // options, some of which a worker from a file refuses (workerExecArgv).
    const NodeWorker = api.workerThreads.Worker;
    const execArgv = workerExecArgv(api.execArgv);
    api.workerThreads.Worker = class extends NodeWorker {
      constructor(file: string, opts?: { execArgv?: string[] }) {
        super(file, { execArgv, ...opts });
      }
    };
    let module: EmscriptenModule;
    try {
      module = await factory({
        locateFile: (p: string, prefix: string) => (p.endsWith('.worker.js') ? pthreadScript : p.endsWith('.wasm') ? binary : prefix + p),
        mainScriptUrlOrBlob: glue,
      });
    } finally {
      api.os.cpus = cpus;
      api.workerThreads.Worker = NodeWorker;
      api.rmSync(dir, { recursive: true, force: true });
    }
    module.tfjs = {
      init: module.cwrap('init', null, []),
      initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
      getThreadsCount: module.cwrap('get_threads_count', 'number', []),
      registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: module.cwrap('dispose_data', null, ['number']),
      dispose: module.cwrap('dispose', null, []),
    };
    wasmPkg.setThreadsCount(threads);
    const backend = new wasmPkg.BackendWasm(module);
    // XNNPACK's threads wait for work for the life of the process; they must not keep it alive.
    for (const w of [...(module.PThread?.runningWorkers ?? []), ...(module.PThread?.unusedWorkers ?? [])]) w.unref?.();
    return backend;
  }
}
