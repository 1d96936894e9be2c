// "Look inside the model" through the engine, in Node on the real wasm backend and the real demo
// sample (500 + 200 CIFAR-10 images): the analysis agrees with the run's own last test error, the
// confusion matrix and per-image arrays agree with each other, BN recalibration works on a copy (the
// model keeps its statistics), a running run is refused, memory stays flat, and the same requests work
// through the worker protocol over a MessageChannel (typed arrays intact).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCifarDemo } from '../data/cifar.ts';
import { protocolDefaults, type ExperimentConfig } from '../experiment/config.ts';
import { WorkerEngine } from './client.ts';
import { Engine } from './engine.ts';
import { MAX_TEST_IMAGES } from './inspect.ts';
import { serve, type MessagePortLike } from './serve.ts';
import type { EngineEvent } from './protocol.ts';
import { nodeHost } from './node-host.ts';

const PUBLIC = join(import.meta.dirname, '../../public');

const host = nodeHost({ backends: ['wasm', 'cpu'] });

const tiny: ExperimentConfig = { ...protocolDefaults('gcr'), depth: 8, batch: 16, epochs: 1, seed: 7 };
const sum = (a: ArrayLike<number>) => Array.from(a).reduce((x, y) => x + y, 0);

describe('Engine.inspect (wasm, demo sample)', () => {
  const engine = new Engine(host);
  const events: EngineEvent[] = [];
  engine.subscribe((e) => events.push(e));
  let lastTestError: number;

  beforeAll(async () => {
    await engine.setBackend('wasm');
    await engine.loadData({ kind: 'demo' });
    const summary = await engine.train(tiny, { maxSteps: 12 });
    lastTestError = summary.finalTestError!;
  });

  it('refuses before there is a model', async () => {
    const fresh = new Engine(host);
    await fresh.setBackend('wasm');
    await expect(fresh.inspect({})).rejects.toMatchObject({ name: 'EngineError', message: expect.stringMatching(/no model yet/) });
  });

  it("agrees with the run's last test error, with consistent counts and progress", async () => {
    events.length = 0;
    const before = engine.numTensors();
    const a = await engine.inspect({});
    expect(engine.numTensors()).toBe(before);
    expect(a).toMatchObject({ n: 200, classes: 10, steps: 12, config: tiny });
    expect(a.testError).toBeCloseTo(lastTestError, 10);
    expect(sum(a.confusion)).toBe(200);
    let wrong = 0;
    for (let i = 0; i < a.n; i++) if (a.labels[i] !== a.predicted[i]) wrong++;
    expect(wrong / a.n).toBe(a.testError);
    // Row t of the matrix counts the images of class t: the demo sample has 20 of each.
    for (let t = 0; t < 10; t++) expect(sum(a.confusion.subarray(t * 10, t * 10 + 10))).toBe(20);
    for (const c of a.confidence) expect(c).toBeGreaterThanOrEqual(0.1 - 1e-6); // argmax of 10 probabilities
    const progress = events.flatMap((e) => (e.type === 'inspect-progress' ? [e] : []));
    expect(progress.at(-1)).toMatchObject({ stage: 'test', done: 200, total: 200 });
    expect(progress.every((p) => p.stage === 'test')).toBe(true);
  });

  it('recalibrates BN on a copy: error with and without, the model keeps its statistics', async () => {
    events.length = 0;
    const before = engine.numTensors();
    const a = await engine.inspect({ evalLimit: 100, recalibrate: true, recalibrateImages: 160 });
    expect(engine.numTensors()).toBe(before);
    expect(a.n).toBe(100);
    expect(a.recalibrated).toMatchObject({ images: 160, batches: 10 }); // batch 16, the run's
    expect(sum(a.recalibrated!.confusion)).toBe(100);
    let wrong = 0;
    for (let i = 0; i < 100; i++) if (a.labels[i] !== a.recalibrated!.predicted[i]) wrong++;
    expect(a.recalibrated!.testError).toBe(wrong / 100);
    const stages = new Set(events.flatMap((e) => (e.type === 'inspect-progress' ? [e.stage] : [])));
    expect([...stages]).toEqual(['test', 'recalibrate', 'test-recalibrated']);
    // After 12 steps the running statistics are far from the trained weights' own: recalibration moves the error.
    expect(a.recalibrated!.testError).not.toBe(a.testError);
    // The model itself was not touched.
    const again = await engine.inspect({ evalLimit: 100 });
    expect(again.testError).toBe(a.testError);
    expect(Array.from(again.predicted)).toEqual(Array.from(a.predicted));
  });

  it('gives the pixels of test images, and refuses bad indices', async () => {
    const demo = await loadCifarDemo(async (p) => new Uint8Array(await readFile(join(PUBLIC, p))));
    const img = await engine.testImages([5, 0, 199]);
    expect(img.indices).toEqual([5, 0, 199]);
    expect(img.pixels.length).toBe(3 * 3072);
    expect(Array.from(img.pixels.subarray(0, 3072))).toEqual(Array.from(demo.test.images.subarray(5 * 3072, 6 * 3072)));
    expect(Array.from(img.pixels.subarray(6144))).toEqual(Array.from(demo.test.images.subarray(199 * 3072, 200 * 3072)));
    await expect(engine.testImages([200])).rejects.toThrow(/no test image 200/);
    await expect(engine.testImages(Array.from({ length: MAX_TEST_IMAGES + 1 }, (_, i) => i))).rejects.toThrow(/at most/);
  });

  it('refuses while a run trains, and works while it is paused', async () => {
    const paused = new Promise<void>((resolve) => {
      const off = engine.subscribe((e) => {
        if (e.type === 'steps' && e.points.some((p) => p.step >= 2)) engine.pause();
        if (e.type === 'run-state' && e.state === 'paused') {
          off();
          resolve();
        }
      });
    });
    let running!: () => void;
    const started = new Promise<void>((r) => (running = r));
    const off = engine.subscribe((e) => e.type === 'run-start' && running());
    const run = engine.train(tiny, { maxSteps: 50, evalLimit: 20 });
    await started;
    off();
    await expect(engine.inspect({ evalLimit: 20 })).rejects.toThrow(/Pause or stop the run/);
    await paused;
    const a = await engine.inspect({ evalLimit: 20 });
    expect(a.n).toBe(20);
    engine.stop();
    expect((await run).end).toBe('stopped');
  });
});

describe('inspect through the worker protocol', () => {
  const channel = new MessageChannel();
  let client: WorkerEngine;

  beforeAll(async () => {
    serve(new Engine(host), channel.port1 as unknown as MessagePortLike);
    channel.port1.start();
    client = new WorkerEngine(channel.port2 as unknown as Worker);
    channel.port2.start();
    await client.setBackend('wasm');
    await client.loadData({ kind: 'demo' });
  });
  afterAll(() => {
    channel.port1.close();
    channel.port2.close();
  });

  it('answers with typed arrays and progress events', async () => {
    const progress: number[] = [];
    client.subscribe((e) => e.type === 'inspect-progress' && progress.push(e.done));
    await client.train(tiny, { maxSteps: 2, evalLimit: 20 });
    const a = await client.inspect({ evalLimit: 50 });
    expect(a.confusion).toBeInstanceOf(Int32Array);
    expect(a.labels).toBeInstanceOf(Uint8Array);
    expect(a.confidence).toBeInstanceOf(Float32Array);
    expect(sum(a.confusion)).toBe(50);
    expect(progress.at(-1)).toBe(50);
    const img = await client.testImages([1]);
    expect(img.pixels).toBeInstanceOf(Uint8Array);
    await expect(client.testImages([-1])).rejects.toMatchObject({ name: 'RangeError' });
  });
});
