// The experiment queue: its pure parts (the saved form and its validation, an unreadable saved queue
// kept aside, a full storage, the next item, what a run's end makes of an item, the items of a table and
// of N seeds, mean +- std over seeds) and the slice driving the real store with the real in-thread
// engine (wasm, the demo sample) and fake-indexeddb: two seeds queued, the page "reloaded" while the
// second trains, Continue queue resumes that stored run from its checkpoint to the same final error;
// Pause lets the current run finish; a manual run is never interrupted by the queue; Stop pauses it.

import 'fake-indexeddb/auto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/setup.ts';
import { openRunStore } from '../storage/run-store.ts';
import { Engine, type EngineHost } from '../worker/engine.ts';
import type { EngineEvent } from '../worker/protocol.ts';
import { formatConfigQuery, protocolDefaults } from '../experiment/config.ts';
import {
  QUEUE_CORRUPT_KEY,
  QUEUE_STORAGE_KEY,
  continuesAfter,
  loadQueue,
  makeItem,
  nextItem,
  parseSavedQueue,
  queueGroups,
  resultsOf,
  saveQueue,
  seedItems,
  serializeQueue,
  stateForEnd,
  tableItems,
  type QueueItem,
  type QueueStorage,
  type SavedQueue,
} from './queue.ts';
import { REFERENCE_TABLES, runThisConfig } from './reference-tables.ts';
import { createLabStore, type LabStore } from './store.ts';
import { nodeHost } from '../worker/node-host.ts';

/** localStorage as the browser has it, in memory; `full` plays a storage quota reached. */
class MemoryStorage implements QueueStorage {
  readonly map = new Map<string, string>();
  full = false;
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    if (this.full) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    this.map.set(k, String(v));
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
}

const CONFIG = { ...protocolDefaults('gcr'), depth: 8, batch: 8, epochs: 1, seed: 21 };
const QUERY = formatConfigQuery(CONFIG);

const item = (over: Partial<QueueItem> = {}): QueueItem => ({ ...makeItem(CONFIG, { maxSteps: 12 }), ...over });

describe('the saved queue', () => {
  it('round-trips, and every field read back is checked', () => {
    const q: SavedQueue = {
      version: 1,
      running: true,
      items: [
        item({
          state: 'done',
          storedId: 'run-1',
          end: 'max-steps',
          finalTestError: 0.5,
          bestTestError: 0.25,
          bestEpoch: 0.5,
          message: 'ok',
        }),
        item(),
      ],
    };
    expect(parseSavedQueue(serializeQueue(q))).toEqual(q);
    // The saved form is unchanged: each item's configuration is its canonical query string.
    expect(JSON.parse(serializeQueue(q)).items[0].config).toBe(formatConfigQuery(q.items[0]!.config));

    const bad = (mutate: (raw: { version: unknown; running: unknown; items: Record<string, unknown>[] }) => void) => {
      const raw = JSON.parse(serializeQueue(q));
      mutate(raw);
      return () => parseSavedQueue(JSON.stringify(raw));
    };
    expect(() => parseSavedQueue('{"version":1,')).toThrow(/not valid JSON/);
    expect(() => parseSavedQueue('[]')).toThrow(/not an object/);
    expect(bad((r) => (r.version = 2))).toThrow(/unknown version 2/);
    expect(bad((r) => (r.running = 'yes'))).toThrow(/running/);
    expect(bad((r) => (r.items = {} as never))).toThrow(/items is not a list/);
    expect(bad((r) => (r.items[0]!.state = 'exploded'))).toThrow(/item 1: unknown state/);
    expect(bad((r) => (r.items[1]!.config = 'depth=21'))).toThrow(/item 2: its configuration is invalid.*depth/);
    expect(bad((r) => (r.items[1]!.config = 'evil=1'))).toThrow(/item 2: its configuration is invalid/);
    expect(bad((r) => (r.items[0]!.finalTestError = 7))).toThrow(/finalTestError/);
    expect(bad((r) => (r.items[0]!.options = { maxSteps: -3 }))).toThrow(/maxSteps/);
    const proto = serializeQueue(q).replace('"options":{"maxSteps":12}', '"options":{"__proto__":{"maxSteps":1},"maxSteps":12}');
    expect(proto).toContain('__proto__');
    expect(() => parseSavedQueue(proto)).toThrow(/unknown run option "__proto__"/);
    expect(bad((r) => (r.items[0]!.options = { shell: 'rm -rf' }))).toThrow(/unknown run option "shell"/);
    expect(bad((r) => (r.items[1]!.id = r.items[0]!.id))).toThrow(/same id/);
    expect(bad((r) => (r.items[0]!.id = '<img>'))).toThrow(/id/);
    expect(bad((r) => (r.items[0]!.label = 'x'.repeat(301)))).toThrow(/label/);
    expect(bad((r) => r.items.forEach((i) => (i.state = 'running')))).toThrow(/more than one item is running/);
    // A configuration written in another key order (or partly) is read in its canonical form.
    const partial = bad((r) => (r.items[1]!.config = 'depth=8&protocol=gcr&batch=8&epochs=1&seed=21'))();
    expect(formatConfigQuery(partial.items[1]!.config)).toBe(QUERY);
  });

  it('an unreadable saved queue is kept aside with a notice, never written over; a full storage is reported', () => {
    const storage = new MemoryStorage();
    storage.map.set(QUEUE_STORAGE_KEY, '{"version":1,"running":false,"items":[{"id":"a"}]}');
    const loaded = loadQueue(storage);
    expect(loaded.queue.items).toEqual([]);
    expect(loaded.blocked).toBeFalsy();
    expect(loaded.notice).toMatchObject({ kind: 'unreadable' });
    expect(loaded.notice!.message).toMatch(
      /could not be read \(item 1: label is missing.*\)\. It was kept aside .* as “resnet-lab\.queue\.unreadable”/,
    );
    expect(storage.getItem(QUEUE_CORRUPT_KEY)).toBe('{"version":1,"running":false,"items":[{"id":"a"}]}');
    expect(storage.getItem(QUEUE_STORAGE_KEY)).toBeNull();

    // A second unreadable one does not replace the first one kept aside.
    storage.map.set(QUEUE_STORAGE_KEY, 'garbage');
    const again = loadQueue(storage);
    expect(again.notice!.message).toMatch(/not valid JSON.*kept aside .* as “resnet-lab\.queue\.unreadable\.\d+”/);
    expect(storage.getItem(QUEUE_CORRUPT_KEY)).toContain('"id":"a"');
    expect([...storage.map.values()]).toContain('garbage');

    // Nowhere to keep it: it stays in place and the page must not save over it.
    const full = new MemoryStorage();
    full.map.set(QUEUE_STORAGE_KEY, 'garbage');
    full.full = true;
    const stuck = loadQueue(full);
    expect(stuck.blocked).toBe(true);
    expect(stuck.notice!.message).toMatch(/left in place/);
    expect(full.getItem(QUEUE_STORAGE_KEY)).toBe('garbage');

    const result = saveQueue(full, { version: 1, running: false, items: [item()] });
    expect(result).toMatchObject({ ok: false });
    expect(!result.ok && result.message).toMatch(/storage is full.*goes on in this page/);
  });

  it('a page closed mid-run: the running item is interrupted and the queue paused, with what Continue will do', () => {
    const storage = new MemoryStorage();
    const a = item({ state: 'done', finalTestError: 0.5 });
    const b = item({ state: 'running', storedId: 'run-b', label: 'Table X: row B' });
    const c = item();
    storage.setItem(QUEUE_STORAGE_KEY, serializeQueue({ version: 1, running: true, items: [a, b, c] }));
    const { queue, notice } = loadQueue(storage);
    expect(queue.running).toBe(false);
    expect(queue.items.map((i) => i.state)).toEqual(['done', 'interrupted', 'waiting']);
    expect(notice).toMatchObject({ kind: 'interrupted' });
    expect(notice!.message).toMatch(/interrupted at “Table X: row B”, seed 21\. Continue queue resumes that run from its last checkpoint/);
    expect(nextItem(queue.items)?.id).toBe(b.id);

    storage.setItem(QUEUE_STORAGE_KEY, serializeQueue({ version: 1, running: true, items: [a, c] }));
    expect(loadQueue(storage).notice).toMatchObject({ kind: 'paused' });
    expect(loadQueue(undefined).queue.items).toEqual([]);
  });
});

describe('queue items', () => {
  it('N seeds from the current seed upward; a table gives exactly each row’s Run this configuration', () => {
    const seeds = seedItems(CONFIG, 3, { maxSteps: 20, evalLimit: 50 });
    expect(seeds.map((i) => i.config.seed)).toEqual([21, 22, 23]);
    expect(seeds.every((i) => i.state === 'waiting' && i.options.maxSteps === 20 && i.options.evalLimit === 50)).toBe(true);
    expect(new Set(seeds.map((i) => i.id)).size).toBe(3);
    const top = seedItems({ ...CONFIG, seed: 2 ** 32 - 1 }, 2, {});
    expect(top.map((i) => i.config.seed)).toEqual([2 ** 32 - 2, 2 ** 32 - 1]);
    expect(() => seedItems(CONFIG, 0, {})).toThrow(/from 1 to 100/);
    expect(() => seedItems(CONFIG, 2.5, {})).toThrow(/whole number/);

    const table = REFERENCE_TABLES.find((t) => t.id === 'gcr-solver')!;
    const rows = tableItems(table, 7, { maxSteps: 5 });
    expect(rows).toHaveLength(table.rows.length);
    rows.forEach((it, k) => {
      expect(formatConfigQuery(it.config)).toBe(formatConfigQuery(runThisConfig(table.rows[k]!, { seed: 7 })));
      expect(it.label).toBe(`${table.title}: ${table.rows[k]!.name}`);
    });
  });

  it('what a run’s end makes of an item, and whether the queue goes on', () => {
    expect(stateForEnd('finished')).toBe('done');
    expect(stateForEnd('max-steps')).toBe('done');
    expect(stateForEnd('diverged')).toBe('diverged');
    expect(stateForEnd('stopped')).toBe('stopped');
    expect(continuesAfter('diverged')).toBe(true);
    expect(continuesAfter('failed')).toBe(true);
    expect(continuesAfter('stopped')).toBe(false);
    expect(continuesAfter('interrupted')).toBe(false);
    const items = [item({ state: 'done' }), item({ state: 'failed' }), item(), item({ state: 'interrupted' })];
    expect(nextItem(items)).toBe(items[2]);
    expect(nextItem(items.slice(0, 2))).toBeUndefined();
    // The evaluation before training is never a result; the best is the earliest lowest.
    expect(
      resultsOf([
        { epoch: 0, step: 0, testError: 0.1, evaluated: 16 },
        { epoch: 1, step: 10, testError: 0.4, evaluated: 16 },
        { epoch: 2, step: 20, testError: 0.3, evaluated: 16 },
        { epoch: 3, step: 30, testError: 0.35, evaluated: 16 },
      ]),
    ).toEqual({ finalTestError: 0.35, bestTestError: 0.3, bestEpoch: 2 });
  });

  it('mean ± std over seeds of one configuration and run options: final (headline) and best; diverged counted apart', () => {
    const at = (seed: number, over: Partial<QueueItem>) => ({ ...makeItem({ ...CONFIG, seed }, {}), ...over });
    const groups = queueGroups([
      at(1, { state: 'done', finalTestError: 0.1, bestTestError: 0.08 }),
      at(2, { state: 'done', finalTestError: 0.2, bestTestError: 0.1 }),
      at(3, { state: 'diverged', finalTestError: 0.9 }),
      at(4, { state: 'waiting' }),
      at(5, { state: 'stopped', finalTestError: 0.5 }),
      { ...makeItem({ ...CONFIG, depth: 14, seed: 1 }, {}), state: 'done', finalTestError: 0.3, bestTestError: 0.3 },
      { ...makeItem({ ...CONFIG, seed: 6 }, { maxSteps: 50 }), state: 'done', finalTestError: 0.6, bestTestError: 0.6 },
    ]);
    expect(groups).toHaveLength(3); // the same configuration cut at 50 steps is another experiment
    expect(groups[2]!.seeds).toEqual([6]);
    expect(groups[2]!.key).toBe(`${groups[0]!.key.split('|')[0]}|{"maxSteps":50}`);
    expect(groups[0]!.seeds).toEqual([1, 2, 3]);
    expect(groups[0]!.final!.n).toBe(2);
    expect(groups[0]!.final!.mean).toBeCloseTo(0.15, 12);
    expect(groups[0]!.final!.std).toBeCloseTo(Math.SQRT1_2 * 0.1, 12);
    expect(groups[0]!.best!.mean).toBeCloseTo(0.09, 12);
    expect(groups[1]!.final!.n).toBe(1);
    expect(groups[1]!.final!.std).toBeNaN();
  });
});

// ---- the slice with the real store and engine ---------------------------------------------------

let dbCount = 0;

const host = (dbName: string) => nodeHost({ history: dbName });

/** A page: its localStorage, the store, the engine. */
async function page(h: EngineHost, dbName: string, storage: MemoryStorage): Promise<{ store: LabStore; engine: Engine }> {
  (globalThis as { localStorage?: QueueStorage }).localStorage = storage;
  const engine = new Engine(h);
  const store = createLabStore(engine, QUERY, {
    openHistory: () => openRunStore(dbName, { estimate: async () => undefined }),
    deathGraceMs: 10,
  });
  await store.getState().chooseBackend('wasm');
  await store.getState().loadData({ kind: 'demo' });
  await until(() => store.getState().runsState !== 'loading');
  return { store, engine };
}

async function until(cond: () => boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const saved = (storage: MemoryStorage) => parseSavedQueue(storage.getItem(QUEUE_STORAGE_KEY)!);
const seedOf = (i: QueueItem) => i.config.seed;

beforeAll(async () => {
  await initBackend('wasm');
});

afterEach(() => {
  delete (globalThis as { localStorage?: QueueStorage }).localStorage;
});

describe('the queue on the page', () => {
  it('two seeds; a reload while the second trains; Continue queue resumes its run from the checkpoint to the same result', async () => {
    const dbName = `queue-slice-${++dbCount}`;
    const h1 = host(dbName);
    const ls1 = new MemoryStorage();
    const tab1 = await page(h1, dbName, ls1);
    // The first tab "closes" after the second run's checkpoint at step 8: its history stops there and
    // its saved queue is what it was then; the tab itself trains on (the result the resume must match).
    let starts = 0;
    let atClose: string | undefined;
    tab1.engine.subscribe((e: EngineEvent) => {
      if (e.type === 'run-start') starts += 1;
      if (e.type === 'checkpoint' && e.step === 8 && starts === 2 && atClose === undefined) {
        atClose = ls1.getItem(QUEUE_STORAGE_KEY)!;
        h1.opened.forEach((s) => s.close());
      }
    });
    tab1.store.getState().setRunOptions({ maxSteps: 16, evalLimit: 16, checkpointEvery: 4 });
    tab1.store.getState().queueAddSeeds(2);
    tab1.store.getState().setRunOptions({}); // queued items keep the options in force when queued
    expect(saved(ls1).items.map(seedOf)).toEqual([21, 22]);
    tab1.store.getState().queueStart();
    expect(tab1.store.getState().phase).toBe('starting'); // started at once: nothing was busy
    await until(() => !tab1.store.getState().queueRunning);
    const straight = tab1.store.getState().queueItems;
    expect(straight.map((i) => i.state)).toEqual(['done', 'done']);
    expect(straight.map((i) => i.end)).toEqual(['max-steps', 'max-steps']);
    for (const i of straight) {
      expect(i.storedId).toMatch(/\S/);
      expect(i.finalTestError).toBeGreaterThanOrEqual(0);
      expect(i.bestTestError).toBeLessThanOrEqual(i.finalTestError!);
      expect(i.bestEpoch).toBeGreaterThan(0);
    }
    expect(tab1.store.getState().runOptions).toEqual({ maxSteps: 16, evalLimit: 16, checkpointEvery: 4 });
    expect(tab1.store.getState().config.seed).toBe(22);

    // What the closed tab left: the second item running, with its stored run.
    expect(atClose).toBeDefined();
    const left = parseSavedQueue(atClose!);
    expect(left.running).toBe(true);
    expect(left.items.map((i) => i.state)).toEqual(['done', 'running']);
    expect(left.items[1]!.storedId).toBe(straight[1]!.storedId);

    const ls2 = new MemoryStorage();
    ls2.setItem(QUEUE_STORAGE_KEY, atClose!);
    const tab2 = await page(host(dbName), dbName, ls2);
    let s = tab2.store.getState();
    expect(s.queueRunning).toBe(false);
    expect(s.queueItems.map((i) => i.state)).toEqual(['done', 'interrupted']);
    expect(s.queueNotice?.kind).toBe('interrupted');
    expect(s.queueNotice?.message).toMatch(/interrupted at “ResNet-8 gcr sgd-nesterov”, seed 22\. Continue queue resumes/);
    expect(s.runs.find((r) => r.id === left.items[1]!.storedId)?.status).toBe('interrupted');

    s.queueStart();
    await until(() => !tab2.store.getState().queueRunning);
    s = tab2.store.getState();
    expect(s.queueNotice).toBeUndefined();
    expect(s.queueItems.map((i) => i.state)).toEqual(['done', 'done']);
    const resumed = s.queueItems[1]!;
    expect(resumed.storedId).toBe(straight[1]!.storedId); // the same stored run, continued
    expect(s.record!.steps[0]!.step).toBe(1); // its series from the history, then trained on
    expect(s.record!.steps).toHaveLength(16);
    expect(resumed.finalTestError).toBe(straight[1]!.finalTestError); // from the checkpoint: the same model
    expect(s.runs.find((r) => r.id === resumed.storedId)).toMatchObject({ status: 'max-steps', lastStep: 16 });
    expect(saved(ls2).items.map((i) => i.state)).toEqual(['done', 'done']);

    const [group] = queueGroups(s.queueItems);
    expect(group!.seeds).toEqual([21, 22]);
    expect(group!.final!.n).toBe(2);
    expect(group!.final!.mean).toBeCloseTo((straight[0]!.finalTestError! + straight[1]!.finalTestError!) / 2, 12);
  });

  it('Pause lets the current run finish; a manual run is never cut by the queue; Stop pauses it; a full storage is said', async () => {
    const dbName = `queue-slice-${++dbCount}`;
    const ls = new MemoryStorage();
    const tab = await page(host(dbName), dbName, ls);
    const log: string[] = []; // 'start seed N' and 'end' in the order the engine reported them
    tab.engine.subscribe((e: EngineEvent) => {
      if (e.type === 'run-start') log.push(`start seed ${e.config.seed}`);
      if (e.type === 'run-end') log.push('end');
    });
    const st = () => tab.store.getState();

    ls.full = true;
    st().setRunOptions({ maxSteps: 6, evalLimit: 16 });
    st().queueAddSeeds(2);
    expect(st().queueItems).toHaveLength(2);
    expect(st().queueSaveError).toMatch(/storage is full/);
    ls.full = false;

    // Pause during the first run: it finishes, the second waits.
    st().queueStart();
    st().queuePause();
    await until(() => st().queueItems[0]!.state === 'done');
    await new Promise((r) => setTimeout(r, 50));
    expect(st().queueItems.map((i) => i.state)).toEqual(['done', 'waiting']);
    expect(log).toEqual(['start seed 21', 'end']);
    expect(st().queueSaveError).toBeUndefined(); // saved again once there was room
    expect(saved(ls).items.map((i) => i.state)).toEqual(['done', 'waiting']);

    // A manual run (another seed, more steps) is busy when the queue starts: the queue waits for it.
    st().setField('seed', 99);
    st().setRunOptions({ maxSteps: 20, evalLimit: 16 });
    const manual = st().train();
    st().queueStart();
    await manual;
    await until(() => !st().queueRunning);
    expect(log).toEqual(['start seed 21', 'end', 'start seed 99', 'end', 'start seed 22', 'end']);
    expect(st().queueItems.map((i) => i.state)).toEqual(['done', 'done']);
    expect(st().record!.steps).toHaveLength(6); // the item's own step limit
    expect(st().queueItems[1]!.storedId).not.toBe(st().runs.find((r) => r.seed === 99)?.id);

    // Stop during a queued run: the item is 'stopped', the queue paused and says so; the next waits.
    st().setRunOptions({ maxSteps: 400, evalLimit: 16 });
    st().queueAddCurrent();
    st().queueAddCurrent();
    const stopper = tab.engine.subscribe((e) => {
      if (e.type === 'steps') st().stop();
    });
    st().queueStart();
    await until(() => !st().queueRunning);
    stopper();
    const s = st();
    expect(s.queueItems.slice(2).map((i) => i.state)).toEqual(['stopped', 'waiting']);
    expect(s.queueNotice?.kind).toBe('stopped');
    expect(s.queueNotice?.message).toMatch(/you stopped “ResNet-8 gcr sgd-nesterov”, seed 22\. Start goes on with the next item/);

    // Clear finished keeps what is still to run; Run again puts a stopped item back in line.
    const stoppedId = s.queueItems[2]!.id;
    s.queueRetry(stoppedId);
    expect(st().queueItems[2]).toMatchObject({ state: 'waiting' });
    expect(st().queueItems[2]!.storedId).toBeUndefined();
    st().queueMove(stoppedId, 1);
    expect(
      st()
        .queueItems.map((i) => i.id)
        .indexOf(stoppedId),
    ).toBe(3);
    st().queueClearFinished();
    expect(st().queueItems.map((i) => i.state)).toEqual(['waiting', 'waiting']);
    st().queueRemove(stoppedId);
    expect(st().queueItems).toHaveLength(1);
    expect(saved(ls).items).toHaveLength(1);
  });
});
