// The Runs list while a run trains: its row from the page's record (liveRecordFor, liveProgress), and
// the list read again from the history at most every RUNS_REFRESH_MS however many step events arrive.
// A fake engine and a fake history; the real ones are tested in runs-slice.test.ts.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStore } from 'zustand/vanilla';
import type { RunStore } from '../storage/run-store.ts';
import type { RunMeta } from '../storage/schema.ts';
import { LossSmoother } from './curves.ts';
import type { EngineEvent, LabEngine } from '../worker/protocol.ts';
import { liveProgress, liveRecordFor, RUNS_REFRESH_MS, runsSlice } from './runs-slice.ts';
import type { LabState, RunRecord } from './store.ts';
import { configFromQuery } from '../experiment/config.ts';

function meta(over: Partial<RunMeta> = {}): RunMeta {
  return {
    id: 'r1',
    name: 'run',
    status: 'running',
    lastStep: 0,
    checkpoints: [],
    sizes: { series: 0, checkpoints: 0, weights: 0 },
    ...over,
  } as RunMeta;
}

function record(steps: number, tests: number[], runId = 1): RunRecord {
  return {
    runId,
    config: configFromQuery('depth=8'),
    totalSteps: 78_125,
    stepsPerEpoch: 390.625,
    batch: 128,
    backend: 'wasm',
    steps: Array.from({ length: steps }, (_, i) => ({ step: i + 1, epoch: (i + 1) / 390.625, lr: 0.1, loss: 2, trainError: 0.9, ms: i })),
    smoothed: [],
    epochs: tests.map((testError, i) => ({ epoch: i, step: Math.round(i * 390.625), testError, evaluated: 100 })),
    smoother: new LossSmoother(),
  };
}

describe('liveProgress', () => {
  it("takes the record's last step and test errors while the stored meta lags", () => {
    expect(liveProgress(meta({ lastStep: 0 }), record(205, [0.9]))).toEqual({ lastStep: 205, testError: 0.9, bestTestError: 0.9 });
    expect(liveProgress(meta({ lastStep: 100, bestTestError: 0.5 }), record(150, [0.9, 0.6]))).toEqual({
      lastStep: 150,
      testError: 0.6,
      bestTestError: 0.5,
    });
  });
  it('never goes back when the stored meta is ahead', () => {
    expect(liveProgress(meta({ lastStep: 300, finalTestError: 0.4, bestTestError: 0.4 }), record(0, []))).toEqual({
      lastStep: 300,
      testError: 0.4,
      bestTestError: 0.4,
    });
  });
});

describe('liveRecordFor', () => {
  const r = record(10, []);
  it("is the page's live record for its stored run only", () => {
    expect(liveRecordFor({ record: r, liveStoredId: 'r1', shownRun: undefined }, 'r1')).toBe(r);
    expect(liveRecordFor({ record: r, liveStoredId: 'r1', shownRun: undefined }, 'r2')).toBeUndefined();
    expect(liveRecordFor({ record: r, liveStoredId: 'r1', shownRun: meta() }, 'r1')).toBeUndefined(); // a stored run is shown
    expect(liveRecordFor({ record: record(10, [], -1), liveStoredId: 'r1', shownRun: undefined }, 'r1')).toBeUndefined();
    expect(liveRecordFor({ record: undefined, liveStoredId: 'r1', shownRun: undefined }, 'r1')).toBeUndefined();
  });
});

describe('the list while a run trains', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is read again at most every RUNS_REFRESH_MS, not on every step', async () => {
    vi.useFakeTimers();
    let listings = 0;
    let stored = meta();
    const history = {
      purgeDeleted: async () => [],
      markInterruptedOnStartup: async () => [],
      listRuns: async () => {
        listings++;
        return [stored];
      },
    } as unknown as RunStore;
    const listeners: ((e: EngineEvent) => void)[] = [];
    const engine = { subscribe: (l: (e: EngineEvent) => void) => (listeners.push(l), () => {}) } as unknown as LabEngine;
    const emit = (e: EngineEvent) => listeners.forEach((l) => l(e));
    const store = createStore<LabState>()(
      (set, get) =>
        ({ ...runsSlice(set, get, engine, { openHistory: async () => history, waitForRunLock: () => new Promise(() => {}) }) }) as LabState,
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(store.getState().runsState).toBe('ready');
    const before = listings;

    // Ten seconds of steps (one event every 50 ms), and an evaluation.
    for (let i = 0; i < 200; i++) {
      emit({ type: 'steps', runId: 1, points: [{ step: i + 1, epoch: (i + 1) / 390.625, lr: 0.1, loss: 2, trainError: 0.9, ms: i }] });
      if (i === 100) emit({ type: 'epoch', runId: 1, point: { epoch: 0, step: 0, testError: 0.9, evaluated: 100 } });
      stored = meta({ lastStep: i + 1 });
      await vi.advanceTimersByTimeAsync(50);
    }
    const during = listings - before;
    expect(during).toBeGreaterThanOrEqual(1);
    expect(during).toBeLessThanOrEqual(Math.ceil((200 * 50) / RUNS_REFRESH_MS));
    await vi.advanceTimersByTimeAsync(RUNS_REFRESH_MS);
    expect(store.getState().runs[0].lastStep).toBe(200);
  });
});
