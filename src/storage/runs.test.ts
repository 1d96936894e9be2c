// Runs in the run store: creating and listing, status and names, runs abandoned by a closed tab
// ("reload"), and soft delete with undo and purge.

import { describe, expect, it } from 'vitest';
import { RunNotFoundError } from './errors.ts';
import { openRunStore } from './run-store.ts';
import { CONFIG, dump, fakeCheckpoint, freshName, freshStore, steps, track } from './test-utils.ts';

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
    const b = await store.createRun({
      name: '  deep one ',
      config: CONFIG,
      seed: 3,
      backend: 'webgpu',
      startedAt: 2000,
      totalSteps: 78000,
    });
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

describe('interrupted runs', () => {
  it('marks runs left running or paused by a closed tab as interrupted, after a reload, except live ones', async () => {
    const name = freshName();
    const tab1 = await openRunStore(name);
    const running = await tab1.createRun({ config: CONFIG, backend: 'wasm' });
    const paused = await tab1.createRun({ config: CONFIG, backend: 'wasm', status: 'paused' });
    const finished = await tab1.createRun({ config: CONFIG, backend: 'wasm' });
    const live = await tab1.createRun({ config: CONFIG, backend: 'webgpu' });
    await tab1.setStatus(finished.id, 'finished');
    await tab1.saveCheckpoint(running.id, fakeCheckpoint(40));
    tab1.close(); // the tab goes away

    const tab2 = await openRunStore(name);
    track(tab2);
    const changed = await tab2.markInterruptedOnStartup({ liveRunIds: [live.id] });
    expect(changed.map((r) => r.id).sort()).toEqual([running.id, paused.id].sort());
    const status = Object.fromEntries((await tab2.listRuns()).map((r) => [r.id, r.status]));
    expect(status).toEqual({ [running.id]: 'interrupted', [paused.id]: 'interrupted', [finished.id]: 'finished', [live.id]: 'running' });
    expect((await tab2.loadLatestCheckpoint(running.id))?.checkpoint).toEqual(fakeCheckpoint(40));
    expect(await tab2.markInterruptedOnStartup({ liveRunIds: [live.id] })).toEqual([]);
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
