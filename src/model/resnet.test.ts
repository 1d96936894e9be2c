// The ResNet builder on real tensors (cpu backend): parameter counts against the paper's Table 6,
// the structure of every block variant and shortcut, BN running statistics in the Torch convention.

import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BLOCK_VARIANTS, SHORTCUTS, type BlockVariant, type ShortcutType } from '../experiment/config.ts';
import { modelSpec } from '../train/experiment.ts';
import type { ProtocolName } from '../experiment/protocols.ts';
import { ArchitectureError, countLayers, countTrainableParams, describeParams, disposeStats, ResNet, type BnBatchStats } from './resnet.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const spec = (depth: number, protocol: ProtocolName = 'paper', block: BlockVariant = 'relu-bnbefore', shortcut: ShortcutType = 'A') =>
  modelSpec({ protocol, depth, block, shortcut });

function randomImages(n: number, seed = 3): tf.Tensor4D {
  return tf.randomNormal([n, 32, 32, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
}

describe('parameter counts (option A, no conv bias)', () => {
  // docs/protocols.md §2.4, counted on an independent implementation; the paper's Table 6 rounds them.
  it.each([
    [20, 269_722],
    [32, 464_154],
    [44, 658_586],
    [56, 853_018],
    [110, 1_727_962],
  ])('ResNet-%i has %i trainable parameters', (depth, expected) => {
    const s = spec(depth, 'paper');
    expect(s.convBias).toBe(false);
    expect(countTrainableParams(s)).toBe(expected);
    expect(countLayers(s)).toBe(depth);
  });

  it('gcr adds one zero-initialised bias per conv; neon trades the FC bias for a logit BN and adds projections', () => {
    // gcr: 19 convs with biases of 16*7 + 32*6 + 64*6 channels.
    expect(countTrainableParams(spec(20, 'gcr'))).toBe(269_722 + 16 * 7 + 32 * 6 + 64 * 6);
    // neon: + 1x1 projections 16*32 + 32*64, - FC bias 10, + logit BN gamma/beta 20.
    expect(countTrainableParams(spec(20, 'neon', 'relu-bnbefore', 'neon'))).toBe(269_722 + 16 * 32 + 32 * 64 - 10 + 20);
  });

  it('rejects depths that are not 6n+2 with a clear error', () => {
    expect(() => describeParams(spec(21))).toThrow(ArchitectureError);
    expect(() => describeParams(spec(21))).toThrow(/6n\+2/);
    expect(() => describeParams(spec(2))).toThrow(/n >= 1/);
  });

  it('names parameters as akamaster/pytorch_resnet_cifar10 does', () => {
    const names = describeParams(spec(20, 'paper', 'relu-bnbefore', 'B')).map((p) => p.name);
    expect(names.slice(0, 6)).toEqual([
      'conv1.weight',
      'bn1.weight',
      'bn1.bias',
      'bn1.running_mean',
      'bn1.running_var',
      'layer1.0.conv1.weight',
    ]);
    expect(names).toContain('layer2.0.shortcut.0.weight');
    expect(names).toContain('layer3.0.shortcut.1.running_var');
    expect(names).toContain('layer3.2.bn2.bias');
    expect(names.slice(-2)).toEqual(['linear.weight', 'linear.bias']);
  });
});

describe('forward pass', () => {
  it.each(BLOCK_VARIANTS.flatMap((b) => SHORTCUTS.map((s) => [b, s] as const)))(
    '%s with shortcut %s gives [N, 10] logits in both modes',
    (block, shortcut) => {
      const m = ResNet.create(spec(8, 'paper', block, shortcut), 1);
      const before = tf.memory().numTensors;
      const [a, b] = tf.tidy(() => {
        const x = randomImages(4);
        const stats: BnBatchStats[] = [];
        const train = m.forward(x, true, stats);
        const evalOut = m.forward(x, false);
        const nBn = describeParams(m.spec).filter((p) => p.kind === 'bn-gamma').length;
        expect(stats.length).toBe(nBn);
        disposeStats(stats);
        return [train, evalOut];
      });
      expect(a.shape).toEqual([4, 10]);
      expect(b.shape).toEqual([4, 10]);
      expect(Number.isFinite(a.dataSync()[0])).toBe(true);
      tf.dispose([a, b]);
      expect(tf.memory().numTensors).toBe(before);
      m.dispose();
    },
  );

  function blockOutputs(block: BlockVariant): Record<string, Float32Array> {
    const m = ResNet.create(spec(8, 'paper', block), 2);
    const out: Record<string, Float32Array> = {};
    tf.tidy(() => {
      const stats: BnBatchStats[] = [];
      m.forward(randomImages(8), true, stats, (name, t) => {
        out[name] = t.dataSync() as Float32Array;
      });
      disposeStats(stats);
    });
    m.dispose();
    return out;
  }

  it('ReLU variants end every block in a ReLU; the no-ReLU variants do not', () => {
    for (const block of BLOCK_VARIANTS) {
      const out = blockOutputs(block);
      const min = Math.min(...['layer1.0', 'layer2.0', 'layer3.0'].map((k) => out[k].reduce((a, v) => Math.min(a, v), Infinity)));
      if (block.startsWith('relu')) expect(min, block).toBeGreaterThanOrEqual(0);
      else expect(min, block).toBeLessThan(0);
    }
  });

  it('"BN after add" normalises the sum (per-channel batch mean 0 at init); "BN before add" does not', () => {
    const channelMeanAbs = (v: Float32Array, c: number) => {
      const sums = new Float64Array(c);
      for (let i = 0; i < v.length; i++) sums[i % c] += v[i];
      return Math.max(...Array.from(sums, (s) => Math.abs(s / (v.length / c))));
    };
    // Output of layer3.0 has 64 channels; without the final ReLU the BN output is visible directly.
    expect(channelMeanAbs(blockOutputs('norelu-bnafter')['layer3.0'], 64)).toBeLessThan(1e-4);
    expect(channelMeanAbs(blockOutputs('norelu-bnbefore')['layer3.0'], 64)).toBeGreaterThan(1e-2);
  });

  it('option A subsamples every second pixel and appends zero channels; neon starts as exactly that; B projects', () => {
    const x = randomImages(2, 9);
    const shortcutOf = (shortcut: ShortcutType, training: boolean) => {
      const m = ResNet.create(spec(8, 'neon', 'relu-bnbefore', shortcut), 4);
      let inLayer2: tf.Tensor4D | undefined;
      let short: Float32Array | undefined;
      tf.tidy(() => {
        const stats: BnBatchStats[] = [];
        m.forward(x, training, stats, (name, t) => {
          if (name === 'layer1.0') inLayer2 = tf.keep(t.clone());
          if (name === 'layer2.0.shortcut') short = t.dataSync() as Float32Array;
        });
        disposeStats(stats);
      });
      m.dispose();
      return { input: inLayer2!, short: short! };
    };
    const a = shortcutOf('A', false);
    // Expected: input [2,32,32,16] -> [2,16,16,32], channels 0..15 = input at even (row, col), 16..31 = 0.
    const inp = a.input.arraySync() as number[][][][];
    const expected = new Float32Array(2 * 16 * 16 * 32);
    for (let n = 0; n < 2; n++)
      for (let r = 0; r < 16; r++)
        for (let c = 0; c < 16; c++) for (let ch = 0; ch < 16; ch++) expected[((n * 16 + r) * 16 + c) * 32 + ch] = inp[n][2 * r][2 * c][ch];
    expect(Array.from(a.short)).toEqual(Array.from(expected));
    const neon = shortcutOf('neon', false);
    expect(Array.from(neon.short)).toEqual(Array.from(expected));
    const b = shortcutOf('B', true);
    expect(b.short.length).toBe(expected.length);
    expect(b.short.subarray(0, 32 * 256).reduce((a, v) => Math.max(a, Math.abs(v)), 0)).toBeGreaterThan(0);
    tf.dispose([a.input, neon.input, b.input]);
    x.dispose();
  });
});

describe('initialisation per protocol', () => {
  it('is deterministic by seed and differs across seeds', () => {
    const a = ResNet.create(spec(8, 'gcr'), 7);
    const b = ResNet.create(spec(8, 'gcr'), 7);
    const c = ResNet.create(spec(8, 'gcr'), 8);
    const w = (m: ResNet) => Array.from(m.params['layer1.0.conv1.weight'].dataSync());
    expect(w(a)).toEqual(w(b));
    expect(w(a)).not.toEqual(w(c));
    [a, b, c].forEach((m) => m.dispose());
  });

  it('draws convs from N(0, sqrt(2/(9 n_in))), gcr gammas from N(1, 0.002), neon gammas = 1, biases 0', () => {
    const g = ResNet.create(spec(56, 'gcr'), 3);
    const w = Array.from(g.params['layer3.5.conv2.weight'].dataSync()); // 3x3x64x64
    const mean = w.reduce((a, v) => a + v, 0) / w.length;
    const std = Math.sqrt(w.reduce((a, v) => a + (v - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std / Math.sqrt(2 / (9 * 64))).toBeCloseTo(1, 1);
    const gammas = describeParams(g.spec)
      .filter((p) => p.kind === 'bn-gamma')
      .flatMap((p) => Array.from(g.params[p.name].dataSync()));
    const gm = gammas.reduce((a, v) => a + v, 0) / gammas.length;
    const gs = Math.sqrt(gammas.reduce((a, v) => a + (v - gm) ** 2, 0) / gammas.length);
    expect(gm).toBeCloseTo(1, 3);
    expect(gs).toBeGreaterThan(0.0015);
    expect(gs).toBeLessThan(0.0025);
    expect(Array.from(g.params['layer1.0.conv1.bias'].dataSync()).every((v) => v === 0)).toBe(true);
    expect(Array.from(g.params['bn1.running_var'].dataSync()).every((v) => v === 1)).toBe(true); // Torch starts at 1
    g.dispose();
    const n = ResNet.create(spec(20, 'neon', 'relu-bnbefore', 'neon'), 3);
    expect(Array.from(n.params['bn1.weight'].dataSync()).every((v) => v === 1)).toBe(true);
    expect(Array.from(n.params['bn1.running_var'].dataSync()).every((v) => v === 0)).toBe(true); // neon starts at 0
    const proj = n.params['layer2.0.shortcut.0.weight'].arraySync() as number[][][][];
    expect(proj[0][0][5][5]).toBe(1);
    expect(proj[0][0][5][6]).toBe(0);
    expect(proj[0][0][15][31]).toBe(0);
    n.dispose();
  });
});

describe('BN running statistics (Torch convention)', () => {
  function firstBnStats(
    m: ResNet,
    x: tf.Tensor4D,
  ): { batchMean: number[]; batchVarBiased: number[]; count: number; stats: BnBatchStats[] } {
    const stats: BnBatchStats[] = [];
    tf.tidy(() => {
      m.forward(x, true, stats);
    });
    // Independent computation of bn1's input: conv1 (3x3, same) of x, then moments over N, H, W.
    const { mean, variance } = tf.tidy(() => tf.moments(tf.conv2d(x, m.params['conv1.weight'] as tf.Tensor4D, 1, 'same'), [0, 1, 2]));
    const out = {
      batchMean: Array.from(mean.dataSync()),
      batchVarBiased: Array.from(variance.dataSync()),
      count: x.shape[0] * 32 * 32,
      stats,
    };
    tf.dispose([mean, variance]);
    return out;
  }

  it.each([
    [0.1, 'running = 0.9 old + 0.1 batch'],
    [1, 'batch statistics only'],
    [0, 'frozen'],
  ])('momentum %f: %s, with the unbiased variance', (momentum) => {
    const m = ResNet.create(spec(8, 'paper'), 5);
    const x = randomImages(4, 11);
    const { batchMean, batchVarBiased, count, stats } = firstBnStats(m, x);
    const bn1 = stats.find((s) => s.prefix === 'bn1')!;
    expect(
      Array.from(bn1.mean.dataSync())
        .map((v, i) => v - batchMean[i])
        .every((d) => Math.abs(d) < 1e-4),
    ).toBe(true);
    m.updateRunningStats(stats, momentum);
    disposeStats(stats);
    const rm = m.params['bn1.running_mean'].dataSync();
    const rv = m.params['bn1.running_var'].dataSync();
    for (let c = 0; c < 16; c++) {
      expect(rm[c]).toBeCloseTo((1 - momentum) * 0 + momentum * batchMean[c], 4);
      expect(rv[c]).toBeCloseTo((1 - momentum) * 1 + momentum * batchVarBiased[c] * (count / (count - 1)), 4);
    }
    x.dispose();
    m.dispose();
  });

  it.each(['A', 'B'] as const)(
    "gcr's conv biases (shortcut %s): normalised away in training, into the batch means, gradients only S(dx); evaluation agrees",
    (shortcut) => {
      // The same weights with and without conv biases (all set to 1.5): training-mode logits and
      // variances agree, each batch mean is the bias-free one plus the bias (what the running
      // statistics and so evaluation see), and each bias's gradient is zero up to rounding.
      const withBias = ResNet.create(spec(8, 'gcr', 'relu-bnbefore', shortcut), 7);
      const noBias = ResNet.create({ ...withBias.spec, convBias: false }, 7);
      const biasNames = describeParams(withBias.spec)
        .filter((p) => p.kind === 'conv-bias')
        .map((p) => p.name);
      expect(biasNames.length).toBe(shortcut === 'B' ? 7 + 2 : 7); // ResNet-8's 7 convs, and B's two projections
      for (const name of Object.keys(noBias.params)) withBias.params[name]!.assign(noBias.params[name]!);
      for (const name of biasNames) withBias.params[name]!.assign(tf.fill(withBias.params[name]!.shape, 1.5));
      const x = randomImages(2, 13);
      const run = (m: ResNet) => {
        const stats: BnBatchStats[] = [];
        const labels = tf.oneHot(tf.tensor1d([1, 3], 'int32'), 10);
        const vars = m.trainableVariables();
        const { value, grads } = tf.variableGrads(() => {
          const logits = m.forward(x, true, stats);
          return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
        }, vars);
        const out = {
          loss: value.dataSync()[0]!,
          // variableGrads keys by tf.Variable name; trainableVariables() follows describeParams' order.
          grads: Object.fromEntries(
            describeParams(m.spec)
              .filter((p) => p.trainable)
              .map((p, i) => [p.name, Array.from(grads[vars[i]!.name]!.dataSync())]),
          ),
          stats: Object.fromEntries(
            stats.map((st) => [st.prefix, { mean: Array.from(st.mean.dataSync()), variance: Array.from(st.variance.dataSync()) }]),
          ),
        };
        tf.dispose([value, labels, ...Object.values(grads)]);
        m.updateRunningStats(stats, 1); // the running statistics become this batch's
        disposeStats(stats);
        const logits = tf.tidy(() => Array.from(m.forward(x, false).dataSync()));
        return { ...out, logits };
      };
      const a = run(withBias);
      const b = run(noBias);
      expect(a.loss).toBeCloseTo(b.loss, 5);
      const convOf = (prefix: string) =>
        prefix === 'bn1' ? 'conv1' : prefix.replace(/bn(\d)$/, 'conv$1').replace(/shortcut\.1$/, 'shortcut.0');
      for (const [prefix, st] of Object.entries(b.stats)) {
        const biasName = `${convOf(prefix)}.bias`;
        expect(biasNames).toContain(biasName);
        st.mean.forEach((v, i) => expect(a.stats[prefix]!.mean[i]).toBeCloseTo(v + 1.5, 4));
        st.variance.forEach((v, i) => expect(a.stats[prefix]!.variance[i]).toBeCloseTo(v, 4));
      }
      for (const [name, g] of Object.entries(b.grads)) {
        const scale = Math.max(...g.map(Math.abs), 1e-6);
        g.forEach((v, i) => expect(Math.abs(a.grads[name]![i]! - v)).toBeLessThan(1e-3 * scale));
      }
      for (const name of biasNames) expect(Math.max(...a.grads[name]!.map(Math.abs))).toBeLessThan(1e-5);
      // Evaluation: conv + bias normalised with a running mean that includes the bias gives what the
      // bias-free model gives with its own.
      const scale = Math.max(...b.logits.map(Math.abs));
      b.logits.forEach((v, i) => expect(Math.abs(a.logits[i]! - v)).toBeLessThan(1e-4 * scale));
      x.dispose();
      withBias.dispose();
      noBias.dispose();
    },
  );

  it('neon keeps the biased variance and starts its running statistics at 0', () => {
    const m = ResNet.create(spec(8, 'neon', 'relu-bnbefore', 'neon'), 5);
    const x = randomImages(2, 12);
    const { batchVarBiased, stats } = firstBnStats(m, x);
    m.updateRunningStats(stats, 0.1);
    disposeStats(stats);
    const rv = m.params['bn1.running_var'].dataSync();
    for (let c = 0; c < 16; c++) expect(rv[c]).toBeCloseTo(0.1 * batchVarBiased[c], 4);
    x.dispose();
    m.dispose();
  });

  it('evaluation uses the running statistics, not the batch', () => {
    const m = ResNet.create(spec(8, 'paper'), 6);
    const x = randomImages(4, 13);
    const [one, firstOfFour] = tf.tidy(() => [m.forward(tf.slice(x, [0], [1]), false), tf.slice(m.forward(x, false), [0], [1])]);
    // In eval mode an image's logits do not depend on the rest of the batch.
    expect(
      Array.from(one.dataSync())
        .map((v, i) => Math.abs(v - firstOfFour.dataSync()[i]))
        .every((d) => d < 1e-4),
    ).toBe(true);
    tf.dispose([one, firstOfFour, x]);
    m.dispose();
  });
});
