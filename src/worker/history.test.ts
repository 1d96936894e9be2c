// The engine records every run in the run history (fake-indexeddb, in memory) and continues an
// interrupted one from its checkpoint, on the real wasm backend with the demo sample (500 + 200
// CIFAR-10 images): what a run stores, a "tab" that dies after a checkpoint and a reloaded page that
// resumes it to exactly the losses of the uninterrupted run, a diverged run kept with its step and
// learning rate, a short quota reported while training goes on, and checkpoints on the wall clock.

import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/setup.ts';
import { formatConfigQuery, protocolDefaults, type ExperimentConfig } from '../experiment/config.ts';
import { openRunStore, type RunStore } from '../storage/run-store.ts';
import { Engine, type EngineHost } from './engine.ts';
import { CHECKPOINT_INTERVAL_MS, RunHistory } from './history.ts';
import type { EngineEvent, StepPoint } from './protocol.ts';
import { Trainer } from '../train/trainer.ts';
import { resolveExperiment } from '../train/experiment.ts';
import { syntheticSplit } from '../data/test-utils.ts';
import { nodeHost } from './node-host.ts';
import type { EstimateFn } from '../storage/space.ts';

let dbCount = 0;

/** A Node host whose run history is a fresh in-memory IndexedDB; `opened` collects the stores it hands out. */
function hostWith(dbName: string, estimate?: EstimateFn): { host: EngineHost; opened: RunStore[] } {
  const host = nodeHost({ history: dbName, estimate });
  return { host, opened: host.opened };
}

async function engineOn(host: EngineHost): Promise<{ engine: Engine; events: EngineEvent[] }> {
  const engine = new Engine(host);
  const events: EngineEvent[] = [];
  engine.subscribe((e) => events.push(e));
  await engine.setBackend('wasm');
  await engine.loadData({ kind: 'demo' });
  return { engine, events };
}

const query = (over: Partial<ExperimentConfig> = {}): ExperimentConfig => ({
  ...protocolDefaults('gcr'),
  depth: 8,
  batch: 8,
  epochs: 1,
  seed: 11,
  ...over,
});
const stepsOf = (events: EngineEvent[]) => events.flatMap((e) => (e.type === 'steps' ? e.points : []));
const ofType = <T extends EngineEvent['type']>(events: EngineEvent[], type: T) =>
  events.filter((e) => e.type === type) as Extract<EngineEvent, { type: T }>[];

beforeAll(async () => {
  await initBackend('wasm');
});

describe('recording runs', () => {
  it('stores configuration, seed, backend, times, status, the whole series, best and final error, and the final weights', async () => {
    const { host } = hostWith(`history-${++dbCount}`);
    const { engine, events } = await engineOn(host);
    const summary = await engine.train(query({ epochs: 2 }), { maxSteps: 70, evalLimit: 40, checkpointEvery: 25 });
    expect(summary.end).toBe('max-steps');
    const start = ofType(events, 'run-start')[0];
    expect(start.storedId).toMatch(/^run-/);
    // 500 images at batch 8: an epoch ends at step 62.5 -> 63; checkpoints at 25, 50, 63 (epoch end).
    expect(ofType(events, 'checkpoint').map((e) => e.step)).toEqual([25, 50, 63]);
    expect(ofType(events, 'storage-problem')).toEqual([]);

    const store = await host.openRunStore!();
    const { meta, steps, epochs } = await store.getRun(start.storedId!);
    expect(meta).toMatchObject({
      config: formatConfigQuery(query({ epochs: 2 })),
      seed: 11,
      backend: 'wasm',
      status: 'max-steps',
      totalSteps: 70,
      trainImages: 500,
      maxSteps: 70,
      evalLimit: 40,
      lastStep: 70,
    });
    expect(meta.endedAt).toBeGreaterThanOrEqual(meta.startedAt);
    expect(meta.elapsedMs).toBeGreaterThan(0);
    expect(meta.imagesPerSec).toBeGreaterThan(0);
    const sent = stepsOf(events);
    expect(Array.from(steps.step)).toEqual(sent.map((p) => p.step));
    expect(Array.from(steps.loss)).toEqual(sent.map((p) => Math.fround(p.loss)));
    expect(Array.from(steps.lr)).toEqual(sent.map((p) => p.lr));
    expect(Array.from(steps.ms)).toEqual(sent.map((p) => p.ms));
    const sentEpochs = ofType(events, 'epoch').map((e) => e.point);
    expect(epochs).toEqual(sentEpochs);
    expect(meta.finalTestError).toBe(summary.finalTestError);
    expect(meta.bestTestError).toBe(Math.min(...sentEpochs.map((e) => e.testError)));
    // Final weights as .safetensors (what a run bundle carries); a run that reached its end keeps no checkpoints.
    const weights = await store.loadFinalWeights(meta.id);
    expect(weights?.format).toBe('safetensors');
    expect(weights && 'bytes' in weights ? weights.bytes : undefined).toEqual((await engine.exportWeights()).safetensors);
    expect(meta.checkpoints).toEqual([]);
    store.close();
  });

  it('a run whose tab dies after a checkpoint is resumed by a reloaded page to exactly the uninterrupted losses', async () => {
    const dbName = `history-${++dbCount}`;
    // First tab: trains 40 steps straight, but its history connection goes away after the checkpoint
    // at step 15, so IndexedDB keeps a run "running" with its series up to about there.
    const first = hostWith(dbName);
    const tab1 = await engineOn(first.host);
    const off = tab1.engine.subscribe((e) => {
      if (e.type === 'checkpoint' && e.step === 15) first.opened.forEach((s) => s.close());
    });
    const straight = await tab1.engine.train(query(), { maxSteps: 40, evalLimit: 40, checkpointEvery: 15 });
    off();
    expect(straight.end).toBe('max-steps');
    const want = stepsOf(tab1.events);
    expect(want).toHaveLength(40);
    expect(ofType(tab1.events, 'storage-problem').length).toBeGreaterThan(0); // reported, training went on

    // The reloaded page: the abandoned run is interrupted and has its checkpoint at step 15.
    const second = hostWith(dbName);
    const page = await second.host.openRunStore!();
    const [interrupted] = await page.markInterruptedOnStartup();
    expect(interrupted).toMatchObject({ status: 'interrupted' });
    expect(interrupted.checkpoints[0].step).toBe(15);

    const tab2 = await engineOn(second.host);
    const resumed = await tab2.engine.continueRun(interrupted.id, { checkpointEvery: 15 });
    expect(resumed).toMatchObject({ end: 'max-steps', steps: 40 });
    const start = ofType(tab2.events, 'run-start')[0];
    expect(start).toMatchObject({ storedId: interrupted.id, resumedFrom: 15, totalSteps: 40 });
    const history = ofType(tab2.events, 'run-history')[0];
    expect(history.steps.map((p) => p.step)).toEqual(want.slice(0, 15).map((p) => p.step));
    expect(history.epochs.map((e) => e.step)).toEqual([0]);
    // The continued steps are the uninterrupted run's, bit for bit.
    const again = stepsOf(tab2.events);
    expect(again.map((p) => p.step)).toEqual(want.slice(15).map((p) => p.step));
    expect(again.map((p) => p.loss)).toEqual(want.slice(15).map((p) => p.loss));
    expect(again.map((p) => p.trainError)).toEqual(want.slice(15).map((p) => p.trainError));
    expect(resumed.finalTestError).toBe(straight.finalTestError);
    // Training time goes on from the checkpoint's.
    expect(again[0].ms).toBeGreaterThanOrEqual(history.steps[14].ms);

    const { meta, steps } = await page.getRun(interrupted.id);
    expect(meta.status).toBe('max-steps');
    expect(Array.from(steps.loss)).toEqual(want.map((p) => Math.fround(p.loss)));
    page.close();
  });

  it('refuses to resume a run with no checkpoint, or one trained on other data, with the reason', async () => {
    const { host } = hostWith(`history-${++dbCount}`);
    const { engine } = await engineOn(host);
    const store = await host.openRunStore!();
    const none = await store.createRun({ config: formatConfigQuery(query()), backend: 'wasm', trainImages: 500, status: 'interrupted' });
    await expect(engine.continueRun(none.id, {})).rejects.toThrow(/has no checkpoint/);
    const other = await store.createRun({
      config: formatConfigQuery(query()),
      backend: 'wasm',
      trainImages: 50_000,
      status: 'interrupted',
    });
    const t = new Trainer(resolveExperiment(protocolDefaultsQuery()), { train: syntheticSplit(16, 1), test: syntheticSplit(8, 2) });
    await store.saveCheckpoint(other.id, await t.checkpoint().then((c) => ({ ...c, iteration: 1 })));
    t.dispose();
    await expect(engine.continueRun(other.id, {})).rejects.toThrow(/50,000 images an epoch.*has 500/);
    await expect(engine.continueRun('run-nope', {})).rejects.toThrow(/No stored run/);
    // Nothing was left claimed: a normal run still starts.
    expect((await engine.train(query(), { maxSteps: 2, evalLimit: 8 })).end).toBe('max-steps');
    store.close();
  });

  it('a diverging run is stored as diverged with its step and learning rate, its series kept, no weights', async () => {
    const { host } = hostWith(`history-${++dbCount}`);
    const { engine, events } = await engineOn(host);
    const summary = await engine.train(query({ lr: 10, wd: 1, schedule: { kind: 'constant' } }), { maxSteps: 60, evalLimit: 8 });
    expect(summary.end).toBe('diverged');
    const storedId = ofType(events, 'run-start')[0].storedId!;
    const store = await host.openRunStore!();
    const { meta, steps } = await store.getRun(storedId);
    expect(meta.status).toBe('diverged');
    expect(meta.divergedAt?.lr).toBe(10);
    expect(meta.divergedAt?.step).toBe(stepsOf(events).length + 1);
    expect(Number.isFinite(meta.divergedAt?.loss)).toBe(false);
    expect(steps.step.length).toBe(stepsOf(events).length);
    expect(await store.loadFinalWeights(storedId)).toBeUndefined();
    store.close();
  });

  it('a short quota is reported with the largest runs and training goes on; the previous checkpoint stays', async () => {
    let quota = 1e12;
    const { host } = hostWith(`history-${++dbCount}`, async () => ({ usage: 5e6, quota }));
    const { engine, events } = await engineOn(host);
    const off = engine.subscribe((e) => {
      if (e.type === 'checkpoint') quota = 5e6 + 1000; // after the first checkpoint the disk is "full"
    });
    const summary = await engine.train(query(), { maxSteps: 30, evalLimit: 8, checkpointEvery: 10 });
    off();
    expect(summary).toMatchObject({ end: 'max-steps', steps: 30 });
    expect(ofType(events, 'checkpoint').map((e) => e.step)).toEqual([10]);
    const problems = ofType(events, 'storage-problem');
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatchObject({ name: 'StorageQuotaError' });
    expect(problems[0].message).toMatch(/Not enough storage space to save the checkpoint.*Delete runs/);
    expect(problems[0].largestRuns?.[0].name).toMatch(/ResNet-8 gcr/);
    const store = await host.openRunStore!();
    const meta = await store.getMeta(ofType(events, 'run-start')[0].storedId!);
    expect(meta.lastStep).toBe(30); // the series is small and still stored
    expect(meta.status).toBe('max-steps');
    store.close();
  });
});

function protocolDefaultsQuery() {
  return { ...protocolDefaults('gcr'), depth: 8, batch: 8, epochs: 1, seed: 11 } as ExperimentConfig;
}

describe('RunRecorder checkpoints on the wall clock', () => {
  it('is due every CHECKPOINT_INTERVAL_MS, at epoch ends, and only when every step so far was reported', async () => {
    const store = await openRunStore(`history-${++dbCount}`, { estimate: async () => undefined });
    let now = 1_000_000;
    const events: EngineEvent[] = [];
    const history = new RunHistory(
      async () => store,
      (e) => events.push(e),
    );
    const rec = (await history.begin(1, { config: formatConfigQuery(query()), backend: 'wasm' }, { now: () => now }))!;
    const point = (step: number): StepPoint => ({ step, epoch: step / 100, lr: 0.1, loss: 2, trainError: 0.9, ms: step });
    rec.step(point(1));
    expect(rec.checkpointDue(1)).toBe(false);
    now += CHECKPOINT_INTERVAL_MS;
    expect(rec.checkpointDue(2)).toBe(false); // step 2 not reported yet (a GPU backend reads losses in groups)
    rec.step(point(2));
    expect(rec.checkpointDue(2)).toBe(true);
    const trainer = new Trainer(resolveExperiment(protocolDefaultsQuery()), { train: syntheticSplit(16, 1), test: syntheticSplit(8, 2) });
    trainer.iteration = 2;
    await rec.checkpoint(trainer, { elapsedMs: 2 });
    await rec.settled();
    expect(events.filter((e) => e.type === 'checkpoint')).toHaveLength(1);
    rec.step(point(3));
    expect(rec.checkpointDue(3)).toBe(false);
    rec.epoch({ epoch: 0.03, step: 3, testError: 0.5, evaluated: 8 });
    expect(rec.checkpointDue(3)).toBe(true);
    trainer.dispose();
    await rec.finish('stopped', { clock: { elapsedMs: 3 } });
    expect((await store.getMeta(rec.storedId)).checkpoints.map((c) => c.step)).toEqual([2]);
    store.close();
  });
});
