// The page's run history through the real store and the real engine (in-thread, wasm, the demo
// sample) with fake-indexeddb: runs listed as they train, one opened and re-plotted, renamed, deleted
// with undo and purged, an interrupted run offered and resumed to the uninterrupted losses, a training
// worker that lets go of its run without ending it (marked interrupted, the page says so), storage
// problems surfaced; and the background-tab verdict from step timings.

import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/setup.ts';
import { openRunStore } from '../storage/run-store.ts';
import { Engine, type EngineHost } from '../worker/engine.ts';
import type { EngineEvent } from '../worker/protocol.ts';
import { formatConfigQuery, protocolDefaults } from '../experiment/config.ts';
import { canResume } from './runs-slice.ts';
import { createLabStore, type LabStore } from './store.ts';
import { throttleReport } from './throttle.ts';
import { nodeHost } from '../worker/node-host.ts';

let dbCount = 0;

const host = (dbName: string) => nodeHost({ history: dbName });

const QUERY = formatConfigQuery({ ...protocolDefaults('gcr'), depth: 8, batch: 8, epochs: 1, seed: 21 });

async function page(
  h: EngineHost,
  dbName: string,
  waitForRunLock?: (id: string) => Promise<void>,
): Promise<{ store: LabStore; engine: Engine }> {
  const engine = new Engine(h);
  const store = createLabStore(engine, QUERY, {
    openHistory: () => openRunStore(dbName, { estimate: async () => undefined }),
    waitForRunLock,
    deathGraceMs: 10,
  });
  await store.getState().chooseBackend('wasm');
  await store.getState().loadData({ kind: 'demo' });
  await until(() => store.getState().runsState !== 'loading');
  return { store, engine };
}

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe('the Runs list', () => {
  it('lists runs as they train; opens one to re-plot it; renames; deletes with undo, then purges', async () => {
    const dbName = `runs-slice-${++dbCount}`;
    const { store } = await page(host(dbName), dbName);
    expect(store.getState().runsState).toBe('ready');
    store.getState().setRunOptions({ maxSteps: 12, evalLimit: 16 });
    await store.getState().train();
    await until(() => store.getState().runs[0]?.status === 'max-steps');
    const liveSteps = store.getState().record!.steps.map((p) => p.loss);
    store.getState().setField('seed', 22);
    await store.getState().train();
    await until(() => store.getState().runs.length === 2 && store.getState().runs.every((r) => r.status === 'max-steps'));
    const [second, first] = store.getState().runs;
    expect(first.name).toBe('ResNet-8 gcr sgd-nesterov, seed 21');
    expect(second.seed).toBe(22);

    await store.getState().openRun(first.id);
    const s = store.getState();
    expect(s.shownRun?.id).toBe(first.id);
    expect(s.record!.runId).toBeLessThan(0);
    expect(s.record!.steps.map((p) => p.loss)).toEqual(liveSteps.map(Math.fround));
    expect(s.record!.smoothed).toHaveLength(12);
    expect(s.record!.epochs.map((e) => e.step)).toEqual([0, 12]);
    expect(s.summary).toMatchObject({ end: 'max-steps', steps: 12 });
    expect(s.config.seed).toBe(21);

    await store.getState().renameRun(first.id, 'first try');
    expect(store.getState().runs.find((r) => r.id === first.id)?.name).toBe('first try');
    await store.getState().renameRun(first.id, '   ');
    expect(store.getState().runsError).toMatch(/blank/);

    await store.getState().deleteRun(first.id);
    expect(store.getState().runs.map((r) => r.id)).toEqual([second.id]);
    expect(store.getState().undo?.name).toBe('first try');
    await store.getState().undoDelete();
    expect(store.getState().runs.map((r) => r.id)).toEqual([second.id, first.id]);
    await store.getState().deleteRun(second.id);
    await store.getState().forgetDeleted();
    const check = await openRunStore(dbName);
    expect((await check.listRuns({ includeDeleted: true })).map((r) => r.id)).toEqual([first.id]);
    check.close();
  });

  it('offers Resume for a run its tab left behind, and the resumed run ends with the uninterrupted losses', async () => {
    const dbName = `runs-slice-${++dbCount}`;
    // The first tab's worker loses its history connection after the checkpoint at step 8 and trains on
    // to step 20 (its steps are the uninterrupted run's): IndexedDB keeps the run "running" at 8-ish.
    const h1 = host(dbName);
    const tab1 = await page(h1, dbName);
    const events: EngineEvent[] = [];
    tab1.engine.subscribe((e) => {
      events.push(e);
      if (e.type === 'checkpoint' && e.step === 8) h1.opened.forEach((s) => s.close());
    });
    tab1.store.getState().setRunOptions({ maxSteps: 20, evalLimit: 16, checkpointEvery: 8 });
    await tab1.store.getState().train();
    const want = tab1.store.getState().record!.steps;
    expect(want).toHaveLength(20);

    // The reloaded page marks it interrupted and offers Resume.
    const tab2 = await page(host(dbName), dbName);
    const [run] = tab2.store.getState().runs;
    expect(run.status).toBe('interrupted');
    expect(canResume(run)).toBe(true);
    await tab2.store.getState().resumeRun(run.id);
    const s = tab2.store.getState();
    expect(s.summary).toMatchObject({ end: 'max-steps', steps: 20 });
    expect(s.record!.steps.map((p) => p.step)).toEqual(want.map((p) => p.step));
    expect(s.record!.steps.slice(8).map((p) => p.loss)).toEqual(want.slice(8).map((p) => p.loss));
    expect(s.runs[0]).toMatchObject({ id: run.id, status: 'max-steps', lastStep: 20 });
    expect(s.liveStoredId).toBe(run.id);
  });

  it('a worker that lets go of its run without ending it: the run is marked interrupted and the page says so', async () => {
    const dbName = `runs-slice-${++dbCount}`;
    let letGo!: () => void;
    const lockFree = new Promise<void>((r) => (letGo = r));
    const tab = await page(host(dbName), dbName, () => lockFree);
    tab.engine.subscribe((e) => {
      // Plays the browser ending the worker right after its checkpoint at step 6: the lock is free,
      // no run-end came. (The in-thread engine goes on, and is stopped once the page has reacted.)
      if (e.type === 'checkpoint' && e.step === 6) letGo();
    });
    tab.store.getState().setRunOptions({ maxSteps: 400, evalLimit: 16, checkpointEvery: 6 });
    const training = tab.store.getState().train();
    await until(() => tab.store.getState().runs.some((r) => r.status === 'interrupted'));
    const s = tab.store.getState();
    expect(s.runNotice!.message).toMatch(
      /training worker stopped unexpectedly.*last checkpoint \(step (6|12|18)\): Resume continues from there/,
    );
    expect(s.phase).toBe('ended');
    expect(s.summary?.end).toBe('interrupted');
    const meta = s.runs.find((r) => r.id === s.liveStoredId)!;
    expect(meta.status).toBe('interrupted');
    tab.engine.stop();
    await training;
  });

  it('surfaces a failed storage write with the runs to delete', async () => {
    const dbName = `runs-slice-${++dbCount}`;
    const tab = await page(host(dbName), dbName);
    tab.engine['emit']({
      type: 'storage-problem',
      name: 'StorageQuotaError',
      message: 'Not enough storage space',
      largestRuns: [{ id: 'run-a', name: 'big', bytes: 5e6 }],
    });
    expect(tab.store.getState().storageProblem).toEqual({
      message: 'Not enough storage space',
      largestRuns: [{ id: 'run-a', name: 'big', bytes: 5e6 }],
    });
    tab.store.getState().dismissStorageProblem();
    expect(tab.store.getState().storageProblem).toBeUndefined();
  });
});

describe('background tab', () => {
  const steady = (from: number, to: number, msPerStep: number, t0 = 0) =>
    Array.from({ length: to - from + 1 }, (_, i) => ({ step: from + i, ms: t0 + i * msPerStep }));

  it('says training was slowed when hidden steps took much longer, and not when they did not', () => {
    const before = steady(1, 60, 100);
    const slowed = [...before, ...steady(61, 80, 1000, before[59].ms + 1000)];
    const r = throttleReport(slowed, 60, 80)!;
    expect(r.throttled).toBe(true);
    expect(r.speed).toBeCloseTo(0.1, 5);
    expect(r.hiddenSteps).toBe(20);
    expect(r.message).toMatch(/slowed training to 10% of its speed \(1000 ms a step instead of 100 ms, over 20 steps\)/);
    const same = [...before, ...steady(61, 80, 110, before[59].ms + 110)];
    const ok = throttleReport(same, 60, 80)!;
    expect(ok.throttled).toBe(false);
    expect(ok.message).toMatch(/full speed/);
    expect(throttleReport(same, 60, 62)).toBeUndefined(); // too short to say
  });
});
