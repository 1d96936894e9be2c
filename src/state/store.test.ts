// The page's store, connected to the real engine (wasm, demo sample) in Node: configuration edits as
// the controls make them, a run recorded step by step with far fewer renders than steps, and the live
// status computed from the record.
import { beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../worker/engine.ts';
import { LossSmoother } from './curves.ts';
import { createLabStore, liveStatus, type RunRecord } from './store.ts';
import { nodeHost } from '../worker/node-host.ts';
import { configFromQuery } from '../experiment/config.ts';

function engine(): Engine {
  return new Engine(nodeHost());
}

describe('configuration slice', () => {
  it('reads the URL, names its problems, and keeps valid keys', () => {
    const store = createLabStore(engine(), '?depth=56&seed=9&lr=zero&colour=red');
    const s = store.getState();
    expect(s.config).toMatchObject({ depth: 56, seed: 9, lr: 0.1, protocol: 'gcr' });
    expect(s.urlIssues.map((i) => i.key).sort()).toEqual(['colour', 'lr']);
    s.dismissUrlIssues();
    expect(store.getState().urlIssues).toEqual([]);
  });

  it('a new solver brings its defaults except what the user changed; a protocol keeps the changes', () => {
    const store = createLabStore(engine(), '');
    store.getState().setField('solver', 'rmsprop');
    expect(store.getState().config).toMatchObject({ solver: 'rmsprop', lr: 0.01, wd: 0 });
    store.getState().setField('lr', 0.003);
    store.getState().setField('solver', 'adagrad');
    expect(store.getState().config).toMatchObject({ solver: 'adagrad', lr: 0.003, wd: 0 });
    store.getState().setField('depth', 110);
    store.getState().setProtocol('neon');
    expect(store.getState().config).toMatchObject({
      protocol: 'neon',
      depth: 110,
      solver: 'adagrad',
      lr: 0.003,
      shortcut: 'neon',
      epochs: 180,
    });
  });
});

describe('run slice with the engine', () => {
  const store = createLabStore(engine(), '?depth=8&batch=16&epochs=3&seed=2');
  beforeAll(async () => {
    await store.getState().chooseBackend('wasm');
    await store.getState().loadData({ kind: 'demo' });
    expect(store.getState().data?.kind).toBe('demo');
  });

  it('records every step and epoch but renders a few times only', async () => {
    let renders = 0;
    store.subscribe((s, prev) => {
      if (s.revision !== prev.revision) renders++;
    });
    store.getState().setRunOptions({ maxSteps: 40, evalLimit: 50 });
    await store.getState().train();
    const s = store.getState();
    expect(s.phase).toBe('ended');
    expect(s.summary).toMatchObject({ end: 'max-steps', steps: 40 });
    expect(s.record!.steps.map((p) => p.step)).toEqual([...Array(40).keys()].map((i) => i + 1));
    expect(s.record!.smoothed).toHaveLength(40);
    expect(s.record!.epochs.map((e) => e.step)).toEqual([0, 32, 40]); // before training, epoch 1 (512 images), the last step
    expect(renders).toBeLessThan(40);
    const status = liveStatus(s.record!);
    expect(status).toMatchObject({ step: 40, totalSteps: 40, runFraction: 1, lr: 0.1 });
    expect(status.imagesPerSecond).toBeGreaterThan(0);
    expect(status.lastTestError).toBe(s.summary!.finalTestError);
  });

  it('prepares weights after the run and reports a refused load as an error', async () => {
    await store.getState().prepareWeights();
    expect(store.getState().weightFiles?.steps).toBe(40);
    await store.getState().loadWeights([new File(['{}'], 'model.json')]);
    expect(store.getState().errors.weights).toMatch(/no weightsManifest/);
  });
});

describe('liveStatus', () => {
  const record = (points: { step: number; ms: number }[]): RunRecord => ({
    runId: 1,
    config: configFromQuery(''),
    totalSteps: 1000,
    stepsPerEpoch: 100,
    batch: 128,
    backend: 'wasm',
    steps: points.map((p) => ({ ...p, epoch: p.step / 100, lr: 0.1, loss: 2, trainError: 0.9 })),
    smoothed: points.map(() => 2),
    epochs: [],
    smoother: new LossSmoother(),
  });

  it('images per second and time left from the recent steps', () => {
    const s = liveStatus(
      record([
        { step: 100, ms: 0 },
        { step: 150, ms: 5000 },
        { step: 200, ms: 10_000 },
      ]),
    );
    expect(s.imagesPerSecond).toBeCloseTo(1280, 6); // 10 steps/s x 128
    expect(s.etaSeconds).toBeCloseTo(80, 6); // 800 steps left
    expect(s.epochFraction).toBe(1); // step 200 ends epoch 2
    expect(s.epoch).toBe(2);
  });

  it('no rate from steps reported together (GPU groups)', () => {
    expect(
      liveStatus(
        record([
          { step: 1, ms: 1000 },
          { step: 4, ms: 1001 },
        ]),
      ).imagesPerSecond,
    ).toBeUndefined();
  });
});
