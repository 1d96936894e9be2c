// The page's experiment queue (issue 6): several experiments (a whole published table, or one
// configuration with N seeds) run one after another in the worker, surviving reloads like any run.
// Joined into the page's one store by src/state/store.ts.
//
// The runner: while the queue is started and no run is busy (a manual run included) and the worker has
// its backend and data, it selects the next item's configuration and run options and calls the store's
// train(); when that run ends it records how (and the run's history id, final and best test error) and
// takes the next. A user's Stop pauses the queue (the item is 'stopped'); an interruption (worker died,
// GPU lost) pauses it with a sentence; diverged and failed runs are recorded and the queue goes on.
// Pause queue lets the current run finish. The queue is saved in localStorage at every change (see
// queue.ts for what is read back); after a reload the item that was training is 'interrupted' and
// Continue queue resumes its stored run from its last checkpoint (resumeRun), then goes on.

import type { StoreApi } from 'zustand/vanilla';
import type { RunMeta } from '../storage/schema.ts';
import {
  FINISHED_STATES,
  MAX_QUEUE_ITEMS,
  QUEUE_STORAGE_KEY,
  copyOptions,
  continuesAfter,
  loadQueue,
  makeItem,
  nextItem,
  resultsOf,
  saveQueue,
  seedItems,
  stateForEnd,
  tableItems,
  type QueueItem,
  type QueueStorage,
} from './queue.ts';
import { REFERENCE_TABLES } from './reference-tables.ts';
import { canResume } from './runs-slice.ts';
import type { LabState, QueueSlice, RunPhase } from './lab-state.ts';
import type { EngineEvent, LabEngine, RunEnd, RunSummary } from '../worker/protocol.ts';

type Set = StoreApi<LabState>['setState'];
type Get = StoreApi<LabState>['getState'];

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
const busyPhase = (p: RunPhase) => p === 'starting' || p === 'running' || p === 'paused';
const ENDED: readonly string[] = ['finished', 'max-steps', 'stopped', 'diverged', 'failed', 'interrupted'];
const BLOCKED = 'This queue is not saved while the unreadable saved queue is in place (discard it to save this one).';
const seedOf = (item: QueueItem) => item.config.seed;

/** The browser's localStorage, when there is one and it may be used. */
function browserStorage(): QueueStorage | undefined {
  try {
    return (globalThis as { localStorage?: QueueStorage }).localStorage;
  } catch {
    return undefined; // storage disabled for this page
  }
}

export function queueSlice(set: Set, get: Get, engine: LabEngine): QueueSlice {
  const storage = browserStorage();
  const loaded = loadQueue(storage);
  let blocked = loaded.blocked ?? false;

  /** The item the runner is on; runId and storedId once its run started. */
  let current: { itemId: string; runId?: number; storedId?: string } | undefined;
  /** The runner has just asked for a run: the next run-start is its. */
  let expecting = false;
  /** History ids of the runs seen starting, by engine run id (to record runs resumed outside the queue). */
  const liveRuns = new Map<number, string>();
  let startFailures = 0;

  const save = () => {
    if (!storage) return;
    if (blocked) {
      set({ queueSaveError: BLOCKED });
      return;
    }
    const r = saveQueue(storage, { version: 1, running: get().queueRunning, items: get().queueItems });
    set({ queueSaveError: r.ok ? undefined : r.message });
  };
  const update = (patch: Partial<Pick<QueueSlice, 'queueItems' | 'queueRunning' | 'queueNotice'>>) => {
    set(patch);
    save();
  };
  const patchItem = (id: string, patch: Partial<QueueItem>) => {
    update({ queueItems: get().queueItems.map((i) => (i.id === id ? { ...i, ...patch } : i)) });
  };
  /** The item as it was queued, ready to (re)start: results of an earlier try dropped. */
  const fresh = (i: QueueItem, state: QueueItem['state']): QueueItem => ({
    id: i.id,
    label: i.label,
    config: i.config,
    options: i.options,
    state,
  });
  const itemById = (id: string) => get().queueItems.find((i) => i.id === id);

  const ready = () => {
    const s = get();
    return !busyPhase(s.phase) && !s.backendBusy && !s.dataBusy && s.data !== undefined && s.backend !== undefined;
  };

  const schedulePump = () => {
    setTimeout(pump, 0);
  };

  /** While the queue waits for the page (backend, data, a run), it looks again now and then. */
  let retry: ReturnType<typeof setTimeout> | undefined;

  function pump(): void {
    if (current || !get().queueRunning) return;
    if (!ready()) {
      retry ??= setTimeout(() => {
        retry = undefined;
        pump();
      }, 500);
      return;
    }
    const item = nextItem(get().queueItems);
    if (!item) {
      update({ queueRunning: false });
      return;
    }
    current = { itemId: item.id };
    const work = item.state === 'interrupted' && item.storedId ? continueItem(item, item.storedId) : startItem(item);
    void work
      .catch((e: unknown) => {
        update({ queueRunning: false, queueNotice: { kind: 'error', message: `The queue is paused: ${message(e)}` } });
      })
      .finally(() => {
        current = undefined;
        schedulePump();
      });
  }

  async function startItem(item: QueueItem, note?: string): Promise<void> {
    get().setConfig(item.config);
    get().setRunOptions(copyOptions(item.options));
    const running = fresh(item, 'running');
    if (note) running.message = note;
    update({ queueItems: get().queueItems.map((i) => (i.id === item.id ? running : i)) });
    expecting = true;
    const run = get().train(); // phase is 'starting' from here on: nothing else can start a run
    await run;
    expecting = false;
    await settle(item.id, false);
  }

  async function continueItem(item: QueueItem, storedId: string): Promise<void> {
    // The page's run history lists runs only after it marked those of closed tabs interrupted.
    for (let waited = 0; get().runsState === 'loading' && waited < 30_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    let meta: RunMeta | undefined;
    try {
      meta = await get().withHistory((store) => store.getMeta(storedId));
    } catch {
      meta = undefined; // deleted from the Runs list
    }
    if (meta && (meta.status === 'running' || meta.status === 'paused')) {
      update({
        queueRunning: false,
        queueNotice: {
          kind: 'interrupted',
          message: `The queue is paused: the run of “${item.label}” is still training somewhere else (another tab?). Continue queue once it has let go of it.`,
        },
      });
      return;
    }
    if (meta && meta.status !== 'interrupted' && ENDED.includes(meta.status) && !canResume(meta)) {
      // It ended after all (resumed from the Runs list while this page did not watch): take its result.
      const end = meta.status as RunEnd;
      patchItem(item.id, {
        state: stateForEnd(end),
        end,
        finalTestError: meta.finalTestError,
        bestTestError: meta.bestTestError,
        bestEpoch: meta.bestEpoch,
      });
      return;
    }
    if (!meta || !canResume(meta)) {
      await startItem(
        item,
        meta
          ? 'Its interrupted run had no checkpoint, so it was started again.'
          : 'Its interrupted run is no longer in the Runs list, so it was started again.',
      );
      return;
    }
    get().setRunOptions(copyOptions(item.options)); // resumeRun takes checkpointEvery from here
    patchItem(item.id, { state: 'running', message: undefined });
    if (get().queueNotice?.kind === 'interrupted') update({ queueNotice: undefined });
    expecting = true;
    const run = get().resumeRun(storedId);
    await run;
    expecting = false;
    await settle(item.id, true);
  }

  /** The runner's run ended (or never started): record it, say what the queue does now. */
  async function settle(itemId: string, resuming: boolean): Promise<void> {
    const c = current;
    const item = itemById(itemId);
    if (!c || !item) return; // removed meanwhile (cannot happen through the panel: a running item has no Remove)
    const s = get();
    if (c.runId === undefined) {
      const why = s.errors.train ?? 'it did not start';
      if (resuming) {
        patchItem(itemId, { state: 'interrupted', message: `Could not resume: ${why}` });
        update({
          queueRunning: false,
          queueNotice: {
            kind: 'error',
            message: `The queue is paused: “${item.label}” could not be resumed (${why}). Run again starts it from scratch; Remove drops it.`,
          },
        });
        return;
      }
      startFailures += 1;
      patchItem(itemId, { state: 'failed', end: 'failed', message: `Could not start: ${why}` });
      if (startFailures >= 2)
        update({
          queueRunning: false,
          queueNotice: { kind: 'error', message: `The queue is paused: two runs in a row could not start (${why}).` },
        });
      return;
    }
    startFailures = 0;
    const summary: RunSummary | undefined = s.summary?.runId === c.runId ? s.summary : undefined;
    const record = s.record?.runId === c.runId ? s.record : undefined;
    let end = summary?.end;
    let meta: RunMeta | undefined;
    if (c.storedId && (!end || !record)) {
      try {
        meta = await get().withHistory((store) => store.getMeta(c.storedId!));
      } catch {
        meta = undefined;
      }
    }
    // No summary reached the page (the worker failed under it): the history says how it ended, and a run
    // nobody ended (still 'running' there) was interrupted.
    if (!end)
      end = meta ? (ENDED.includes(meta.status) ? (meta.status as RunEnd) : 'interrupted') : s.errors.train ? 'failed' : 'interrupted';
    const results = record
      ? resultsOf(record.epochs)
      : { finalTestError: meta?.finalTestError, bestTestError: meta?.bestTestError, bestEpoch: meta?.bestEpoch };
    const note = summary?.message ?? (end === 'failed' ? s.errors.train : undefined);
    const done: QueueItem = { ...fresh(item, stateForEnd(end)), end, ...definedOnly(results) };
    if (c.storedId) done.storedId = c.storedId;
    if (note) done.message = note;
    update({ queueItems: get().queueItems.map((i) => (i.id === itemId ? done : i)) });
    if (continuesAfter(end)) return;
    const seed = seedOf(item);
    update({
      queueRunning: false,
      queueNotice:
        end === 'stopped'
          ? {
              kind: 'stopped',
              message: `The queue is paused: you stopped “${item.label}”, seed ${seed}. Start goes on with the next item (Run again puts the stopped one back in line).`,
            }
          : {
              kind: 'interrupted',
              message: `The queue is paused: “${item.label}”, seed ${seed}, was interrupted${note ? ` (${firstSentence(note)})` : ''}. Continue queue resumes it from its last checkpoint, then goes on.`,
            },
    });
  }

  /** A run of a queue item resumed outside the queue (Resume in the Runs list) ended: record it. */
  const recordOutside = (storedId: string, summary: RunSummary) => {
    const item = get().queueItems.find((i) => i.storedId === storedId && i.state !== 'running' && i.state !== 'waiting');
    if (!item) return;
    const r = get().record;
    const results = r && r.runId === summary.runId ? resultsOf(r.epochs) : { finalTestError: summary.finalTestError };
    const done: QueueItem = {
      ...fresh(item, stateForEnd(summary.end)),
      storedId,
      end: summary.end,
      ...definedOnly(results),
      message: 'Resumed outside the queue.',
    };
    const notice = get().queueNotice;
    update({
      queueItems: get().queueItems.map((i) => (i.id === item.id ? done : i)),
      queueNotice: notice?.kind === 'interrupted' && summary.end !== 'interrupted' ? undefined : notice,
    });
  };

  engine.subscribe((e: EngineEvent) => {
    switch (e.type) {
      case 'run-start':
        if (e.storedId) liveRuns.set(e.runId, e.storedId);
        if (expecting && current && current.runId === undefined) {
          expecting = false;
          current.runId = e.runId;
          current.storedId = e.storedId;
          if (e.storedId) patchItem(current.itemId, { storedId: e.storedId }); // saved: a reload knows which run to resume
        }
        return;
      case 'run-end': {
        const storedId = liveRuns.get(e.summary.runId);
        if (storedId && current?.runId !== e.summary.runId) recordOutside(storedId, e.summary);
        schedulePump(); // a manual run ended: the queue may go on
        return;
      }
      case 'data':
      case 'backend':
        schedulePump();
        return;
      default:
        return;
    }
  });

  const add = (items: QueueItem[]) => {
    const room = MAX_QUEUE_ITEMS - get().queueItems.length;
    if (items.length > room) {
      update({
        queueNotice: {
          kind: 'error',
          message: `The queue holds at most ${MAX_QUEUE_ITEMS} items: ${items.length > 1 ? `these ${items.length} were` : 'this one was'} not added.`,
        },
      });
      return;
    }
    update({ queueItems: [...get().queueItems, ...items] });
  };

  return {
    queueItems: loaded.queue.items,
    queueRunning: false,
    queueNotice: loaded.notice,
    queueSaveError: blocked ? BLOCKED : undefined,
    queueBlocked: blocked,

    queueAdd: add,
    queueAddCurrent() {
      add([makeItem(get().config, get().runOptions)]);
    },
    queueAddSeeds(n) {
      try {
        add(seedItems(get().config, n, get().runOptions));
      } catch (e) {
        update({ queueNotice: { kind: 'error', message: message(e) } });
      }
    },
    queueAddTable(tableId) {
      const table = REFERENCE_TABLES.find((t) => t.id === tableId);
      if (table) add(tableItems(table, get().config.seed, get().runOptions));
    },
    queueStart() {
      startFailures = 0;
      const notice = get().queueNotice;
      update({ queueRunning: true, queueNotice: notice && notice.kind !== 'unreadable' ? undefined : notice });
      pump();
    },
    queuePause() {
      update({ queueRunning: false });
    },
    queueRemove(id) {
      if (current?.itemId === id || itemById(id)?.state === 'running') return;
      update({ queueItems: get().queueItems.filter((i) => i.id !== id) });
    },
    queueMove(id, by) {
      const items = [...get().queueItems];
      const at = items.findIndex((i) => i.id === id);
      const to = at + by;
      if (at < 0 || to < 0 || to >= items.length) return;
      [items[at], items[to]] = [items[to]!, items[at]!];
      update({ queueItems: items });
    },
    queueRetry(id) {
      const item = itemById(id);
      if (!item || item.state === 'running' || item.state === 'waiting' || current?.itemId === id) return;
      update({ queueItems: get().queueItems.map((i) => (i.id === id ? fresh(item, 'waiting') : i)) });
    },
    queueClearFinished() {
      update({ queueItems: get().queueItems.filter((i) => !FINISHED_STATES.includes(i.state)) });
    },
    dismissQueueNotice() {
      set({ queueNotice: undefined });
    },
    queueDiscardUnreadable() {
      if (!storage) return;
      try {
        storage.removeItem(QUEUE_STORAGE_KEY);
      } catch {
        // nothing more to do: the next save says whether storage works
      }
      blocked = false;
      set({ queueBlocked: false, queueNotice: undefined });
      save();
    },
  };
}

/** "The training worker stopped unexpectedly during …" without what follows its first full stop. */
function firstSentence(text: string): string {
  const m = /^(.*?[.!?])(\s|$)/s.exec(text);
  return (m ? m[1]! : text).replace(/[.!?]$/, '');
}

/** The keys of `o` whose values are defined (so a spread does not write `undefined` over a value). */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
