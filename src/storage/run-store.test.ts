// The run store on a real IndexedDB implementation (fake-indexeddb, in memory): round trips, a
// 78,000-step series in chunks, checkpoints kept two per run and atomic under failed writes (a value
// that cannot be cloned, the browser's quota refusing the commit, the free-space check), interrupted
// runs after a "reload", rename/delete/undo/purge, resume cutting the series back, and the named
// errors for a newer database, a blocking tab and a closed connection.

import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { afterEach, describe, expect, it } from 'vitest';
import type { TrainerCheckpoint } from '../train/trainer.ts';
import { DatabaseBlockedError, DatabaseClosedError, DatabaseVersionError, RunNotFoundError, StorageError, StorageQuotaError } from './errors.ts';
import { openRunStore, type RunStore, type StepPoint } from './run-store.ts';
import { ALL_STORES, DB_VERSION } from './schema.ts';
import { approxBytes } from './sizes.ts';
import type { EstimateFn } from './space.ts';

const CONFIG = 'protocol=gcr&depth=20&block=relu-bnbefore&shortcut=A&solver=sgd&lr=0.1&rho=0.9&wd=0.0001&bnm=0.1&epochs=200&batch=128&seed=7&schedule=gcr&warmup=none';

let dbCount = 0;
const opened: RunStore[] = [];

async function freshStore(estimate?: EstimateFn): Promise<RunStore> {
  const store = await openRunStore(`runs-test-${++dbCount}`, { estimate: estimate ?? (async () => undefined) });
  opened.push(store);
  return store;
}

afterEach(() => {
  for (const s of opened.splice(0)) if (!s.closed) s.close();
});

/** A checkpoint shaped like the trainer's, with `size` weights derived from the iteration. */
function fakeCheckpoint(iteration: number, size = 1000): TrainerCheckpoint {
  const w = new Float32Array(size).map((_, i) => iteration + i / size);
  return {
    version: 1,
    config: CONFIG,
    iteration,
    bnK: iteration % 7,
    warmupMet: iteration > 3,
    sampler: { version: 1, sampling: 'with-replacement', splitSize: 50000, imagesSeen: iteration * 128, rng: [iteration, 2, 3, 4], permRng: null, permPos: 0 },
    weights: { 'conv1.weight': w, 'fc.bias': new Float32Array(10).fill(iteration) },
    solver: { step: iteration, slots: { 'conv1.weight/m': { shape: [size], values: w.map((x) => -x) } } },
  };
}

function steps(from: number, to: number): StepPoint[] {
  const out: StepPoint[] = [];
  for (let s = from; s <= to; s++) {
    out.push({ step: s, loss: Math.fround(2.3 / Math.sqrt(s)), lr: s < 32000 ? 0.1 : 0.01, trainError: Math.fround((s % 97) / 97), epochFloat: s / 390.625, ms: s * 1234.5 });
  }
  return out;
}

/** Every record in the database, by store, with their approximate bytes: what the browser keeps. */
async function dump(name: string): Promise<{ counts: Record<string, number>; bytes: number; byStore: Record<string, number> }> {
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

describe('runs', () => {
  it('lists runs created within one millisecond newest first, in the order they were created', async () => {
    const store = await freshStore();
    const made: string[] = [];
    for (let i = 0; i < 12; i++) made.push((await store.createRun({ name: `r${i}`, config: CONFIG, backend: 'wasm' })).id);
    expect((await store.listRuns()).map((r) => r.id)).toEqual(made.reverse());
  });

  it('creates, reads back and lists runs newest first, with a default name from the config', async () => {
    const store = await freshStore();
    const a = await store.createRun({ config: CONFIG, backend: 'wasm', startedAt: 1000 });
    const b = await store.createRun({ name: '  deep one ', config: CONFIG, seed: 3, backend: 'webgpu', startedAt: 2000, totalSteps: 78000 });
    expect(a.name).toBe('ResNet-20 gcr sgd, seed 7');
    expect(a.seed).toBe(7);
    expect(b.name).toBe('deep one');
    expect(a.id).not.toBe(b.id);
    expect(await store.getMeta(b.id)).toEqual(b);
    expect((await store.listRuns()).map((r) => r.id)).toEqual([b.id, a.id]);
    const detail = await store.getRun(a.id);
    expect(detail.meta.status).toBe('running');
    expect(detail.steps.step.length).toBe(0);
    expect(detail.epochs).toEqual([]);
    await expect(store.getMeta('nope')).rejects.toBeInstanceOf(RunNotFoundError);
  });

  it('records status, end time, divergence and speed', async () => {
    const store = await freshStore();
    const run = await store.createRun({ config: CONFIG, backend: 'wasm' });
    await store.updateRun(run.id, { imagesPerSec: 812.5, elapsedMs: 1234 });
    const d = await store.setStatus(run.id, 'diverged', { divergedAt: { step: 17, lr: 0.1, loss: NaN }, endedAt: 99 });
    expect(d).toMatchObject({ status: 'diverged', endedAt: 99, imagesPerSec: 812.5, elapsedMs: 1234 });
    expect(d.divergedAt?.step).toBe(17);
    expect(Number.isNaN((await store.getMeta(run.id)).divergedAt?.loss)).toBe(true);
    const f = await store.setStatus(run.id, 'finished', { finalTestError: 0.0829 });
    expect(f.finalTestError).toBe(0.0829);
    expect(f.divergedAt).toBeUndefined();
    expect(f.endedAt).toBeGreaterThan(99);
    await expect(store.setStatus(run.id, 'exploded' as never)).rejects.toThrow(/Unknown run status/);
  });
});

describe('series', () => {
  it('stores 78,000 steps appended in 1,000s and reads back exactly the same; each append writes one chunk', async () => {
    const store = await freshStore();
    const run = await store.createRun({ config: CONFIG, backend: 'wasm' });
    const all = steps(1, 78000);
    // Watch what each append hands to IndexedDB: one chunk and the small run record, never the series.
    const proto = IDBObjectStore.prototype;
    const origPut = proto.put;
    const origAdd = proto.add;
    let written = 0;
    proto.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      written += approxBytes(value);
      return origPut.call(this, value, key);
    };
    proto.add = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      written += approxBytes(value);
      return origAdd.call(this, value, key);
    };
    const perAppend: number[] = [];
    try {
      for (let i = 0; i < all.length; i += 1000) {
        written = 0;
        await store.appendSteps(run.id, all.slice(i, i + 1000));
        perAppend.push(written);
      }
    } finally {
      proto.put = origPut;
      proto.add = origAdd;
    }
    expect(perAppend).toHaveLength(78);
    expect(Math.max(...perAppend)).toBeLessThan(1000 * 36 + 2000); // 36 bytes a step + the run record
    expect(Math.max(...perAppend) - Math.min(...perAppend)).toBeLessThan(64);

    const { steps: s, meta } = await store.getRun(run.id);
    expect(meta.lastStep).toBe(78000);
    expect(Array.from(s.step)).toEqual(all.map((p) => p.step));
    expect(Array.from(s.loss)).toEqual(all.map((p) => p.loss));
    expect(Array.from(s.lr)).toEqual(all.map((p) => p.lr)); // doubles: 0.1 stays 0.1
    expect(Array.from(s.trainError)).toEqual(all.map((p) => p.trainError));
    expect(Array.from(s.epoch)).toEqual(all.map((p) => p.epochFloat));
    expect(Array.from(s.ms)).toEqual(all.map((p) => p.ms));
    expect((await dump(store.name)).counts.steps).toBe(78);
    expect(meta.sizes.series).toBeGreaterThanOrEqual(78000 * 36);
  });

  it('refuses steps that do not follow the stored ones, writing nothing', async () => {
    const store = await freshStore();
    const run = await store.createRun({ config: CONFIG, backend: 'wasm' });
    await store.appendSteps(run.id, steps(1, 10));
    await expect(store.appendSteps(run.id, steps(10, 20))).rejects.toThrow(/end at step 10|ends at step 10/);
    await expect(store.appendSteps(run.id, [...steps(11, 12), { step: 12, loss: 1, lr: 0.1 }])).rejects.toThrow(/increasing order/);
    await expect(store.appendSteps('missing', steps(1, 2))).rejects.toBeInstanceOf(RunNotFoundError);
    const { steps: s, meta } = await store.getRun(run.id);
    expect(s.step.length).toBe(10);
    expect(meta.lastStep).toBe(10);
    await store.appendSteps(run.id, [{ step: 11, loss: 1.5, lr: 0.1 }]); // no trainError, epoch or time given: NaN
    const after = (await store.getRun(run.id)).steps;
    expect([after.trainError[10], after.epoch[10], after.ms[10]].every(Number.isNaN)).toBe(true);
  });

  it('keeps the test error per evaluation and the best one, also when an evaluation is replaced', async () => {
    const store = await freshStore();
    const run = await store.createRun({ config: CONFIG, backend: 'wasm' });
    await store.appendEpoch(run.id, { epoch: 0, step: 0, testError: 0.9, evaluated: 10000 });
    await store.appendEpoch(run.id, { epoch: 1, step: 391, testError: 0.5 });
    await store.appendEpoch(run.id, { epoch: 2, step: 782, testError: 0.6 });
    let meta = await store.getMeta(run.id);
    expect([meta.bestTestError, meta.bestEpoch]).toEqual([0.5, 1]);
    await store.appendEpoch(run.id, { epoch: 1, step: 391, testError: 0.7 }); // re-evaluated
    meta = await store.getMeta(run.id);
    expect([meta.bestTestError, meta.bestEpoch]).toEqual([0.6, 2]);
    expect((await store.getRun(run.id)).epochs).toEqual([
      { epoch: 0, step: 0, testError: 0.9, evaluated: 10000 },
      { epoch: 1, step: 391, testError: 0.7 },
      { epoch: 2, step: 782, testError: 0.6 },
    ]);
    await expect(store.appendEpoch(run.id, { epoch: 3, step: 1173, testError: NaN })).rejects.toThrow(/testError must be a finite number/);
  });
});

describe('checkpoints', () => {
  it('round-trips a checkpoint exactly and keeps the latest and the one before it', async () => {
    const store = await freshStore();
    const run = await store.createRun({ config: CONFIG, backend: 'wasm' });
    expect(await store.loadLatestCheckpoint(run.id)).toBeUndefined();
    for (const it of [100, 200, 300]) await store.saveCheckpoint(run.id, fakeCheckpoint(it), { elapsedMs: it * 10 });
    const latest = await store.loadLatestCheckpoint(run.id);
    const previous = await store.loadLatestCheckpoint(run.id, 'previous');
    expect(latest).toMatchObject({ seq: 3, step: 300, elapsedMs: 3000 });
    expect(latest?.checkpoint).toEqual(fakeCheckpoint(300));
    expect(latest?.checkpoint.weights['conv1.weight']).toBeInstanceOf(Float32Array);
    expect(previous?.checkpoint).toEqual(fakeCheckpoint(200));
    const meta = await store.getMeta(run.id);
    expect(meta.checkpoints.map((c) => c.seq)).toEqual([3, 2]);
    expect(meta.elapsedMs).toBe(3000);
    expect((await dump(store.name)).counts.checkpoints).toBe(2);
  });

  it('does not grow beyond two checkpoints per run when checkpoints are saved repeatedly', async () => {
    const store = await freshStore();
    const runs = [await store.createRun({ config: CONFIG, backend: 'wasm' }), await store.createRun({ config: CONFIG, backend: 'webgl' })];
    const sizes: number[] = [];
    for (let i = 1; i <= 12; i++) {
      for (const r of runs) await store.saveCheckpoint(r.id, fakeCheckpoint(i * 10, 20000));
      if (i >= 2) sizes.push((await dump(store.name)).bytes);
    }
    const { counts, bytes } = await dump(store.name);
    expect(counts.checkpoints).toBe(4);
    expect(new Set(sizes).size).toBe(1); // flat from the second save on
    const ckptBytes = approxBytes(fakeCheckpoint(10, 20000));
    expect(bytes).toBeGreaterThan(4 * ckptBytes);
    expect(bytes).toBeLessThan(4 * ckptBytes + 10000);
    for (const s of await store.runSizes()) expect(s.checkpoints).toBe(2 * ckptBytes);
  });

  it('keeps the previous checkpoints when the new one cannot be stored (a value IndexedDB cannot clone)', async () => {
    const store = await freshStore();
    const run = await store.createRun({ config: CONFIG, backend: 'wasm' });
    await store.saveCheckpoint(run.id, fakeCheckpoint(100));
    await store.saveCheckpoint(run.id, fakeCheckpoint(200));
    const before = await dump(store.name);
    const bad = { ...fakeCheckpoint(300), sampler: { ...fakeCheckpoint(300).sampler, next: () => 1 } } as unknown as TrainerCheckpoint;
    const err = await store.saveCheckpoint(run.id, bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe('write-failed');
    expect((err as Error).message).toMatch(/checkpoint at step 300.*cannot store/);
    // The pointer update and the pruning of checkpoint 1 were queued in the same transaction: undone.
    expect((await store.getMeta(run.id)).checkpoints.map((c) => c.seq)).toEqual([2, 1]);
    expect((await store.loadLatestCheckpoint(run.id))?.checkpoint).toEqual(fakeCheckpoint(200));
    expect((await store.loadLatestCheckpoint(run.id, 'previous'))?.checkpoint).toEqual(fakeCheckpoint(100));
    expect(await dump(store.name)).toEqual(before);
    // And the store still works afterwards.
    await store.saveCheckpoint(run.id, fakeCheckpoint(300));
    expect((await store.loadLatestCheckpoint(run.id))?.step).toBe(300);
  });

  it('keeps the previous checkpoints when the browser refuses the commit for quota, and names the largest runs', async () => {
    const store = await freshStore();
    const small = await store.createRun({ name: 'small', config: CONFIG, backend: 'wasm' });
    const big = await store.createRun({ name: 'big', config: CONFIG, backend: 'wasm' });
    await store.saveCheckpoint(small.id, fakeCheckpoint(1, 100));
    await store.saveCheckpoint(big.id, fakeCheckpoint(1, 5000));
    await store.saveCheckpoint(big.id, fakeCheckpoint(2, 5000));
    const before = await dump(store.name);
    // A browser whose quota admits 30 KB per record: the put succeeds, then the transaction is aborted
    // with QuotaExceededError, as Chromium and Firefox report a full disk at commit.
    const proto = IDBObjectStore.prototype;
    const origPut = proto.put;
    proto.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      const req = origPut.call(this, value, key);
      if (approxBytes(value) > 30_000) {
        const tx = this.transaction as IDBTransaction & { _abort(name: string): void };
        req.addEventListener('success', () => tx._abort('QuotaExceededError'));
      }
      return req;
    };
    let err: unknown;
    try {
      err = await store.saveCheckpoint(big.id, fakeCheckpoint(3, 20000)).catch((e: unknown) => e);
    } finally {
      proto.put = origPut;
    }
    expect(err).toBeInstanceOf(StorageQuotaError);
    const q = err as StorageQuotaError;
    expect(q.code).toBe('quota');
    expect(q.shortage.largestRuns.map((r) => r.name)).toEqual(['big', 'small']);
    expect(q.message).toMatch(/Not enough storage space to save the checkpoint at step 3/);
    expect(q.message).toMatch(/"big"/);
    expect(q.message).toMatch(/previously saved checkpoint is kept/);
    expect(await dump(store.name)).toEqual(before);
    expect((await store.loadLatestCheckpoint(big.id))?.checkpoint).toEqual(fakeCheckpoint(2, 5000));
    expect((await store.loadLatestCheckpoint(big.id, 'previous'))?.checkpoint).toEqual(fakeCheckpoint(1, 5000));
  });

  it('checks free space before writing: short of space says how much is needed and which runs are largest', async () => {
    let free = 1e9;
    const store = await freshStore(async () => ({ usage: 1e10 - free, quota: 1e10 }));
    const old = await store.createRun({ name: 'old long run', config: CONFIG, backend: 'wasm' });
    await store.appendSteps(old.id, steps(1, 5000));
    await store.saveCheckpoint(old.id, fakeCheckpoint(5000, 50000));
    const run = await store.createRun({ name: 'current', config: CONFIG, backend: 'wasm' });
    await store.saveCheckpoint(run.id, fakeCheckpoint(10, 1000));
    const before = await dump(store.name);

    free = 500_000; // less than a 200 KB checkpoint plus the 1 MiB margin
    const report = await store.checkSpace(approxBytes(fakeCheckpoint(20, 50000)), 'the next checkpoint');
    expect(report.ok).toBe(false);
    if (report.ok) return;
    expect(report.available).toBe(500_000);
    expect(report.shortBy).toBe(report.needed - 500_000);
    expect(report.largestRuns[0]).toMatchObject({ name: 'old long run', deleted: false });
    expect(report.largestRuns[0].bytes).toBe(report.largestRuns[0].series + report.largestRuns[0].checkpoints);
    expect(report.message).toMatch(/^Not enough storage space to save the next checkpoint \(it needs 1\.\d MB, 488\.3 KB is free: short by \d+\.\d KB\)/);
    expect(report.message).toMatch(/"old long run" \(/);

    const err = await store.saveCheckpoint(run.id, fakeCheckpoint(20, 50000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageQuotaError);
    expect((err as StorageQuotaError).shortage).toMatchObject({ available: 500_000, shortBy: report.shortBy, needed: report.needed });
    expect(await dump(store.name)).toEqual(before);

    free = 1e9;
    expect((await store.checkSpace(1000)).ok).toBe(true);
    await store.saveCheckpoint(run.id, fakeCheckpoint(20, 50000));
  });
});

describe('interrupted runs and resume', () => {
  it('marks runs left running or paused by a closed tab as interrupted, after a reload, except live ones', async () => {
    const name = `runs-test-${++dbCount}`;
    const tab1 = await openRunStore(name);
    const running = await tab1.createRun({ config: CONFIG, backend: 'wasm' });
    const paused = await tab1.createRun({ config: CONFIG, backend: 'wasm', status: 'paused' });
    const finished = await tab1.createRun({ config: CONFIG, backend: 'wasm' });
    const live = await tab1.createRun({ config: CONFIG, backend: 'webgpu' });
    await tab1.setStatus(finished.id, 'finished');
    await tab1.saveCheckpoint(running.id, fakeCheckpoint(40));
    tab1.close(); // the tab goes away

    const tab2 = await openRunStore(name);
    opened.push(tab2);
    const changed = await tab2.markInterruptedOnStartup({ liveRunIds: [live.id] });
    expect(changed.map((r) => r.id).sort()).toEqual([running.id, paused.id].sort());
    const status = Object.fromEntries((await tab2.listRuns()).map((r) => [r.id, r.status]));
    expect(status).toEqual({ [running.id]: 'interrupted', [paused.id]: 'interrupted', [finished.id]: 'finished', [live.id]: 'running' });
    expect((await tab2.loadLatestCheckpoint(running.id))?.checkpoint).toEqual(fakeCheckpoint(40));
    expect(await tab2.markInterruptedOnStartup({ liveRunIds: [live.id] })).toEqual([]);
  });

  it('resuming cuts the series back to the checkpoint and drops newer checkpoints', async () => {
    const store = await freshStore();
    const run = await store.createRun({ config: CONFIG, backend: 'wasm' });
    await store.appendEpoch(run.id, { epoch: 0, step: 0, testError: 0.9 });
    for (let s = 1; s <= 250; s += 100) await store.appendSteps(run.id, steps(s, Math.min(s + 99, 250)));
    await store.appendEpoch(run.id, { epoch: 1, step: 100, testError: 0.6 });
    await store.saveCheckpoint(run.id, fakeCheckpoint(150));
    await store.appendEpoch(run.id, { epoch: 2, step: 200, testError: 0.4 });
    await store.saveCheckpoint(run.id, fakeCheckpoint(220));
    await store.setStatus(run.id, 'interrupted');

    // Resume from the one before the latest (as if the latest failed to restore).
    const prev = await store.loadLatestCheckpoint(run.id, 'previous');
    expect(prev?.step).toBe(150);
    const meta = await store.resumeFromCheckpoint(run.id, prev!.seq);
    expect(meta).toMatchObject({ status: 'running', lastStep: 150, bestTestError: 0.6, bestEpoch: 1 });
    expect(meta.checkpoints.map((c) => c.step)).toEqual([150]);
    const detail = await store.getRun(run.id);
    expect(Array.from(detail.steps.step)).toEqual(steps(1, 150).map((p) => p.step));
    expect(Array.from(detail.steps.loss)).toEqual(steps(1, 150).map((p) => p.loss));
    expect(detail.epochs.map((e) => e.epoch)).toEqual([0, 1]);
    expect((await dump(store.name)).counts.checkpoints).toBe(1);
    const { byStore } = await dump(store.name);
    expect(meta.sizes.series).toBe(byStore.steps + byStore.epochs); // the byte count follows the cut

    // Training goes on from step 151.
    await store.appendSteps(run.id, steps(151, 300));
    expect(Array.from((await store.getRun(run.id)).steps.step)).toEqual(steps(1, 300).map((p) => p.step));
    await expect(store.resumeFromCheckpoint(run.id, 99)).rejects.toMatchObject({ code: 'no-checkpoint' });
  });
});

describe('rename, delete, undo, purge', () => {
  it('renames, refusing blank or overlong names', async () => {
    const store = await freshStore();
    const run = await store.createRun({ config: CONFIG, backend: 'wasm' });
    expect((await store.renameRun(run.id, '  ResNet-20 baseline ')).name).toBe('ResNet-20 baseline');
    await expect(store.renameRun(run.id, '   ')).rejects.toThrow(/cannot be blank/);
    await expect(store.renameRun(run.id, 'x'.repeat(201))).rejects.toThrow(/at most 200/);
    expect((await store.getMeta(run.id)).name).toBe('ResNet-20 baseline');
  });

  it('deletes softly with undo, then purges every record of the run', async () => {
    const store = await freshStore();
    const keep = await store.createRun({ config: CONFIG, backend: 'wasm' });
    const run = await store.createRun({ config: CONFIG, backend: 'wasm' });
    for (const r of [keep, run]) {
      await store.appendSteps(r.id, steps(1, 300));
      await store.appendEpoch(r.id, { epoch: 1, step: 300, testError: 0.5 });
      await store.saveCheckpoint(r.id, fakeCheckpoint(300));
      await store.saveFinalWeights(r.id, { format: 'safetensors', bytes: new Uint8Array(1000).fill(7) });
    }
    await expect(store.deleteRun(run.id)).rejects.toMatchObject({ code: 'run-busy' });
    await store.setStatus(run.id, 'stopped');
    const token = await store.deleteRun(run.id);
    expect((await store.listRuns()).map((r) => r.id)).toEqual([keep.id]);
    expect((await store.listRuns({ includeDeleted: true })).length).toBe(2);
    expect((await store.runSizes()).find((s) => s.id === run.id)?.deleted).toBe(true);

    const back = await store.undoDelete(token);
    expect(back.deletedAt).toBeUndefined();
    expect((await store.listRuns()).length).toBe(2);

    const t2 = await store.deleteRun(run.id);
    expect(await store.purgeDeleted({ olderThanMs: 60_000, now: t2.deletedAt + 1000 })).toEqual([]); // still in the undo window
    expect(await store.purgeDeleted()).toEqual([run.id]);
    await expect(store.getMeta(run.id)).rejects.toBeInstanceOf(RunNotFoundError);
    await expect(store.undoDelete(t2)).rejects.toBeInstanceOf(RunNotFoundError);
    const { counts } = await dump(store.name);
    expect(counts).toEqual({ runs: 1, steps: 1, epochs: 1, checkpoints: 1, weights: 1 }); // only `keep` is left
    expect((await store.getRun(keep.id)).steps.step.length).toBe(300);
  });
});

describe('final weights', () => {
  it('round-trips both weight forms and can free the checkpoints', async () => {
    const store = await freshStore();
    const run = await store.createRun({ config: CONFIG, backend: 'wasm' });
    expect(await store.loadFinalWeights(run.id)).toBeUndefined();
    const values = { 'conv1.weight': new Float32Array([1, 2, 3]), 'fc.bias': new Float32Array(10).fill(0.5) };
    await store.saveFinalWeights(run.id, { format: 'values', values, steps: 42 });
    expect(await store.loadFinalWeights(run.id)).toEqual({ format: 'values', values, steps: 42 });
    await store.saveCheckpoint(run.id, fakeCheckpoint(42));
    const bytes = Uint8Array.from({ length: 4096 }, (_, i) => i % 251);
    await store.saveFinalWeights(run.id, { format: 'safetensors', bytes }, { dropCheckpoints: true });
    expect(await store.loadFinalWeights(run.id)).toEqual({ format: 'safetensors', bytes });
    const meta = await store.getMeta(run.id);
    expect(meta.checkpoints).toEqual([]);
    expect(meta.sizes).toMatchObject({ checkpoints: 0 });
    expect(meta.sizes.weights).toBeGreaterThanOrEqual(4096);
    expect((await dump(store.name)).counts).toMatchObject({ checkpoints: 0, weights: 1 });
  });
});

describe('opening the database', () => {
  it('keeps what was stored across reopenings', async () => {
    const store = await freshStore();
    const run = await store.createRun({ config: CONFIG, backend: 'wasm' });
    await store.appendSteps(run.id, steps(1, 5));
    store.close();
    await expect(store.getMeta(run.id)).rejects.toBeInstanceOf(DatabaseClosedError);
    const again = await openRunStore(store.name);
    opened.push(again);
    expect((await again.getRun(run.id)).steps.step.length).toBe(5);
  });

  it('reports a database written by a newer lab', async () => {
    const name = `runs-test-${++dbCount}`;
    (await openDB(name, DB_VERSION + 1)).close();
    const err = await openRunStore(name).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseVersionError);
    expect((err as Error).message).toMatch(/newer version of the lab.*Reload the page/);
  });

  it('reports a database held at an older version by another tab, and closes itself for a newer tab', async () => {
    const name = `runs-test-${++dbCount}`;
    // This page is the older lab; a newer lab (version + 1) opens in another tab: this one steps aside.
    const closedBy: DatabaseClosedError[] = [];
    const older = await openRunStore(name, { onClose: (e) => closedBy.push(e) });
    const run = await older.createRun({ config: CONFIG, backend: 'wasm' });
    const newer = await openRunStore(name, { version: DB_VERSION + 1 });
    expect(closedBy).toHaveLength(1);
    expect(closedBy[0].message).toMatch(/newer version of the lab opened in another tab/);
    await expect(older.getMeta(run.id)).rejects.toBeInstanceOf(DatabaseClosedError);
    expect((await newer.getMeta(run.id)).id).toBe(run.id);
    newer.close();

    // An old tab that does not step aside blocks the upgrade.
    const stubborn = await openDB(name, DB_VERSION + 1);
    const err = await openRunStore(name, { version: DB_VERSION + 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseBlockedError);
    expect((err as Error).message).toMatch(/open in another tab.*Close or reload the other ResNet Lab tabs/);
    stubborn.close();
  });

  it('says so when there is no IndexedDB at all', async () => {
    const saved = globalThis.indexedDB;
    // @ts-expect-error: removed for this test only
    delete globalThis.indexedDB;
    try {
      await expect(openRunStore('none')).rejects.toMatchObject({ code: 'unavailable' });
    } finally {
      globalThis.indexedDB = saved;
    }
  });
});
