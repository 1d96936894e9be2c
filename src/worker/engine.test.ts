// The lab's engine in Node on the real wasm backend and the real demo sample (500 + 200 CIFAR-10
// images): backend choice, events of a run (one entry per step, in order), pause/resume/stop between
// steps, the weights round trip with the same test error, refusal of bad weights without side effects,
// flat tensor memory, and the same engine driven through the worker protocol over a MessageChannel.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatConfigQuery, protocolDefaults, type ExperimentConfig } from '../experiment/config.ts';
import { WorkerEngine } from './client.ts';
import { Engine } from './engine.ts';
import { serve, type MessagePortLike } from './serve.ts';
import type { EngineEvent, StepPoint, WeightFiles } from './protocol.ts';
import { nodeHost } from './node-host.ts';

const host = nodeHost({ backends: ['wasm', 'cpu'] });

const tiny = (over: Partial<ExperimentConfig> = {}): ExperimentConfig => ({
  ...protocolDefaults('gcr'),
  depth: 8,
  batch: 16,
  epochs: 1,
  seed: 3,
  ...over,
});

function collect(engine: Engine | WorkerEngine) {
  const events: EngineEvent[] = [];
  engine.subscribe((e) => events.push(e));
  const steps = () => events.flatMap((e) => (e.type === 'steps' ? e.points : [])) as StepPoint[];
  return { events, steps };
}

const file = (name: string, bytes: Uint8Array | string) => new File([bytes as BlobPart], name);
const weightFiles = (w: WeightFiles) => [file(`${w.baseName}.safetensors`, w.safetensors)];
const tfjsFiles = (w: WeightFiles) => [file('model.json', w.modelJson), file('weights.bin', w.weightsBin)];

describe('Engine (wasm, demo sample)', () => {
  const engine = new Engine(host);
  const log = collect(engine);

  beforeAll(async () => {
    await engine.setBackend('wasm');
    const info = await engine.loadData({ kind: 'demo' });
    expect(info).toMatchObject({ kind: 'demo', train: 500, test: 200 });
  });

  it('chooses the fastest measured backend when asked for auto', async () => {
    const probes: string[] = [];
    const off = engine.subscribe((e) => e.type === 'backend-probe' && probes.push(e.message));
    const info = await engine.setBackend('auto');
    off();
    // Every backend considered, with its figure or its reason.
    expect(info.timings.map((t) => `${t.backend} ${t.outcome}`)).toEqual([
      'webgpu not-available',
      'wasm measured',
      'webgl not-available',
      'cpu measured',
    ]);
    const fastest = info.timings.flatMap((t) => (t.outcome === 'measured' ? [t] : [])).sort((a, b) => a.ms - b.ms)[0];
    expect(info.backend).toBe(fastest.backend);
    expect(info.reason).toMatch(/fastest measured/);
    expect(info.measuredOn).toEqual({
      device: expect.stringMatching(/^no WebGPU adapter; \d+ logical cores; Node/),
      step: { depth: 8, batch: 16 },
    });
    expect(probes.some((p) => p.includes('measuring wasm'))).toBe(true);
    // A remembered automatic choice is used without measuring again.
    const again = await engine.setBackend('auto', { remembered: [{ ...info, backend: 'wasm' }] });
    expect(again).toMatchObject({ backend: 'wasm' });
    expect(again.reason).toMatch(/^measured earlier/);
    await engine.setBackend('wasm');
  });

  let firstRun: { weights: WeightFiles; testError: number; tensors: number };

  it('trains to max steps with one entry per step, pausing and resuming between steps', async () => {
    log.events.length = 0;
    let paused = false;
    let stepsAtPause = 0;
    const off = engine.subscribe((e) => {
      if (e.type === 'steps' && !paused && e.points[e.points.length - 1].step >= 4) {
        paused = true;
        engine.pause();
      }
      if (e.type === 'run-state' && e.state === 'paused') {
        stepsAtPause = log.steps().length;
        setTimeout(() => {
          expect(log.steps().length).toBe(stepsAtPause); // nothing trains while paused
          engine.resume();
        }, 300);
      }
    });
    const summary = await engine.train(tiny(), { maxSteps: 12, evalLimit: 100 });
    off();
    expect(summary).toMatchObject({ end: 'max-steps', steps: 12 });
    const steps = log.steps();
    expect(steps.map((s) => s.step)).toEqual([...Array(12).keys()].map((i) => i + 1));
    expect(steps.every((s) => Number.isFinite(s.loss) && s.lr === 0.1)).toBe(true);
    for (let i = 1; i < steps.length; i++) expect(steps[i].ms).toBeGreaterThanOrEqual(steps[i - 1].ms);
    const states = log.events.filter((e) => e.type === 'run-state').map((e) => (e as { state: string }).state);
    expect(states).toEqual(['running', 'paused', 'running']);
    expect(stepsAtPause).toBeGreaterThanOrEqual(4);
    const epochs = log.events.filter((e) => e.type === 'epoch').map((e) => (e as Extract<EngineEvent, { type: 'epoch' }>).point);
    expect(epochs[0]).toMatchObject({ epoch: 0, step: 0, evaluated: 100 });
    expect(epochs[epochs.length - 1]).toMatchObject({ step: 12, evaluated: 100 });
    expect(summary.finalTestError).toBe(epochs[epochs.length - 1].testError);
    const start = log.events.find((e) => e.type === 'run-start') as Extract<EngineEvent, { type: 'run-start' }>;
    expect(start).toMatchObject({ totalSteps: 12, stepsPerEpoch: 500 / 16, batch: 16, backend: 'wasm' });

    const weights = await engine.exportWeights();
    expect(weights.steps).toBe(12);
    expect(JSON.parse(weights.modelJson).resnetLab.config).toBe(formatConfigQuery(tiny()));
    firstRun = { weights, testError: summary.finalTestError!, tensors: engine.numTensors() };
  });

  it('loads its own weights back in both formats and gets the same test error, with flat memory', async () => {
    const counts: number[] = [];
    for (const files of [weightFiles(firstRun.weights), tfjsFiles(firstRun.weights), weightFiles(firstRun.weights)]) {
      const loaded = await engine.loadWeights(files, tiny(), { evalLimit: 100 });
      expect(loaded).toMatchObject({ selectedFromFile: false, evaluated: 100 });
      expect(loaded.testError).toBe(firstRun.testError);
      counts.push(engine.numTensors());
    }
    // The run's model and solver state were freed; each load replaces the previous model exactly.
    expect(counts[0]).toBeLessThan(firstRun.tensors);
    expect(new Set(counts).size).toBe(1);
    firstRun.tensors = counts[0];
    const again = await engine.exportWeights();
    expect(again.safetensors).toEqual(firstRun.weights.safetensors);
  });

  it('selects the architecture a weights file names, and refuses bad files without changing anything', async () => {
    // Weights of ResNet-8 loaded while ResNet-14 is selected: the file's configuration is used.
    const loaded = await engine.loadWeights(weightFiles(firstRun.weights), tiny({ depth: 14 }), { evalLimit: 100 });
    expect(loaded.selectedFromFile).toBe(true);
    expect(formatConfigQuery(loaded.config)).toBe(formatConfigQuery(tiny()));

    const before = await engine.exportWeights();
    const truncated = firstRun.weights.weightsBin.slice(0, 1000);
    await expect(
      engine.loadWeights([file('model.json', firstRun.weights.modelJson), file('weights.bin', truncated)], tiny(), {}),
    ).rejects.toThrow(/weights\.bin has 1000 bytes/);
    await expect(engine.loadWeights([file('x.safetensors', new Uint8Array([1, 2, 3]))], tiny(), {})).rejects.toThrow(
      /not a readable \.safetensors/,
    );
    await expect(engine.loadWeights([file('notes.txt', 'hello')], tiny(), {})).rejects.toThrow(/None of notes\.txt is a weights file/);
    // A file with another network and no configuration in it: named mismatch.
    const json = JSON.parse(firstRun.weights.modelJson);
    json.resnetLab.config = '';
    await expect(
      engine.loadWeights(
        [file('model.json', JSON.stringify(json)), file('weights.bin', firstRun.weights.weightsBin)],
        tiny({ depth: 14 }),
        {},
      ),
    ).rejects.toThrow(/do not fit ResNet-14.*missing layer1\.1\.conv1\.weight/);
    expect((await engine.exportWeights()).safetensors).toEqual(before.safetensors);
    expect(engine.numTensors()).toBe(firstRun.tensors);
  });

  it('stops between steps and refuses a second run or a backend change while one is active', async () => {
    log.events.length = 0;
    const off = engine.subscribe((e) => {
      if (e.type === 'steps') engine.stop();
    });
    const run = engine.train(tiny({ seed: 9 }), { evalLimit: 20 });
    await expect(engine.train(tiny(), {})).rejects.toThrow(/already in progress/);
    await expect(engine.setBackend('cpu')).rejects.toThrow(/Stop the run/);
    await expect(engine.exportWeights()).rejects.toThrow(/Pause or stop/);
    const summary = await run;
    off();
    expect(summary.end).toBe('stopped');
    expect(summary.steps).toBeLessThan(5);
    expect(log.events[log.events.length - 1]).toMatchObject({ type: 'run-end', summary: { end: 'stopped' } });
  });

  it('rejects an invalid configuration by name', async () => {
    await expect(engine.train(tiny({ depth: 21 }), {})).rejects.toThrow(/depth/);
  });
});

describe('the same engine through the worker protocol', () => {
  const channel = new MessageChannel();
  let client: WorkerEngine;

  beforeAll(async () => {
    serve(new Engine(host), channel.port1 as unknown as MessagePortLike);
    channel.port1.start();
    client = new WorkerEngine(channel.port2 as unknown as Worker);
    channel.port2.start();
    // Not awaited, as the page does at start-up: a Train pressed meanwhile waits for both.
    void client.loadData({ kind: 'demo' });
    void client.setBackend('wasm');
  });
  afterAll(() => {
    channel.port1.close();
    channel.port2.close();
  });

  it('runs a short training and answers requests with typed replies and errors', async () => {
    const log = collect(client);
    const summary = await client.train(tiny(), { maxSteps: 3, evalLimit: 20 });
    expect(summary).toMatchObject({ end: 'max-steps', steps: 3 });
    expect(log.steps().map((s) => s.step)).toEqual([1, 2, 3]);
    expect(log.events.map((e) => e.type)).toContain('run-end');
    const w = await client.exportWeights();
    expect(w.weightsBin).toBeInstanceOf(Uint8Array);
    await expect(client.train(tiny({ block: 'sideways' as ExperimentConfig['block'] }), {})).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringMatching(/block/),
    });
  });
});
