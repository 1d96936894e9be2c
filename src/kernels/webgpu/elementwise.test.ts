// LabAddRelu and LabReluGrad on WebGPU (Dawn in Node) against tfjs-cpu's relu(a + b) and dy * step(y),
// through the ops that use them (fused.ts addRelu and its gradient), at sizes that are and are not
// multiples of four.

import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { addRelu } from '../fused.ts';
import { relErr, values } from '../test-utils.ts';
import { onCpu, onWebGpu, useWebGpu } from './test-utils.ts';

beforeAll(useWebGpu, 60_000);

describe('lab element-wise kernels on webgpu', () => {
  for (const shape of [
    [2, 8, 8, 16],
    [3, 5, 7, 3],
    [1, 1, 1, 1],
  ]) {
    it(`addRelu and its gradient match tfjs-cpu at [${shape}]`, async () => {
      const n = shape.reduce((p, d) => p * d, 1);
      const run = () => {
        const a = tf.tensor(values(n, 1), shape);
        const b = tf.tensor(values(n, 2), shape);
        const dy = tf.tensor(values(n, 3), shape);
        const { value, grads } = tf.valueAndGrads((x: tf.Tensor, y: tf.Tensor) => addRelu(x, y))([a, b], dy);
        return [value, ...grads];
      };
      const got = await onWebGpu(run);
      const want = await onCpu(() => {
        const a = tf.tensor(values(n, 1), shape);
        const b = tf.tensor(values(n, 2), shape);
        const dy = tf.tensor(values(n, 3), shape);
        const y = tf.relu(tf.add(a, b));
        const d = tf.mul(dy, tf.step(y));
        return [y, d, d];
      });
      for (let i = 0; i < 3; i++) expect(relErr(got[i]!, want[i]!)).toBeLessThan(1e-6);
    });
  }

  it('runs the lab kernels, not tfjs ops, when they are on', async () => {
    const profile = await tf.profile(() => addRelu(tf.ones([4, 4]), tf.ones([4, 4])));
    expect(profile.kernelNames).toContain('LabAddRelu');
  });
});
