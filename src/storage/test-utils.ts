// Helpers shared by the run-store tests (fake-indexeddb in memory): fresh stores closed after each
// test, a checkpoint shaped like the trainer's, a synthetic step series, and a dump of every record.
// Test code only: the app never imports it.

import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { afterEach } from 'vitest';
import type { TrainerCheckpoint } from '../train/trainer.ts';
import { openRunStore, type RunStore, type StepPoint } from './run-store.ts';
import { ALL_STORES } from './schema.ts';
import { approxBytes } from './sizes.ts';
import type { EstimateFn } from './space.ts';

export const CONFIG =
  'protocol=gcr&depth=20&block=relu-bnbefore&shortcut=A&solver=sgd&lr=0.1&rho=0.9&wd=0.0001&bnm=0.1&epochs=200&batch=128&seed=7&schedule=gcr&warmup=none';

let dbCount = 0;
const opened: RunStore[] = [];

/** A database name no other test uses. */
export function freshName(): string {
  return `runs-test-${++dbCount}`;
}

/** Closes `store` after the test. */
export function track(store: RunStore): RunStore {
  opened.push(store);
  return store;
}

/** A store on a new database, with no free-space estimate unless given. */
export async function freshStore(estimate?: EstimateFn): Promise<RunStore> {
  return track(await openRunStore(freshName(), { estimate: estimate ?? (async () => undefined) }));
}

afterEach(() => {
  for (const s of opened.splice(0)) if (!s.closed) s.close();
});

/** A checkpoint shaped like the trainer's, with `size` weights derived from the iteration. */
export function fakeCheckpoint(iteration: number, size = 1000): TrainerCheckpoint {
  const w = new Float32Array(size).map((_, i) => iteration + i / size);
  return {
    version: 1,
    config: CONFIG,
    iteration,
    bnK: iteration % 7,
    warmupMet: iteration > 3,
    sampler: {
      version: 1,
      sampling: 'with-replacement',
      splitSize: 50000,
      imagesSeen: iteration * 128,
      rng: [iteration, 2, 3, 4],
      permRng: null,
      permPos: 0,
    },
    weights: { 'conv1.weight': w, 'fc.bias': new Float32Array(10).fill(iteration) },
    solver: { step: iteration, slots: { 'conv1.weight/m': { shape: [size], values: w.map((x) => -x) } } },
  };
}

export function steps(from: number, to: number): StepPoint[] {
  const out: StepPoint[] = [];
  for (let s = from; s <= to; s++) {
    out.push({
      step: s,
      loss: Math.fround(2.3 / Math.sqrt(s)),
      lr: s < 32000 ? 0.1 : 0.01,
      trainError: Math.fround((s % 97) / 97),
      epochFloat: s / 390.625,
      ms: s * 1234.5,
    });
  }
  return out;
}

/** Every record in the database, by store, with their approximate bytes: what the browser keeps. */
export async function dump(name: string): Promise<{ counts: Record<string, number>; bytes: number; byStore: Record<string, number> }> {
  const db = await openDB(name);
  const counts: Record<string, number> = {};
  const byStore: Record<string, number> = {};
  let bytes = 0;
  for (const s of ALL_STORES) {
    const all = await db.getAll(s);
    counts[s] = all.length;
    byStore[s] = all.reduce((sum, r) => sum + approxBytes(r), 0);
    bytes += byStore[s];
  }
  db.close();
  return { counts, bytes, byStore };
}
