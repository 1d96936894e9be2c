// The Compare slice through the real store and a real run history (fake-indexeddb): runs selected,
// their whole series loaded, a baseline pinned, the selection remembered across a reload (validated
// when read back), runs deleted while selected dropping out, the limit of runs; and the export of a
// stored run, one trained here by the real engine (wasm, demo sample) and one imported, as a bundle
// that decodes to the same run.

import 'fake-indexeddb/auto';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/setup.ts';
import { bundleToImport } from './bundle-io.ts';
import { openRunStore, type ImportedRun } from '../storage/run-store.ts';
import { Engine } from '../worker/engine.ts';
import { decodeRunFile } from './bundle-zip.ts';
import { COMPARE_STORAGE_KEY, MAX_COMPARE, parseRemembered } from './compare-slice.ts';
import { formatConfigQuery, protocolDefaults } from '../experiment/config.ts';
import { createLabStore, type LabStore } from './store.ts';
import { nodeHost } from '../worker/node-host.ts';

let dbCount = 0;

/** The browser's localStorage, in memory (Node has none). */
class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(k: string) {
    return this.items.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.items.set(k, v);
  }
}

const host = (dbName: string) => nodeHost({ history: dbName });

const query = (seed: number, extra: Record<string, unknown> = {}) =>
  formatConfigQuery({ ...protocolDefaults('gcr'), depth: 8, batch: 8, epochs: 1, seed, ...extra });

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function page(dbName: string): Promise<LabStore> {
  const store = createLabStore(new Engine(host(dbName)), query(1), {
    openHistory: () => openRunStore(dbName, { estimate: async () => undefined }),
    deathGraceMs: 10,
  });
  await until(() => store.getState().runsState !== 'loading');
  return store;
}

/** A finished run of `n` steps as another browser would have stored it. */
function imported(name: string, config: string, n: number, finalError: number): ImportedRun {
  const step = Uint32Array.from({ length: n }, (_, i) => i + 1);
  return {
    run: { name, config, backend: 'wasm', status: 'finished', trainImages: 400, imagesPerSec: 50, elapsedMs: 1000 * n },
    steps: {
      step,
      loss: Float32Array.from(step, (s) => 2.3 / Math.sqrt(s)),
      lr: Float64Array.from(step, () => 0.1),
      epoch: Float64Array.from(step, (s) => (s * 8) / 400),
    },
    epochs: [
      { epoch: 0, step: 0, testError: 0.9, evaluated: 100 },
      { epoch: (n * 8) / 400, step: n, testError: finalError, evaluated: 100 },
    ],
  };
}

let storage: MemoryStorage;
beforeAll(async () => {
  await initBackend('wasm');
});
beforeEach(() => {
  storage = new MemoryStorage();
  (globalThis as { localStorage?: unknown }).localStorage = storage;
});

describe('Compare', () => {
  it('selects runs, loads their whole series, pins a baseline, remembers it across a reload, drops deleted runs', async () => {
    const dbName = `compare-slice-${++dbCount}`;
    const store = await page(dbName);
    const s = () => store.getState();
    const big = await s().withHistory((h) => h.importRun(imported('big', query(1), 64_000, 0.3)));
    const other = await s().withHistory((h) => h.importRun(imported('other lr', query(1, { lr: 0.05 }), 50, 0.4)));
    const third = await s().withHistory((h) => h.importRun(imported('third', query(2), 50, 0.35)));
    expect(s().runs.map((r) => r.name)).toEqual(['third', 'other lr', 'big']);

    s().toggleCompare(big!.id);
    s().toggleCompare(other!.id);
    expect(s().compareIds).toEqual([big!.id, other!.id]);
    await until(() => s().compareLoading.length === 0 && Object.keys(s().compareDetails).length === 2);
    expect(s().compareDetails[big!.id]!.steps.step).toHaveLength(64_000);
    expect(s().compareDetails[other!.id]!.epochs.map((e) => e.testError)).toEqual([0.9, 0.4]);
    expect(s().compareBaseline).toBeUndefined(); // the first selected is the baseline until one is pinned

    s().setCompareBaseline(other!.id);
    s().setCompareAxis('images');
    s().setCompareSmoothing(0.9);
    s().setCompareBaseline('not-selected'); // ignored
    s().setCompareSmoothing(1); // ignored: not a smoothing weight
    expect(s().compareBaseline).toBe(other!.id);
    expect(JSON.parse(storage.getItem(COMPARE_STORAGE_KEY)!)).toEqual({
      ids: [big!.id, other!.id],
      baseline: other!.id,
      axis: 'images',
      smoothing: 0.9,
    });

    // A reload: the selection comes back, and its series are loaded once the list is known.
    const again = await page(dbName);
    const a = () => again.getState();
    expect(a().compareIds).toEqual([big!.id, other!.id]);
    expect([a().compareBaseline, a().compareAxis, a().compareSmoothing]).toEqual([other!.id, 'images', 0.9]);
    await a().syncCompare();
    expect(Object.keys(a().compareDetails).sort()).toEqual([big!.id, other!.id].sort());

    // A renamed run is read again (its stored record changed).
    await a().renameRun(big!.id, 'big, renamed');
    await a().syncCompare();
    expect(a().compareDetails[big!.id]!.meta.name).toBe('big, renamed');

    // The baseline deleted while selected: it drops out, and so does the pin.
    await a().deleteRun(other!.id);
    await a().syncCompare();
    expect(a().compareIds).toEqual([big!.id]);
    expect(a().compareBaseline).toBeUndefined();
    expect(a().compareDetails[other!.id]).toBeUndefined();
    expect(parseRemembered(storage.getItem(COMPARE_STORAGE_KEY)).ids).toEqual([big!.id]);

    // Unselecting; the limit of runs.
    a().toggleCompare(third!.id);
    a().toggleCompare(big!.id);
    expect(a().compareIds).toEqual([third!.id]);
    a().addToCompare(Array.from({ length: MAX_COMPARE + 2 }, (_, i) => `run-x-${i}`));
    expect(a().compareIds).toHaveLength(MAX_COMPARE);
    expect(a().compareError).toMatch(/At most 8/);
    await a().syncCompare(); // those runs do not exist: they drop out
    expect(a().compareIds).toEqual([third!.id]);
    a().clearCompare();
    expect(a().compareIds).toEqual([]);
    expect(parseRemembered(storage.getItem(COMPARE_STORAGE_KEY)).ids).toEqual([]);
  });

  it('reads a damaged or hostile remembered selection as far as it is valid', () => {
    expect(parseRemembered(null)).toEqual({ ids: [], axis: 'epochs', smoothing: 0.98 });
    expect(parseRemembered('{not json')).toEqual({ ids: [], axis: 'epochs', smoothing: 0.98 });
    expect(parseRemembered('[1,2]')).toEqual({ ids: [], axis: 'epochs', smoothing: 0.98 });
    const ids = ['run-a', 'run-a', '<img src=x>', 7, '../../etc', 'x'.repeat(65), ...Array.from({ length: 12 }, (_, i) => `r${i}`)];
    const text = JSON.stringify({ ids, baseline: 'run-zzz', axis: 'furlongs', smoothing: 1 }).replace(
      /^\{/,
      '{"__proto__":{"polluted":true},',
    );
    const r = parseRemembered(text);
    expect(r.ids).toEqual(['run-a', 'r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
    expect(r).toEqual({ ids: r.ids, baseline: undefined, axis: 'epochs', smoothing: 0.98 });
    expect(parseRemembered(JSON.stringify({ ids: ['a', 'b'], baseline: 'b', axis: 'iterations', smoothing: 0 }))).toEqual({
      ids: ['a', 'b'],
      baseline: 'b',
      axis: 'iterations',
      smoothing: 0,
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('exports a run trained here and an imported one as bundles that decode to the stored runs', async () => {
    const dbName = `compare-slice-${++dbCount}`;
    const store = await page(dbName);
    const s = () => store.getState();
    await s().chooseBackend('wasm');
    await s().loadData({ kind: 'demo' });
    s().setRunOptions({ maxSteps: 12, evalLimit: 16 });
    await s().train();
    await until(() => s().runs[0]?.status === 'max-steps');
    const trained = s().runs[0]!;
    const losses = s().record!.steps.map((p) => Math.fround(p.loss));

    const out = await s().exportStoredRun(trained.id);
    expect(out.fileName).toBe('ResNet-8-gcr-sgd-nesterov-seed-1.zip');
    const bundle = decodeRunFile(out.bytes, out.fileName);
    expect(bundle.config).toBe(trained.config);
    expect(Array.from(bundle.steps.loss)).toEqual(losses);
    expect(Array.from(bundle.tests.step)).toEqual([0, 12]);
    expect(bundle.meta.status).toBe('max-steps');
    expect(bundle.weights?.byteLength).toBeGreaterThan(1000); // the final weights go with it

    // Imported back (as another browser would), it compares and exports the same.
    const copy = await s().withHistory((h) => h.importRun(bundleToImport({ ...bundle, meta: { ...bundle.meta, name: 'copy' } })));
    s().addToCompare([trained.id, copy!.id]);
    await until(() => Object.keys(s().compareDetails).length === 2);
    expect(Array.from(s().compareDetails[copy!.id]!.steps.loss)).toEqual(losses);
    expect(s().compareDetails[copy!.id]!.epochs).toEqual(s().compareDetails[trained.id]!.epochs);
    const again = decodeRunFile((await s().exportStoredRun(copy!.id)).bytes);
    expect(Array.from(again.steps.loss)).toEqual(losses);
    expect(again.weights).toEqual(bundle.weights);

    await expect(s().exportStoredRun('run-missing')).rejects.toThrow();
  });
});
