// Never lose a run, end to end below the worker: a small ResNet trains with its series and checkpoints
// going into the run store (fake-indexeddb), the "tab" closes a few steps after a checkpoint, a new
// store is opened as a reloaded page would, the run is found interrupted and resumed from its stored
// checkpoint. The stored series must equal an uninterrupted run's, step for step and bit for bit.

import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/setup.ts';
import { syntheticSplit } from '../data/test-utils.ts';
import { parseConfigQueryStrict } from '../experiment/config.ts';
import { resolveExperiment } from '../train/experiment.ts';
import { Trainer, type EpochEvent, type StepEvent } from '../train/trainer.ts';
import { openRunStore, type StepPoint } from './run-store.ts';

beforeAll(async () => {
  await initBackend('wasm');
});

// 64 training images at batch 8: 8 steps an epoch, 16 in all; tests at steps 0, 8 and 16.
const QUERY = 'protocol=gcr&depth=8&batch=8&epochs=2&seed=5';
const data = { train: syntheticSplit(64, 1), test: syntheticSplit(32, 2) };
const newTrainer = () => new Trainer(resolveExperiment(parseConfigQueryStrict(QUERY)), data, { evalBatch: 16 });

describe('resume through the run store', () => {
  it('an interrupted and resumed run stores exactly the series of an uninterrupted one', async () => {
    const straight = newTrainer();
    const want: { steps: StepEvent[]; epochs: EpochEvent[] } = { steps: [], epochs: [] };
    await straight.run({ onStep: (e) => want.steps.push(e), onEpoch: (e) => want.epochs.push(e) });
    straight.dispose();
    expect(want.steps).toHaveLength(16);

    // First tab: the worker buffers steps and appends them every 4 steps and before each checkpoint.
    const dbName = 'resume-e2e';
    const tab1 = await openRunStore(dbName, { estimate: async () => undefined });
    const run = await tab1.createRun({ config: QUERY, backend: 'wasm', totalSteps: 16 });
    const a = newTrainer();
    let buffer: StepPoint[] = [];
    const writes: Promise<unknown>[] = [];
    const flush = () => {
      if (buffer.length) writes.push(tab1.appendSteps(run.id, buffer));
      buffer = [];
    };
    await a.run({
      onStep: (e) => {
        buffer.push(e);
        if (buffer.length === 4) flush();
      },
      onEpoch: (e) => void writes.push(tab1.appendEpoch(run.id, e)),
      between: async () => {
        if (a.iteration === 6) {
          flush();
          await tab1.saveCheckpoint(run.id, await a.checkpoint());
        }
        if (a.iteration === 10) {
          flush(); // steps 7..10 and the test at step 8 are stored after the checkpoint...
          await Promise.all(writes);
          return true; // ...then the tab closes without a word
        }
        return false;
      },
    });
    a.dispose();
    tab1.close();

    // The reloaded page.
    const tab2 = await openRunStore(dbName, { estimate: async () => undefined });
    const interrupted = await tab2.markInterruptedOnStartup();
    expect(interrupted.map((r) => [r.id, r.status])).toEqual([[run.id, 'interrupted']]);
    expect((await tab2.getRun(run.id)).meta.lastStep).toBe(10);

    const stored = await tab2.loadLatestCheckpoint(run.id);
    expect(stored?.step).toBe(6);
    const b = newTrainer();
    b.restore(stored!.checkpoint);
    await tab2.resumeFromCheckpoint(run.id, stored!.seq);
    const again: Promise<unknown>[] = [];
    const result = await b.run({
      onStep: (e) => void again.push(tab2.appendSteps(run.id, [e])),
      onEpoch: (e) => void again.push(tab2.appendEpoch(run.id, e)),
    });
    await Promise.all(again);
    await tab2.setStatus(run.id, 'finished', { finalTestError: result.finalTestError });
    b.dispose();

    const { meta, steps, epochs } = await tab2.getRun(run.id);
    expect(meta.status).toBe('finished');
    expect(Array.from(steps.step)).toEqual(want.steps.map((s) => s.step));
    expect(Array.from(steps.loss)).toEqual(want.steps.map((s) => s.loss));
    expect(Array.from(steps.lr)).toEqual(want.steps.map((s) => s.lr));
    expect(Array.from(steps.trainError)).toEqual(want.steps.map((s) => s.trainError));
    expect(Array.from(steps.epoch)).toEqual(want.steps.map((s) => s.epochFloat));
    expect(epochs).toEqual(want.epochs);
    expect(meta.finalTestError).toBe(want.epochs[want.epochs.length - 1].testError);
    expect(meta.bestTestError).toBe(Math.min(...want.epochs.map((e) => e.testError)));
    tab2.close();
  });
});
