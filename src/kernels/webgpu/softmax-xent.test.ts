// LabSoftmaxXent and its gradient on WebGPU (Dawn in Node) against the composed tfjs ops on tfjs-cpu,
// through softmaxCrossEntropy (../softmax-xent.ts): the loss, the error fraction and dlogits, at one
// row, a few, more rows than the workgroup has threads, ties, large logits and labels outside [0, C).
// Also that the composed ops run on webgpu when the lab's kernels are off.

import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { softmaxCrossEntropy } from '../softmax-xent.ts';
import { kernelOptions, useKernelOptions } from '../options.ts';
import { relErr, values } from '../test-utils.ts';
import { onCpu, onWebGpu, useWebGpu } from './test-utils.ts';
import { LAB_SOFTMAX_XENT, LAB_SOFTMAX_XENT_GRAD } from './softmax-xent.ts';

beforeAll(useWebGpu, 60_000);

interface Case {
  name: string;
  logits: Float32Array;
  labels: Int32Array;
  c: number;
}

function randomCase(n: number, c: number, scale: number, seed: number): Case {
  const labels = new Int32Array(n).map((_, i) => (i * 7 + seed) % c);
  return { name: `N=${n}, C=${c}, logits in ±${scale}`, logits: values(n * c, seed, scale), labels, c };
}

/** Ties (equal rows, a tie at the top) and logits of ±80 whose softmax is 0 or 1 in float32. */
function edgeCase(): Case {
  const c = 10;
  const rows = [
    new Array<number>(c).fill(0),
    new Array<number>(c).fill(3),
    [1, 5, 5, 0, 0, 0, 0, 0, 0, 0],
    [80, -80, 0, 0, 0, 0, 0, 0, 0, 0],
    [-80, -80, -80, -80, -80, -80, -80, -80, -80, 80],
    [-80, 80, -80, 80, 0, 0, 0, 0, 0, 0],
  ];
  return { name: 'ties and ±80', logits: Float32Array.from(rows.flat()), labels: Int32Array.from([0, 4, 2, 1, 9, 3]), c };
}

/** Loss, error and dlogits (for the loss's gradient dy = 0.75). */
function lossErrorGrad(k: Case): tf.Tensor[] {
  const n = k.labels.length;
  const logits = tf.tensor2d(k.logits, [n, k.c]);
  const labels = tf.tensor1d(k.labels, 'int32');
  const { value, grads } = tf.valueAndGrads((x: tf.Tensor) => softmaxCrossEntropy(x as tf.Tensor2D, labels).loss)(
    [logits],
    tf.scalar(0.75),
  );
  return [value, softmaxCrossEntropy(logits, labels).error, grads[0]!];
}

/** The same with the composed ops, written out as src/train/trainer.ts has them. */
function composed(k: Case): tf.Tensor[] {
  const n = k.labels.length;
  const logits = tf.tensor2d(k.logits, [n, k.c]);
  const labels = tf.tensor1d(k.labels, 'int32');
  const onehot = tf.oneHot(labels, k.c);
  const f = (x: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(x)), 1))) as tf.Scalar;
  const { value, grads } = tf.valueAndGrads(f)([logits], tf.scalar(0.75));
  const error = tf.mean(tf.cast(tf.notEqual(tf.argMax(logits, 1), labels), 'float32'));
  return [value, error, grads[0]!];
}

const CASES: Case[] = [
  randomCase(1, 10, 3, 1),
  randomCase(7, 10, 3, 2),
  randomCase(128, 10, 4, 3),
  randomCase(300, 10, 8, 4),
  randomCase(5, 3, 2, 5),
  edgeCase(),
  { name: 'labels outside [0, C)', logits: values(30, 6, 2), labels: Int32Array.from([-1, 10, 2]), c: 10 },
];

describe('fused softmax cross-entropy on webgpu', () => {
  for (const k of CASES) {
    it(`matches the composed ops on tfjs-cpu: ${k.name}`, async () => {
      const got = await onWebGpu(() => lossErrorGrad(k));
      const want = await onCpu(() => composed(k));
      expect(relErr(got[0]!, want[0]!)).toBeLessThan(1e-6);
      expect(relErr(got[1]!, want[1]!)).toBeLessThan(1e-6);
      expect(relErr(got[2]!, want[2]!)).toBeLessThan(1e-6);
    });
  }

  it('runs one fused kernel each way with the lab kernels on, the composed ops with them off', async () => {
    const k = CASES[1]!;
    const backend = tf.backend();
    const before = kernelOptions(backend);
    const kernels = async (lab: boolean) => {
      useKernelOptions(backend, { ...before, labWebGpu: lab });
      try {
        const profile = await tf.profile(() => tf.dispose(tf.tidy(() => lossErrorGrad(k))));
        return profile.kernelNames;
      } finally {
        useKernelOptions(backend, before);
      }
    };
    const on = await kernels(true);
    expect(on).toContain(LAB_SOFTMAX_XENT);
    expect(on).toContain(LAB_SOFTMAX_XENT_GRAD);
    expect(on).not.toContain('OneHot');
    const off = await kernels(false);
    expect(off).not.toContain(LAB_SOFTMAX_XENT);
    expect(off).toContain('OneHot');
    expect(off).toContain('ArgMax');
    const [got, want] = [await onWebGpu(() => composed(k), false), await onWebGpu(() => lossErrorGrad(k), false)];
    for (let i = 0; i < 3; i++) expect(Array.from(got[i]!)).toEqual(Array.from(want[i]!));
  });

  it('leaves no tensor behind', async () => {
    const k = CASES[2]!;
    await onWebGpu(() => lossErrorGrad(k));
    const before = tf.memory().numTensors;
    await onWebGpu(() => lossErrorGrad(k));
    expect(tf.memory().numTensors).toBe(before);
  });
});
