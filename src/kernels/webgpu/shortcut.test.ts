// The option-A shortcut on WebGPU (Dawn in Node) through shortcutA (kernels/shortcut.ts): values and
// gradient equal the composed ops (1x1 average pool with stride 2, pad) on tfjs-cpu bit for bit, at
// ResNet's stage transitions (small batch), odd sizes and stride 1; and the composed path with labWebGpu off.

import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { shortcutA } from '../shortcut.ts';
import { values } from '../test-utils.ts';
import { onCpu, onWebGpu, useWebGpu } from './test-utils.ts';

beforeAll(useWebGpu, 60_000);

function run(shape: [number, number, number, number], cout: number, stride: 1 | 2): () => tf.Tensor[] {
  return () => {
    const x = tf.tensor4d(values(tf.util.sizeFromShape(shape), 1), shape);
    const f = (t: tf.Tensor) => shortcutA(t as tf.Tensor4D, cout, stride);
    const y = f(x);
    const dy = tf.tensor4d(values(y.size, 2), y.shape);
    const { value, grads } = tf.valueAndGrads(f)([x], dy);
    return [y, value, grads[0]!];
  };
}

describe('lab option-A shortcut on webgpu', () => {
  for (const [shape, cout, stride] of [
    [[2, 32, 32, 16], 32, 2], // ResNet stage 1 to 2
    [[2, 16, 16, 32], 64, 2], // stage 2 to 3
    [[3, 7, 9, 5], 8, 2], // odd sizes: ceil(7/2) x ceil(9/2) pixels kept
    [[2, 4, 4, 3], 7, 1], // channels only
  ] as const) {
    it(`equals the composed ops on tfjs-cpu bit for bit at [${shape}] to ${cout} channels, stride ${stride}`, async () => {
      const got = await onWebGpu(run([...shape], cout, stride));
      const want = await onCpu(run([...shape], cout, stride));
      const off = await onWebGpu(run([...shape], cout, stride), false);
      for (let i = 0; i < 3; i++) {
        expect(Array.from(got[i]!), `output ${i}`).toEqual(Array.from(want[i]!));
        expect(Array.from(off[i]!), `composed, output ${i}`).toEqual(Array.from(want[i]!));
      }
    });
  }

  it('runs one lab kernel each way when on, and none when off', async () => {
    const x = tf.ones([1, 4, 4, 2]) as tf.Tensor4D;
    const on = await tf.profile(() => tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(shortcutA(t as tf.Tensor4D, 4, 2)))(x)));
    expect(on.kernelNames).toEqual(expect.arrayContaining(['LabWebGpuShortcutA', 'LabWebGpuShortcutAGrad']));
    expect(on.kernelNames).not.toContain('AvgPool');
    x.dispose();
  });
});
