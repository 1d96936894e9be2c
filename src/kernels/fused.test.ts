// addBias / addSame / addRelu (fused.ts) against tf.add / tf.relu and their autodiff on the cpu and wasm
// backends: values, gradients, that they save nothing (addRelu: only its output) for backprop, and no
// leaks. channelSum against tf.sum over [0, 1, 2].

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { addBias, addRelu, addSame, channelSum } from './fused.ts';

function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

/** Tensors the tape keeps for backprop: numBytes alive after the forward of a gradient, minus before. */
function savedBytes(f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, a: tf.Tensor, b: tf.Tensor): number {
  const e = tf.engine() as unknown as { startTape(): void; endTape(): void; state: { activeTape: { saved?: tf.Tensor[] }[] | null } };
  e.startTape();
  const y = tf.tidy(() => f(a, b));
  e.endTape();
  let bytes = 0;
  for (const node of e.state.activeTape ?? []) for (const t of node.saved ?? []) bytes += t.size * 4;
  for (const node of e.state.activeTape ?? []) for (const t of node.saved ?? []) t.dispose();
  e.state.activeTape = null;
  y.dispose();
  return bytes;
}

const SHAPES = [
  [2, 5, 6, 8],
  [3, 4, 4, 16],
  [6, 10],
];

describe.each(['cpu', 'wasm'])('fused ops on %s', (backend) => {
  it.each(SHAPES.map((s) => [s.join('x'), s] as const))('channelSum equals tf.sum over all but the last axis for %s', async (_n, shape) => {
    await tf.setBackend(backend);
    tf.tidy(() => {
      const size = shape.reduce((a, b) => a * b, 1);
      const x = tf.tensor(values(size, 1), shape);
      const axes = shape.slice(0, -1).map((_, i) => i);
      expect(maxAbsDiff(channelSum(x).dataSync(), tf.sum(x, axes).dataSync())).toBeLessThan(1e-5);
    });
  });

  it.each(SHAPES.map((s) => [s.join('x'), s] as const))('values and gradients equal tf.add / tf.relu for %s', async (_n, shape) => {
    await tf.setBackend(backend);
    tf.tidy(() => {
      const size = shape.reduce((a, b) => a * b, 1);
      const c = shape[shape.length - 1]!;
      const a = tf.tensor(values(size, 2), shape);
      const b = tf.tensor(values(size, 3), shape);
      const bias = tf.tensor1d(values(c, 4));
      const r = tf.tensor(values(size, 5), shape); // a random projection, so every gradient entry differs
      const loss = (y: tf.Tensor) => tf.sum(tf.mul(y, r)) as tf.Scalar;

      const pairs: [string, (p: tf.Tensor, q: tf.Tensor) => tf.Tensor, (p: tf.Tensor, q: tf.Tensor) => tf.Tensor, tf.Tensor][] = [
        ['addBias', (p, q) => addBias(p, q as tf.Tensor1D), (p, q) => tf.add(p, q), bias],
        ['addSame', (p, q) => addSame(p, q), (p, q) => tf.add(p, q), b],
        ['addRelu', (p, q) => addRelu(p, q), (p, q) => tf.relu(tf.add(p, q)), b],
      ];
      for (const [name, ours, ref, second] of pairs) {
        expect(maxAbsDiff(ours(a, second).dataSync(), ref(a, second).dataSync()), name).toBe(0);
        const g1 = tf.grads((p: tf.Tensor, q: tf.Tensor) => loss(ours(p, q)))([a, second]);
        const g2 = tf.grads((p: tf.Tensor, q: tf.Tensor) => loss(ref(p, q)))([a, second]);
        expect(maxAbsDiff(g1[0]!.dataSync(), g2[0]!.dataSync()), `${name} d/da`).toBeLessThan(1e-6);
        expect(maxAbsDiff(g1[1]!.dataSync(), g2[1]!.dataSync()), `${name} d/db`).toBeLessThan(1e-5);
      }
    });
  });

  it('saves nothing for backprop (addRelu: its output only), where tf.add saves both inputs', async () => {
    await tf.setBackend(backend);
    const a = tf.tensor(values(4 * 8 * 8 * 16, 6), [4, 8, 8, 16]);
    const b = tf.tensor(values(4 * 8 * 8 * 16, 7), [4, 8, 8, 16]);
    const bias = tf.tensor1d(values(16, 8));
    const full = a.size * 4;
    expect(savedBytes((p, q) => tf.add(p, q), a, b)).toBe(2 * full);
    expect(savedBytes((p) => addBias(p, bias), a, bias)).toBe(0);
    expect(savedBytes((p, q) => addSame(p, q), a, b)).toBe(0);
    expect(savedBytes((p, q) => addRelu(p, q), a, b)).toBe(full);
    tf.dispose([a, b, bias]);
  });

  it('leaks no tensors over repeated gradients', async () => {
    await tf.setBackend(backend);
    const a = tf.variable(tf.tensor(values(2 * 4 * 4 * 8, 9), [2, 4, 4, 8]));
    const bias = tf.variable(tf.tensor1d(values(8, 10)));
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(addRelu(addBias(a, bias), addSame(a, a)))) as tf.Scalar);
        return [value, ...Object.values(grads)];
      });
    tf.dispose(step());
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) tf.dispose(step());
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, bias]);
  });

  it('refuses mismatched shapes with a named reason', async () => {
    await tf.setBackend(backend);
    tf.tidy(() => {
      expect(() => addSame(tf.zeros([2, 3]), tf.zeros([3, 2]))).toThrow(/one shape/);
      expect(() => addBias(tf.zeros([2, 3]), tf.zeros([2]) as tf.Tensor1D)).toThrow(/bias must have shape \[3\]/);
    });
  });
});
