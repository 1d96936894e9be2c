// The running-statistics update on WebGPU against the composed tfjs ops on tfjs-cpu (model/resnet.ts
// updateRunningStats's formulas): equal bit for bit, in place two layers a dispatch, and out of place
// for a layer whose statistics another tensor shares (a clone held, as a checkpoint holds one).

import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { values } from '../test-utils.ts';
import { labRunningStats } from './running-stats.ts';
import { onCpu, useWebGpu } from './test-utils.ts';

beforeAll(useWebGpu, 60_000);

const CHANNELS = [16, 32, 10];
const MOMENTUM = 0.1;
const SCALES = [0.1 * (2048 / 2047), 0.1, 0.1 * (4 / 3)];

function layer(k: number) {
  const c = CHANNELS[k]!;
  return {
    rm: values(c, 10 + k, 0.5, 0.1),
    rv: values(c, 20 + k, 0.2, 1),
    bm: values(c, 30 + k, 0.5),
    bv: values(c, 40 + k, 0.3, 1),
  };
}

describe('running statistics on webgpu', () => {
  it('equal the composed update bit for bit, in place and out of place', async () => {
    const want = await onCpu(() =>
      CHANNELS.flatMap((_, k) => {
        const l = layer(k);
        const m = tf.add(tf.mul(tf.tensor1d(l.rm), 1 - MOMENTUM), tf.mul(tf.tensor1d(l.bm), MOMENTUM));
        const v = tf.add(tf.mul(tf.tensor1d(l.rv), 1 - MOMENTUM), tf.mul(tf.tensor1d(l.bv), SCALES[k]!));
        return [m, v];
      }),
    );
    const vars = CHANNELS.map((_, k) => ({ mean: tf.variable(tf.tensor1d(layer(k).rm)), variance: tf.variable(tf.tensor1d(layer(k).rv)) }));
    const held = tf.clone(vars[1]!.mean); // shares layer 1's data: that layer goes out of place
    const batch = CHANNELS.map((_, k) => [tf.tensor1d(layer(k).bm), tf.tensor1d(layer(k).bv)] as const);
    const before = tf.memory().numTensors;
    labRunningStats(
      vars.map((v, k) => ({ ...v, batchMean: batch[k]![0], batchVariance: batch[k]![1], varScale: SCALES[k]! })),
      MOMENTUM,
    );
    expect(tf.memory().numTensors).toBe(before);
    const got = await Promise.all(vars.flatMap((v) => [v.mean.data(), v.variance.data()]));
    for (let i = 0; i < want.length; i++) expect(Array.from(got[i]!), `output ${i}`).toEqual(Array.from(want[i]!));
    expect(Array.from(await held.data())).toEqual(Array.from(layer(1).rm));
    tf.dispose([held, ...batch.flat(), ...vars.flatMap((v) => [v.mean, v.variance])]);
  });
});
