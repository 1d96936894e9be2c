// The training loop on real tensors (wasm backend with the lab's kernels) over a small synthetic split: determinism by seed,
// flat tensor counts, epoch accounting in images, gcr's dynamic BN momentum, divergence handling.

import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/setup.ts';
import type { CifarSplit } from '../data/cifar.ts';
import { parseConfigQueryStrict } from '../experiment/config.ts';
import { resolveExperiment } from './experiment.ts';
import { Trainer, solverParamsOf, trainOnBatch, type StepEvent, type EpochEvent } from './trainer.ts';
import { createSolver } from './solvers.ts';
import { ResNet } from '../model/resnet.ts';
import { BatchSampler, computeStats, newBatchBuffers } from '../data/batches.ts';
import { createRng } from '../util/rng.ts';

beforeAll(async () => {
  await initBackend('wasm');
});

/** n random 32x32 images whose label sets their brightness, so a network can learn it whatever the augmentation. */
function syntheticSplit(n: number, seed: number): CifarSplit {
  let s = seed >>> 0;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const images = new Uint8Array(n * 3072);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const label = Math.floor(rand() * 10);
    labels[i] = label;
    for (let j = 0; j < 3072; j++) images[i * 3072 + j] = label * 22 + Math.floor(rand() * 30);
  }
  return { n, images, labels };
}

const data = { train: syntheticSplit(64, 1), test: syntheticSplit(32, 2) };

function trainer(query: string, options = {}) {
  return new Trainer(resolveExperiment(parseConfigQueryStrict(query)), data, { evalBatch: 16, ...options });
}

async function losses(query: string, steps: number): Promise<number[]> {
  const t = trainer(query, { maxSteps: steps });
  const out: number[] = [];
  await t.run({ onStep: (e) => out.push(e.loss) });
  t.dispose();
  return out;
}

describe('Trainer', () => {
  it('is deterministic: same configuration and seed give the same losses; another seed does not', async () => {
    const q = 'protocol=gcr&depth=8&batch=8&epochs=2&seed=5';
    const a = await losses(q, 4);
    const b = await losses(q, 4);
    const c = await losses('protocol=gcr&depth=8&batch=8&epochs=2&seed=6', 4);
    expect(a).toHaveLength(4);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('counts epochs in images (batches straddle epochs), tests before the first and after every epoch', async () => {
    // 64 training images, batch 24: epochs end during steps 3 (72 >= 64) and 6 (144 >= 128).
    const t = trainer('protocol=neon&depth=8&batch=24&epochs=2&seed=1');
    expect(t.totalSteps).toBe(Math.ceil((2 * 64) / 24));
    const steps: StepEvent[] = [];
    const epochs: EpochEvent[] = [];
    const result = await t.run({ onStep: (e) => steps.push(e), onEpoch: (e) => epochs.push(e) });
    expect(result.end).toBe('finished');
    expect(steps.map((s) => s.epoch)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(epochs.map((e) => [e.epoch, e.step])).toEqual([
      [0, 0],
      [1, 3],
      [2, 6],
    ]);
    for (const e of epochs) expect(e.testError).toBeGreaterThanOrEqual(0);
    t.dispose();
  });

  it('learns: the loss falls on a learnable synthetic task', async () => {
    const l = await losses('protocol=gcr&depth=8&batch=16&epochs=100&seed=2&lr=0.05&schedule=constant', 40);
    const first = l.slice(0, 5).reduce((a, b) => a + b) / 5;
    const last = l.slice(-5).reduce((a, b) => a + b) / 5;
    expect(last).toBeLessThan(first * 0.7);
  });

  it('leaves nothing of a batch array in use once its step returns, so the trainer writes every batch into one array', async () => {
    // On tfjs-cpu a tensor made from a Float32Array shares it: if anything of a step still read its
    // input after trainOnBatch returned, the NaN written over the array would reach the next steps,
    // the weights or the running statistics.
    await initBackend('cpu');
    try {
      const exp = resolveExperiment(parseConfigQueryStrict('protocol=gcr&depth=8&batch=8&seed=7'));
      const stats = computeStats(data.train);
      const run = (reuse: boolean) => {
        const model = ResNet.create(exp.spec, 7);
        const solver = createSolver(exp.solver);
        const params = solverParamsOf(model);
        const sampler = new BatchSampler(data.train, stats, exp.data, createRng(1));
        const buffers = newBatchBuffers(8);
        const losses: number[] = [];
        for (let k = 0; k < 3; k++) {
          const b = sampler.next(8, reuse ? buffers : undefined);
          const { loss, error } = trainOnBatch(model, solver, params, b.x, b.y, 0.1, 0.1);
          losses.push(loss.dataSync()[0]!);
          tf.dispose([loss, error]);
          if (reuse) {
            buffers.x.fill(NaN);
            buffers.y.fill(-1);
          }
        }
        const weights = model.trainableVariables().map((v) => Array.from(v.dataSync()));
        const logits = tf.tidy(() => model.forward(tf.tensor4d(sampler.next(8).x, [8, 32, 32, 3]), false).dataSync());
        model.dispose();
        solver.dispose();
        return { losses, weights, logits: Array.from(logits) };
      };
      const fresh = run(false);
      const reused = run(true);
      expect(fresh.losses.every(Number.isFinite)).toBe(true);
      expect(reused).toEqual(fresh);
    } finally {
      await initBackend('wasm');
    }
  });

  it('keeps the tensor count flat over many steps', async () => {
    const t = trainer('protocol=neon&depth=8&batch=4&epochs=100&seed=3', { maxSteps: 60 });
    const counts: number[] = [];
    await t.run({
      onStep: (e) => {
        if (e.step >= 10) counts.push(tf.memory().numTensors);
      },
    });
    expect(new Set(counts).size).toBe(1);
    t.dispose();
  });

  it('gcr dynamic BN momentum is 1/(1+k) with k reset at every evaluation', async () => {
    const t = trainer('protocol=gcr&depth=8&batch=8&bnm=dynamic&epochs=3');
    expect(t.bnMomentum()).toBe(1);
    t.trainStep().loss.dispose();
    expect(t.bnMomentum()).toBe(1 / 2);
    t.trainStep().loss.dispose();
    expect(t.bnMomentum()).toBe(1 / 3);
    await t.evaluate();
    expect(t.bnMomentum()).toBe(1);
    t.dispose();
  });

  it('dynamic momentum averages the batch statistics since the reset (checked against momentum 1)', () => {
    // Same seed: same weights and batches. Momentum 1 keeps only the last batch's mean b_k, so
    // dynamic after two steps must be (b_0 + b_1) / 2, and after one step exactly b_0.
    const dyn = trainer('protocol=gcr&depth=8&batch=8&bnm=dynamic&epochs=3&seed=4');
    const one = trainer('protocol=gcr&depth=8&batch=8&bnm=1&epochs=3&seed=4');
    const step = (t: Trainer) => {
      const r = t.trainStep();
      tf.dispose([r.loss, r.error]);
      return Array.from(t.model.params['layer1.0.bn2.running_mean'].dataSync());
    };
    const d0 = step(dyn);
    const b0 = step(one);
    d0.forEach((v, c) => expect(v).toBeCloseTo(b0[c], 5));
    const d1 = step(dyn);
    const b1 = step(one);
    d1.forEach((v, c) => expect(v).toBeCloseTo((b0[c] + b1[c]) / 2, 5));
    expect(b1).not.toEqual(b0);
    dyn.dispose();
    one.dispose();
  });

  it('stops at a non-finite loss and reports the step and learning rate (a result, not a crash)', async () => {
    const t = trainer('protocol=gcr&depth=8&batch=8&epochs=10&lr=0.5&schedule=constant', { maxSteps: 20 });
    for (let i = 0; i < 3; i++) tf.dispose(Object.values(t.trainStep()).filter((v) => typeof v !== 'number') as tf.Tensor[]);
    // A weight that has blown up (as large learning rates do in gcr's tables) poisons the next loss.
    tf.tidy(() => t.model.params['linear.weight'].assign(tf.fill([64, 10], NaN)));
    const steps: StepEvent[] = [];
    const result = await t.run({ onStep: (e) => steps.push(e) });
    expect(result.end).toBe('diverged');
    expect(result.divergedAt).toMatchObject({ step: 4, lr: 0.5 });
    expect(Number.isFinite(result.divergedAt!.loss)).toBe(false);
    expect(steps).toHaveLength(0); // the non-finite step is reported as the divergence, not as a point
    t.dispose();
  });

  it.each(['gcr', 'neon', 'paper'])('%s: k steps straight = k/2 steps, checkpoint, a new trainer, restore, k/2 steps', async (protocol) => {
    const q = `protocol=${protocol}&depth=8&batch=24&epochs=3&seed=7&bnm=dynamic`;
    const straight = await losses(q, 8);
    const first = trainer(q);
    const a: number[] = [];
    let n = 0;
    await first.run({ onStep: (e) => a.push(e.loss), between: () => ++n >= 4 });
    const ckpt = structuredClone(await first.checkpoint()); // as IndexedDB would store it
    first.dispose();
    const second = trainer(q, { maxSteps: 8 });
    second.restore(ckpt);
    await second.run({ onStep: (e) => a.push(e.loss) });
    second.dispose();
    expect(a).toEqual(straight);
  });

  it('refuses a checkpoint of another configuration and changes nothing', async () => {
    const t = trainer('protocol=gcr&depth=8&batch=8&epochs=2&seed=1');
    const ckpt = await t.checkpoint();
    const other = trainer('protocol=gcr&depth=8&batch=8&epochs=2&seed=2');
    const before = Array.from(other.model.params['conv1.weight'].dataSync());
    expect(() => other.restore(ckpt)).toThrow(/another configuration/);
    expect(Array.from(other.model.params['conv1.weight'].dataSync())).toEqual(before);
    t.dispose();
    other.dispose();
  });

  it('can be stopped between steps', async () => {
    const t = trainer('protocol=gcr&depth=8&batch=8&epochs=10');
    let n = 0;
    const result = await t.run({ between: () => ++n >= 3 });
    expect(result).toMatchObject({ end: 'stopped', steps: 3 });
    t.dispose();
  });
});
