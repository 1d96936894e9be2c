// Per-class error, confusion matrix and the mistakes-first grid order, on a real (small, untrained)
// ResNet and real tensors: the analysis must agree with evaluateModel and with one independent
// forward pass over all the images.

import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/setup.ts';
import { ResNet } from '../model/resnet.ts';
import { syntheticSplit } from '../data/test-utils.ts';
import { computeStats, testBatches } from '../data/batches.ts';
import { parseConfigQueryStrict } from '../experiment/config.ts';
import { resolveExperiment } from './experiment.ts';
import { evaluateModel } from './evaluate.ts';
import { analyseModel, confusionMatrix, mistakesFirst, perClassError, testImageRGBA, type TestAnalysis } from './analysis.ts';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('confusion matrix and per-class error', () => {
  it('counts [true][predicted] and derives each class error from its row', () => {
    const labels = [0, 0, 1, 1, 1, 2];
    const pred = [0, 1, 1, 1, 2, 0];
    const m = confusionMatrix(labels, pred, 3);
    expect([...m]).toEqual([1, 1, 0, 0, 2, 1, 1, 0, 0]);
    const pc = perClassError(m);
    expect(pc.map((c) => [c.count, c.wrong])).toEqual([
      [2, 1],
      [3, 1],
      [1, 1],
    ]);
    expect(pc[1]!.error).toBeCloseTo(1 / 3, 12);
    expect(Number.isNaN(perClassError(new Int32Array(4))[0]!.error)).toBe(true); // no images of that class
    expect(() => confusionMatrix([0, 1], [0], 3)).toThrow(/2 labels but 1 predictions/);
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow(/out of range/);
  });
});

describe('analyseModel', () => {
  const config = parseConfigQueryStrict('protocol=gcr&depth=8&seed=4');
  const experiment = resolveExperiment(config);
  const train = syntheticSplit(50, 1);
  const test = syntheticSplit(37, 2);
  const stats = computeStats(train);

  it('matches evaluateModel and an independent forward pass over all images; batches of any size; no leak', async () => {
    const model = ResNet.create(experiment.spec, 11);
    // Move the BN running statistics away from (0, 1) so predictions differ between images.
    tf.tidy(() => {
      for (const p of model.info) if (p.kind === 'bn-mean') model.params[p.name].assign(tf.randomNormal(p.shape, 0, 0.5, 'float32', 3));
    });
    const before = tf.memory().numTensors;
    const a = await analyseModel(model, test, stats, experiment.data, { batch: 16 });
    expect(tf.memory().numTensors).toBe(before);
    expect(a.n).toBe(37);

    // One forward pass over all 37 images, argmax and softmax computed here.
    const [all] = [...testBatches(test, stats, experiment.data, 37)];
    const logits = tf.tidy(() => model.forward(tf.tensor4d(all!.x, [37, 32, 32, 3]), false));
    const expectedPred = Array.from(await tf.argMax(logits, 1).data());
    const probs = (await tf.softmax(logits).array()) as number[][];
    logits.dispose();
    expect([...a.predicted]).toEqual(expectedPred);
    expect([...a.labels]).toEqual([...test.labels]);
    for (let i = 0; i < 37; i++) {
      expect(a.confidence[i]).toBeCloseTo(Math.max(...probs[i]!), 5);
      expect(a.trueProbability[i]).toBeCloseTo(probs[i]![test.labels[i]!]!, 5);
    }
    const wrong = expectedPred.filter((p, i) => p !== test.labels[i]).length;
    expect(wrong).toBeGreaterThan(0);
    expect(wrong).toBeLessThan(37); // both groups present for the grid test below
    expect(a.error).toBe(wrong / 37);
    expect(a.error).toBe(await evaluateModel(model, test, stats, experiment.data, { batch: 10 }));

    let sum = 0;
    for (const v of a.confusion) sum += v;
    expect(sum).toBe(37);
    const pc = perClassError(a.confusion);
    for (let c = 0; c < 10; c++) expect(pc[c]!.count).toBe([...test.labels].filter((l) => l === c).length);
    expect(pc.reduce((s, c) => s + c.wrong, 0)).toBe(wrong);

    const limited = await analyseModel(model, test, stats, experiment.data, { limit: 12, batch: 5 });
    expect(limited.n).toBe(12);
    expect([...limited.predicted]).toEqual(expectedPred.slice(0, 12));
    model.dispose();
  });

  it('orders the grid mistakes first, by index or by confidence, with filters', () => {
    const a: TestAnalysis = {
      n: 6,
      classes: 3,
      labels: Uint8Array.from([0, 1, 2, 0, 1, 2]),
      predicted: Uint8Array.from([0, 2, 2, 1, 1, 0]),
      confidence: Float32Array.from([0.9, 0.4, 0.6, 0.8, 0.5, 0.7]),
      trueProbability: new Float32Array(6),
      confusion: new Int32Array(9),
      error: 0.5,
    };
    expect(mistakesFirst(a).map((g) => g.index)).toEqual([1, 3, 5, 0, 2, 4]);
    // Most confident mistakes first; least confident correct ones first.
    expect(mistakesFirst(a, { order: 'confidence' }).map((g) => g.index)).toEqual([3, 5, 1, 4, 2, 0]);
    expect(mistakesFirst(a, { trueClass: 0 }).map((g) => [g.index, g.label, g.predicted, g.correct])).toEqual([
      [3, 0, 1, false],
      [0, 0, 0, true],
    ]);
    expect(mistakesFirst(a, { predictedClass: 2 }).map((g) => g.index)).toEqual([1, 2]);
  });

  it('gives a test image as RGBA from the planar record', () => {
    const rgba = testImageRGBA(test, 5);
    const base = 5 * 3072;
    const p = 32 * 7 + 19; // row 7, column 19
    expect([...rgba.subarray(4 * p, 4 * p + 4)]).toEqual([
      test.images[base + p],
      test.images[base + 1024 + p],
      test.images[base + 2048 + p],
      255,
    ]);
    expect(() => testImageRGBA(test, 37)).toThrow(/outside/);
  });
});
