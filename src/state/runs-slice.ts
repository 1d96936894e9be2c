// The store slice of the run history on the page (issue 5): the Runs list (every run the worker
// recorded in IndexedDB, src/storage), opening one to re-plot it, rename, delete with undo, Resume for
// an interrupted run, and what the page must say when something went wrong: a storage write that
// failed (with the runs to delete when space is short), the training worker that died or lost its GPU
// device (the run is marked interrupted, a new worker is started), a background tab the browser slowed.
//
// The worker writes the history; the page reads it, and writes only what the user asks (rename,
// delete) and what the worker no longer can (a dead worker's run -> 'interrupted'). A worker holds a
// Web Lock per run it trains (src/storage/locks.ts); the page waits on that lock to learn when the
// worker let go, and finds out from the stored status whether it ended the run or died.
// While a run trains, its row shows the page's own record (steps, test error: liveProgress) and the
// list is read again at most every RUNS_REFRESH_MS (the worker stores steps in chunks; sizes grow).
// Joined into the page's one store by src/state/store.ts; listens to the engine's events itself.

import type { StoreApi } from 'zustand/vanilla';
import { runLockName } from '../storage/locks.ts';
import type { RunDetail, RunStore } from '../storage/run-store.ts';
import type { RunMeta } from '../storage/schema.ts';
import { requestPersistentStorage } from '../storage/space.ts';
import { LossSmoother } from './curves.ts';
import { configFromQuery } from '../experiment/config.ts';
import type { LabState, RunRecord, RunsSlice } from './lab-state.ts';
import { throttleReport } from './throttle.ts';
import type { EngineEvent, LabEngine, RunEnd } from '../worker/protocol.ts';

/** How the page learns that whoever trained a run has let go of it (resolves when its lock is free). */
export type WaitForRunLock = (storedId: string) => Promise<void>;

export interface RunsOptions {
  /** Opens the run history (IndexedDB); without it the Runs list stays empty. */
  openHistory?: () => Promise<RunStore>;
  /** Default: the Web Locks API; never resolves where it is missing. */
  waitForRunLock?: WaitForRunLock;
  /** Before deciding a worker died, wait this long for its last messages (ms). */
  deathGraceMs?: number;
}

type Set = StoreApi<LabState>['setState'];
type Get = StoreApi<LabState>['getState'];

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
/** While a run trains, the list is read from IndexedDB at most this often (ms). */
export const RUNS_REFRESH_MS = 5000;
const ACTIVE = new Set(['running', 'paused']);
/** Statuses a run can be continued from, when it has a checkpoint. */
const RESUMABLE = new Set(['interrupted', 'stopped', 'failed']);

export function canResume(meta: RunMeta): boolean {
  return RESUMABLE.has(meta.status) && meta.checkpoints.length > 0 && meta.deletedAt === undefined;
}

interface LockManagerLike {
  request(name: string, options: { mode: 'exclusive' }, callback: () => Promise<void> | void): Promise<void>;
}

/** Waits for the run's Web Lock (then lets go at once); never resolves without Web Locks. */
export const browserWaitForRunLock: WaitForRunLock = (storedId) => {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  if (!locks) return new Promise(() => {});
  return locks.request(runLockName(storedId), { mode: 'exclusive' }, () => undefined);
};

/** The record of the run this page trains (or trained last), when it is the stored run `storedId`. */
export function liveRecordFor(s: Pick<LabState, 'record' | 'liveStoredId' | 'shownRun'>, storedId: string): RunRecord | undefined {
  const r = s.record;
  return r && r.runId > 0 && s.shownRun === undefined && s.liveStoredId === storedId ? r : undefined;
}

export interface LiveProgress {
  lastStep: number;
  /** The latest evaluation's test error. */
  testError?: number;
  bestTestError?: number;
}

/**
 * A training run's row from the page's record, which is ahead of the stored meta (steps are stored in
 * chunks, the list read now and then): the later step, the latest and the lowest test error.
 */
export function liveProgress(meta: RunMeta, record: RunRecord): LiveProgress {
  const lastStep = Math.max(meta.lastStep, record.steps[record.steps.length - 1]?.step ?? 0);
  let best = meta.bestTestError;
  for (const e of record.epochs) if (Number.isFinite(e.testError) && (best === undefined || e.testError < best)) best = e.testError;
  return { lastStep, testError: record.epochs[record.epochs.length - 1]?.testError ?? meta.finalTestError, bestTestError: best };
}

/** A stored run as the record the charts draw (runId negative: never a live run's). */
export function recordFromStored(detail: RunDetail, runId: number): RunRecord {
  const { meta, steps: s, epochs } = detail;
  const q = configFromQuery(meta.config); // the stored record's query string
  const smoother = new LossSmoother();
  const steps = [];
  const smoothed = [];
  for (let i = 0; i < s.step.length; i++) {
    steps.push({ step: s.step[i], epoch: s.epoch[i], lr: s.lr[i], loss: s.loss[i], trainError: s.trainError[i], ms: s.ms[i] });
    smoothed.push(smoother.push(s.loss[i]));
  }
  const trainImages = meta.trainImages ?? 50_000;
  const stepsPerEpoch = trainImages / q.batch;
  return {
    runId,
    config: q,
    totalSteps: meta.totalSteps ?? Math.ceil(q.epochs * stepsPerEpoch),
    stepsPerEpoch,
    batch: q.batch,
    backend: meta.backend as RunRecord['backend'],
    steps,
    smoothed,
    epochs: epochs.map((e) => ({
      epoch: e.epoch,
      step: e.step,
      testError: e.testError,
      evaluated: e.evaluated ?? meta.evalLimit ?? 10_000,
    })),
    smoother,
  };
}

/** What a stored status reads as in the run panel. */
function endOf(meta: RunMeta): RunEnd {
  switch (meta.status) {
    case 'finished':
    case 'stopped':
    case 'diverged':
    case 'max-steps':
    case 'failed':
    case 'interrupted':
      return meta.status;
    default:
      return 'interrupted'; // 'running'/'paused' in another tab: a snapshot
  }
}

export function runsSlice(set: Set, get: Get, engine: LabEngine, options: RunsOptions = {}): RunsSlice {
  const waitForRunLock = options.waitForRunLock ?? browserWaitForRunLock;
  const grace = options.deathGraceMs ?? 1000;
  let history: Promise<RunStore | undefined> | undefined;
  let shownIds = 0;
  /** Runs whose lock the page waits on. */
  const watched = new Set<string>();
  /** Live runs (by engine runId) whose run-end arrived. */
  const ended = new Set<number>();
  let live: { runId: number; storedId?: string } | undefined;
  let hiddenAt: number | undefined;
  let persistAsked = false;

  const db = (): Promise<RunStore | undefined> => {
    if (!history) {
      const open = options.openHistory;
      history = open
        ? open().then(
            (s) => s,
            (e: unknown) => {
              set({ runsState: 'off', runsError: message(e) });
              return undefined;
            },
          )
        : Promise.resolve(undefined);
    }
    return history;
  };

  let listing = 0;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  const refreshSoon = () => {
    refreshTimer ??= setTimeout(() => {
      refreshTimer = undefined;
      void refresh();
    }, RUNS_REFRESH_MS);
  };
  const refresh = async () => {
    const store = await db();
    if (!store) return;
    const mine = ++listing;
    try {
      const runs = await store.listRuns();
      if (mine === listing) set({ runs, runsState: 'ready' }); // a later listing may have started after a write
    } catch (e) {
      set({ runsError: message(e) });
    }
  };

  /** The run's worker let go of it: if the run is still 'running'/'paused', nobody will end it. */
  const watch = (storedId: string) => {
    if (watched.has(storedId)) return;
    watched.add(storedId);
    void waitForRunLock(storedId).then(async () => {
      watched.delete(storedId);
      const store = await db();
      if (!store) return;
      const ownRun = live?.storedId === storedId ? live : undefined;
      if (ownRun) await new Promise((r) => setTimeout(r, grace)); // its last messages may still be on their way
      let meta: RunMeta;
      try {
        meta = await store.getMeta(storedId);
      } catch {
        return;
      }
      if (!ACTIVE.has(meta.status)) return void refresh();
      if (ownRun && ended.has(ownRun.runId)) return void refresh(); // it ended; its last write failed
      try {
        meta = await store.setStatus(storedId, 'interrupted');
      } catch (e) {
        set({ runsError: message(e) });
      }
      if (ownRun) workerDied(ownRun.runId, meta);
      await refresh();
    });
  };

  /** Our worker stopped without ending its run: say so, start a new worker, load backend and data again. */
  const workerDied = (runId: number, meta: RunMeta) => {
    const s = get();
    const ckpt = meta.checkpoints[0];
    const saved = ckpt
      ? `The run is saved up to its last checkpoint (step ${ckpt.step.toLocaleString('en-US')}): Resume continues from there.`
      : 'It had no checkpoint yet, so it cannot be resumed.';
    const text = `The training worker stopped unexpectedly during “${meta.name}” (the browser may have run out of memory or closed it). ${saved} A new worker has been started.`;
    if (s.record?.runId === runId && (s.phase === 'running' || s.phase === 'paused' || s.phase === 'starting')) {
      set({
        phase: 'ended',
        summary: { runId, end: 'interrupted', steps: s.record.steps[s.record.steps.length - 1]?.step ?? 0, message: text },
      });
    }
    set({ runNotice: { kind: 'interrupted', message: text } });
    restartWorker(text);
  };

  const restartWorker = (reason: string) => {
    if (!engine.restart?.(reason)) return;
    const s = get();
    void s.chooseBackend(s.backendChoice, s.backend && s.backendChoice === 'auto' ? s.backend : undefined);
    void s.loadData({ kind: 'served' });
  };

  engine.subscribe((e: EngineEvent) => {
    switch (e.type) {
      case 'run-start':
        live = { runId: e.runId, storedId: e.storedId };
        set({ liveStoredId: e.storedId, shownRun: undefined, lastCheckpoint: undefined, runNotice: undefined });
        if (!persistAsked) {
          persistAsked = true;
          void requestPersistentStorage();
        }
        if (e.storedId) watch(e.storedId);
        void refresh();
        return;
      case 'run-history': {
        // A resumed run's series so far, right after its run-start (the store's handler made the record).
        const r = get().record;
        if (!r || r.runId !== e.runId) return;
        for (const p of e.steps) {
          r.steps.push(p);
          r.smoothed.push(r.smoother.push(p.loss));
        }
        r.epochs.push(...e.epochs);
        set((s) => ({ revision: s.revision + 1 }));
        return;
      }
      case 'steps':
      case 'epoch':
        refreshSoon();
        return;
      case 'checkpoint':
        set({ lastCheckpoint: { storedId: e.storedId, step: e.step, at: Date.now(), tensors: e.tensors } });
        void refresh();
        return;
      case 'storage-problem':
        set({ storageProblem: { message: e.message, largestRuns: e.largestRuns ?? [] } });
        return;
      case 'run-end':
        ended.add(e.summary.runId);
        if (e.summary.end === 'interrupted') {
          set({
            runNotice: {
              kind: 'interrupted',
              message: `${e.summary.message ?? 'The run was interrupted.'} A new worker has been started.`,
            },
          });
          restartWorker(e.summary.message ?? 'interrupted');
        }
        void refresh();
        return;
      case 'run-state':
        void refresh();
        return;
      default:
        return;
    }
  });

  // Start-up: forget runs deleted earlier, mark the runs abandoned by a closed tab as interrupted,
  // list them; runs another context still trains are watched until it lets go.
  void (async () => {
    const store = await db();
    if (!store) {
      if (!options.openHistory) set({ runsState: 'off', runsError: 'Runs are not saved here.' });
      return;
    }
    try {
      await store.purgeDeleted();
      await store.markInterruptedOnStartup();
    } catch (e) {
      set({ runsError: message(e) });
    }
    await refresh();
    for (const r of get().runs) if (ACTIVE.has(r.status)) watch(r.id);
  })();

  const withStore = async (work: (store: RunStore) => Promise<void>) => {
    const store = await db();
    if (!store) return;
    try {
      await work(store);
      set({ runsError: undefined });
    } catch (e) {
      set({ runsError: message(e) });
    }
    await refresh();
  };

  const busy = () => {
    const p = get().phase;
    return p === 'starting' || p === 'running' || p === 'paused';
  };

  return {
    runs: [],
    runsState: 'loading',

    refreshRuns: refresh,

    async withHistory(work) {
      const store = await db();
      if (!store) return undefined;
      try {
        return await work(store);
      } finally {
        await refresh();
      }
    },

    async openRun(storedId) {
      if (busy()) {
        set({ runsError: 'A run is training: pause is not enough, stop it (or wait for it to end) before opening another run.' });
        return;
      }
      await withStore(async (store) => {
        const detail = await store.getRun(storedId);
        const record = recordFromStored(detail, -++shownIds);
        const m = detail.meta;
        set((s) => ({
          record,
          shownRun: m,
          phase: 'ended',
          summary: {
            runId: record.runId,
            end: endOf(m),
            steps: m.lastStep,
            finalTestError: m.finalTestError,
            message: m.divergedAt
              ? `Diverged at step ${m.divergedAt.step} (learning rate ${m.divergedAt.lr}, loss ${m.divergedAt.loss}).`
              : undefined,
          },
          revision: s.revision + 1,
          config: configFromQuery(m.config), // the stored record's query string
        }));
      });
    },

    async renameRun(storedId, name) {
      await withStore(async (store) => {
        const meta = await store.renameRun(storedId, name);
        if (get().shownRun?.id === storedId) set({ shownRun: meta });
      });
    },

    async deleteRun(storedId) {
      await withStore(async (store) => {
        const meta = await store.getMeta(storedId);
        const previous = get().undo;
        if (previous) await store.purgeDeleted(); // one undo at a time: the earlier deletion is final now
        const token = await store.deleteRun(storedId);
        set({ undo: { token, name: meta.name } });
      });
    },

    async undoDelete() {
      const u = get().undo;
      if (!u) return;
      await withStore(async (store) => {
        await store.undoDelete(u.token);
        set({ undo: undefined });
      });
    },

    async forgetDeleted() {
      set({ undo: undefined });
      await withStore(async (store) => {
        await store.purgeDeleted();
      });
    },

    async resumeRun(storedId) {
      if (busy()) return;
      const meta = get().runs.find((r) => r.id === storedId);
      if (meta) get().setConfig(configFromQuery(meta.config)); // the stored record's query string
      set((s) => ({
        phase: 'starting',
        summary: undefined,
        shownRun: undefined,
        runNotice: undefined,
        errors: { ...s.errors, train: undefined },
      }));
      try {
        const summary = await engine.continueRun(storedId, { checkpointEvery: get().runOptions.checkpointEvery });
        set({ summary, phase: 'ended' });
      } catch (e) {
        set((s) => ({ phase: s.record ? 'ended' : 'idle', errors: { ...s.errors, train: message(e) } }));
      }
      await refresh();
    },

    dismissStorageProblem() {
      set({ storageProblem: undefined });
    },
    dismissRunNotice() {
      set({ runNotice: undefined });
    },

    tabHidden() {
      const r = get().record;
      hiddenAt = r && get().phase === 'running' ? (r.steps[r.steps.length - 1]?.step ?? 0) : undefined;
    },
    tabVisible() {
      const from = hiddenAt;
      hiddenAt = undefined;
      const r = get().record;
      if (from === undefined || !r) return;
      const report = throttleReport(r.steps, from, r.steps[r.steps.length - 1]?.step ?? 0);
      if (report) set({ runNotice: { kind: report.throttled ? 'throttled' : 'info', message: report.message } });
    },
  };
}
