// Checkpoints in the run store: exact round trips, two kept per run, the previous ones kept when a
// new one cannot be stored, and resuming (the series cut back to the checkpoint).

import { describe, expect, it } from 'vitest';
import type { TrainerCheckpoint } from '../train/trainer.ts';
import { StorageError } from './errors.ts';
import { approxBytes } from './sizes.ts';
import { CONFIG, dump, fakeCheckpoint, freshStore, steps } from './test-utils.ts';

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
