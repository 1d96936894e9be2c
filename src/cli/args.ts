// The CLI's flag parsing shared by its commands: usage errors, whole numbers, the backend and its
// threads, and a strict share-URL query. No command runs here.

import { parseConfigQueryStrict, type ExperimentConfig } from '../experiment/config.ts';
import type { BackendName } from '../backend/setup.ts';

export class UsageError extends Error {}

export function strictQuery(q: string | undefined): ExperimentConfig {
  return parseConfigQueryStrict(q ?? '');
}

export function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--${name} must be a whole number >= 1, got "${v}"`);
  return Number(v);
}

export function backendArg(v: string | undefined): BackendName {
  const b = (v ?? 'wasm') as BackendName;
  if (!['wasm', 'cpu', 'webgpu'].includes(b))
    throw new UsageError(`--backend must be wasm, cpu or webgpu in Node (webgl needs a browser), got "${v}"`);
  return b;
}

/** --threads: wasm's threads, 1 to 4 (initBackend's default, the number of cores, when not given). */
export function threadsArg(v: string | undefined): { threads?: number } {
  const n = positiveInt('threads', v);
  if (n !== undefined && n > 4)
    throw new UsageError(`--threads must be 1 to 4 (tfjs-wasm's thread pool and the lab's kernels use at most 4), got "${v}"`);
  return n === undefined ? {} : { threads: n };
}
