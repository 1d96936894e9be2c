// The training engine's host in Node (the unit tests run the real engine in-process): tfjs backends
// from src/backend/setup.ts, the project's public/ files (CIFAR-10 when `npm run data` fetched it, else
// the demo sample), no WebGPU, and, when named, a run history in IndexedDB (fake-indexeddb in tests).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { describeBackend, initBackend, type BackendName } from '../backend/setup.ts';
import { openRunStore, type RunStore } from '../storage/run-store.ts';
import type { EstimateFn } from '../storage/space.ts';
import type { EngineHost } from './engine.ts';

const PUBLIC = join(import.meta.dirname, '../../public');

export interface NodeHostOptions {
  /** Default: wasm only. */
  backends?: BackendName[];
  /** The IndexedDB name of the run history; without it runs are not recorded. */
  history?: string;
  /** Free-space estimate for the run history (default: unknown, so never short). */
  estimate?: EstimateFn;
}

export interface NodeHost extends EngineHost {
  /** The run stores handed to the engine, to close or inspect afterwards. */
  opened: RunStore[];
}

export function nodeHost(options: NodeHostOptions = {}): NodeHost {
  const opened: RunStore[] = [];
  const { history, estimate = async () => undefined } = options;
  const backends = options.backends ?? ['wasm'];
  return {
    opened,
    backends,
    unavailable: {
      ...(backends.includes('webgpu') ? {} : { webgpu: "not among this host's backends (Node runs it through Dawn: pass it in backends)" }),
      webgl: 'WebGL exists only in browsers',
    },
    machine: `${availableParallelism()} logical cores; Node ${process.version}`,
    async initBackend(name) {
      return { adapter: describeBackend(await initBackend(name)) };
    },
    probeWebGpu: async () => undefined,
    async fetchBytes(path, onProgress) {
      try {
        const bytes = new Uint8Array(await readFile(join(PUBLIC, path)));
        onProgress?.(1);
        return bytes;
      } catch {
        return undefined;
      }
    },
    openRunStore:
      history === undefined
        ? undefined
        : async () => {
            const s = await openRunStore(history, { estimate });
            opened.push(s);
            return s;
          },
  };
}
