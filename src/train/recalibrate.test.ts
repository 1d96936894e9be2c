// BN recalibration on real tensors: after a pass over a split, every running mean is the average of
// the batch means (computed here batch by batch, and for the first layer straight from the raw bytes),
// every running variance the average of the batch variances in the protocol's form; the old
// statistics come back exactly; no tensor leaks.

import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/setup.ts';
import { ResNet, disposeStats, type BnBatchStats } from '../model/resnet.ts';
import { syntheticSplit } from '../data/test-utils.ts';
import { computeStats, testBatches } from '../data/batches.ts';
import { parseConfigQueryStrict } from '../experiment/config.ts';
import { resolveExperiment } from './experiment.ts';
import { evaluateModel } from './evaluate.ts';
import { readRunningStats, recalibrateBatchNorm, recalibrationEffect, restoreRunningStats } from './recalibrate.ts';

beforeAll(async () => {
  await initBackend('wasm');
});

const train = syntheticSplit(40, 5); // batch 16: batches of 16, 16 and 8
const test = syntheticSplit(30, 6);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe.each(['gcr', 'neon'] as const)('recalibrateBatchNorm (%s protocol)', (protocol) => {
  const experiment = resolveExperiment(parseConfigQueryStrict(`protocol=${protocol}&depth=8`));
  const stats = computeStats(train);

  it('running statistics = average of the batch statistics; undo restores the old ones exactly', async () => {
    const model = ResNet.create(experiment.spec, 3);
    const old = await readRunningStats(model);
    const tensorsBefore = tf.memory().numTensors;

    // Independently: each batch's statistics, one batch at a time, averaged here in float64.
    const sums = new Map<string, { mean: Float64Array; variance: Float64Array }>();
    let batches = 0;
    for (const b of testBatches(train, stats, experiment.data, 16)) {
      const s: BnBatchStats[] = [];
      tf.tidy(() => {
        model.forward(tf.tensor4d(b.x, [b.n, 32, 32, 3]), true, s);
      });
      for (const st of s) {
        const unbias = experiment.spec.bnRunningVar === 'unbiased' ? st.count / (st.count - 1) : 1;
        const acc = sums.get(st.prefix) ?? { mean: new Float64Array(st.mean.size), variance: new Float64Array(st.mean.size) };
        const m = await st.mean.data();
        const v = await st.variance.data();
        for (let c = 0; c < m.length; c++) {
          acc.mean[c]! += m[c]!;
          acc.variance[c]! += v[c]! * unbias;
        }
        sums.set(st.prefix, acc);
      }
      disposeStats(s);
      batches++;
    }
    expect(batches).toBe(3);

    const progress: number[] = [];
    const r = await recalibrateBatchNorm(model, train, stats, experiment.data, { batch: 16, onProgress: (d) => progress.push(d) });
    expect(r).toMatchObject({ batches: 3, images: 40 });
    expect(progress).toEqual([16, 32, 40]);
    expect(tf.memory().numTensors).toBe(tensorsBefore);

    const layers = [...sums.keys()];
    expect(layers).toContain('bn1');
    expect(layers).toContain('layer3.0.bn2');
    if (protocol === 'neon') expect(layers).toContain('linear_bn');
    for (const [prefix, acc] of sums) {
      const mean = await model.params[`${prefix}.running_mean`]!.data();
      const variance = await model.params[`${prefix}.running_var`]!.data();
      const scale = Math.max(1, ...Array.from(acc.mean, Math.abs));
      expect(
        maxAbsDiff(
          mean,
          acc.mean.map((x) => x / 3),
        ) / scale,
        prefix,
      ).toBeLessThan(1e-5);
      const vscale = Math.max(1, ...Array.from(acc.variance, Math.abs));
      expect(
        maxAbsDiff(
          variance,
          acc.variance.map((x) => x / 3),
        ) / vscale,
        prefix,
      ).toBeLessThan(1e-5);
    }

    // The first layer from the raw bytes: un-augmented, the protocol's normalisation, conv1 (+ bias).
    const w = model.params['conv1.weight']!;
    const bias = model.params['conv1.bias'];
    const bnInputMean = tf.tidy(() => {
      const x = new Float32Array(40 * 3072);
      for (let n = 0; n < 40; n++)
        for (let c = 0; c < 3; c++)
          for (let p = 0; p < 1024; p++) {
            const raw = train.images[n * 3072 + c * 1024 + p]!;
            x[n * 3072 + p * 3 + c] =
              protocol === 'gcr' ? (raw - stats.pixelMean[p * 3 + c]!) / stats.globalStd : raw - stats.channelMean[c]!;
          }
      const all = tf.tensor4d(x, [40, 32, 32, 3]);
      const perBatch = [
        [0, 16],
        [16, 16],
        [32, 8],
      ]
        .map(([at, n]) => tf.slice(all, [at!, 0, 0, 0], [n!, -1, -1, -1]))
        .map((xb) => {
          let y = tf.conv2d(xb as tf.Tensor4D, w as tf.Tensor4D, 1, [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ]);
          if (bias) y = tf.add(y, bias);
          return tf.mean(y, [0, 1, 2]);
        });
      return tf.div(tf.addN(perBatch), 3);
    });
    expect(maxAbsDiff(await model.params['bn1.running_mean']!.data(), await bnInputMean.data())).toBeLessThan(2e-4);
    bnInputMean.dispose();

    restoreRunningStats(model, r.previous);
    const back = await readRunningStats(model);
    for (const name of Object.keys(old.values)) expect(back.values[name]).toEqual(old.values[name]);
    model.dispose();
  });

  it('recalibrationEffect: test error without and with, old statistics back unless kept', async () => {
    const model = ResNet.create(experiment.spec, 9);
    const old = await readRunningStats(model);
    const e = await recalibrationEffect(model, { train, test }, stats, experiment.data, {
      recalibrate: { batch: 16 },
      evaluate: { batch: 10 },
    });
    expect(e.kept).toBe(false);
    expect(e.before).toBe(await evaluateModel(model, test, stats, experiment.data));
    expect((await readRunningStats(model)).values['bn1.running_mean']).toEqual(old.values['bn1.running_mean']);

    const kept = await recalibrationEffect(model, { train, test }, stats, experiment.data, { recalibrate: { batch: 16 }, keep: true });
    expect(kept.before).toBe(e.before);
    expect(kept.after).toBe(e.after);
    expect(kept.after).toBe(await evaluateModel(model, test, stats, experiment.data));
    expect((await readRunningStats(model)).values['bn1.running_mean']).not.toEqual(old.values['bn1.running_mean']);
    model.dispose();
  });
});
