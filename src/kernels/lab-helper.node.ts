// Node-only: a helper thread of the lab's wasm kernels (lab-threads.ts) as a worker_threads Worker that
// runs helperLoop from its source text (helperLoop is self-contained for this), the Node counterpart of
// lab-helper.worker.ts. Unreferenced, so that an idle helper does not keep the process alive. Reaches
// node:worker_threads through process.getBuiltinModule, so that a browser bundle pulls in nothing.

import { helperLoop, LAB_POOL_OPS, type SpawnHelper } from './lab-threads.ts';

const HELPER_SOURCE = `const { workerData } = require('node:worker_threads');
(${helperLoop.toString()})(workerData.module, workerData.memory, workerData.ctrlPtr, workerData.ops);`;

/**
 * The Node options a worker thread of ours starts with: the process's own (loaders such as tsx's
 * --import, V8 flags), less those that only make sense for the main script: --input-type, which a
 * worker started from a file refuses, and the -e / -p code (`tsx --input-type=module -e ...`).
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (a.startsWith('--input-type=')) continue;
    if (['--input-type', '-e', '--eval', '-p', '--print'].includes(a)) {
      i++; // and its value
      continue;
    }
    if (a.startsWith('--eval=') || a.startsWith('--print=')) continue;
    out.push(a);
  }
  return out;
}

interface NodeWorker {
  unref(): void;
  terminate(): Promise<number>;
}

export const spawnNodeHelper: SpawnHelper = (module, memory, ctrlPtr) => {
  const proc = (globalThis as { process?: { execArgv: string[]; getBuiltinModule?: (id: string) => unknown } }).process;
  const wt = proc?.getBuiltinModule?.('node:worker_threads') as
    { Worker: new (src: string, o: { eval: true; workerData: unknown; execArgv: string[] }) => NodeWorker } | undefined;
  if (wt == null) throw new Error('no node:worker_threads here');
  const worker = new wt.Worker(HELPER_SOURCE, {
    eval: true,
    workerData: { module, memory, ctrlPtr, ops: [...LAB_POOL_OPS] },
    execArgv: workerExecArgv(proc!.execArgv),
  });
  worker.unref();
  return { terminate: () => void worker.terminate() };
};
