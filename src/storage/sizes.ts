// Sizes of what the run store keeps: an estimate of the bytes a stored value takes (typed arrays by
// their byte length, which is nearly all of a checkpoint or a series), and the per-run size summary the
// page shows and the "short of space" report ranks.

import type { RunMeta } from './schema.ts';

/** What one run takes in the store, by part. */
export interface RunSize {
  id: string;
  name: string;
  /** Soft-deleted and not yet purged: purging frees it without asking the user. */
  deleted: boolean;
  series: number;
  checkpoints: number;
  weights: number;
  /** series + checkpoints + weights. */
  bytes: number;
}

/**
 * Approximate bytes of a structured-clone-able value: typed arrays and ArrayBuffers by byteLength,
 * strings at 2 bytes a character, numbers 8, plus 8 per property or element. IndexedDB's own
 * encoding differs by a few percent at most for the array-dominated values stored here.
 */
export function approxBytes(value: unknown): number {
  return sizeOf(value, 0);
}

function sizeOf(v: unknown, depth: number): number {
  if (v === null || v === undefined) return 1;
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return 8;
    case 'boolean':
      return 1;
    case 'string':
      return 2 * v.length;
    case 'object':
      break;
    default:
      return 8; // functions and symbols cannot be stored; the write itself reports them
  }
  if (ArrayBuffer.isView(v)) return v.byteLength;
  if (v instanceof ArrayBuffer) return v.byteLength;
  if (depth > 64) return 8; // stored values are shallow; this only guards against cycles
  let total = 0;
  if (Array.isArray(v)) {
    for (const x of v) total += 8 + sizeOf(x, depth + 1);
    return total;
  }
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) total += 8 + 2 * k.length + sizeOf(x, depth + 1);
  return total;
}

/** What each run takes, from the byte counts kept in its metadata, largest first. */
export function runSizesOf(runs: readonly RunMeta[]): RunSize[] {
  return runs
    .map((r) => ({
      id: r.id,
      name: r.name,
      deleted: r.deletedAt !== undefined,
      ...r.sizes,
      bytes: r.sizes.series + r.sizes.checkpoints + r.sizes.weights,
    }))
    .sort((a, b) => b.bytes - a.bytes);
}
