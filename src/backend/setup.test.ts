// initBackend in Node: wasm (on every core: tfjs-wasm's threaded build) and cpu start with gradients
// and training kernels in place, a small conv net (conv, batch norm, ReLU, stride-2 conv, global pool, dense) trains on wasm with the same
// gradients as on cpu, memory stays flat, and GPU backends fail with a clear error.

import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { batchNormTrain } from '../kernels/batchnorm.ts';
import { BackendUnavailableError, initBackend } from './setup.ts';
import { nodeWasmDir } from './wasm-paths.node.ts';

function values(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = (state / 2 ** 31 - 1) * scale;
  }
  return out;
}

const SHAPES: Record<string, number[]> = {
  w1: [3, 3, 3, 8],
  g1: [8],
  b1: [8],
  w2: [3, 3, 8, 16],
  g2: [16],
  b2: [16],
  wfc: [16, 10],
  bfc: [10],
};

function makeParams(): Record<string, tf.Variable> {
  const params: Record<string, tf.Variable> = {};
  let seed = 100;
  for (const [name, shape] of Object.entries(SHAPES)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const init = name.startsWith('g') ? tf.ones(shape) : tf.tensor(values(size, seed++, name.startsWith('w') ? 0.5 : 0.1), shape);
    params[name] = tf.variable(init, true, name);
    init.dispose();
  }
  return params;
}

function loss(p: Record<string, tf.Variable>, x: tf.Tensor4D, labels: tf.Tensor2D): tf.Scalar {
  let h = tf.conv2d(x, p.w1 as tf.Tensor4D, 1, 'same');
  h = tf.relu(batchNormTrain(h, p.g1 as tf.Tensor1D, p.b1 as tf.Tensor1D, 1e-5).y);
  h = tf.conv2d(h, p.w2 as tf.Tensor4D, 2, 'same');
  h = tf.relu(batchNormTrain(h, p.g2 as tf.Tensor1D, p.b2 as tf.Tensor1D, 1e-5).y);
  const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
  const logits = tf.add(tf.matMul(pooled, p.wfc as tf.Tensor2D), p.bfc);
  return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
}

function batch(): { x: tf.Tensor4D; labels: tf.Tensor2D } {
  const x = tf.tensor4d(values(4 * 8 * 8 * 3, 7), [4, 8, 8, 3]);
  const labels = tf.oneHot(tf.tensor1d([1, 3, 5, 7], 'int32'), 10) as tf.Tensor2D;
  return { x, labels };
}

/** Gradients of one step, by parameter name. */
function gradients(): Record<string, Float32Array> {
  const params = makeParams();
  const { x, labels } = batch();
  const { grads, value } = tf.variableGrads(() => loss(params, x, labels));
  const out: Record<string, Float32Array> = {};
  for (const [name, g] of Object.entries(grads)) out[name] = g.dataSync() as Float32Array;
  tf.dispose([value, x, labels, ...Object.values(grads), ...Object.values(params)]);
  return out;
}

describe('initBackend in Node', () => {
  it('finds the wasm binaries next to the package', () => {
    expect(nodeWasmDir()).toMatch(/tfjs-backend-wasm[/\\]dist[/\\]$/);
  });

  it('starts wasm and cpu and reports them', async () => {
    const wasm = await initBackend('wasm');
    expect(wasm.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    // One thread per core, at most 4: tfjs-wasm's threaded build on a shared memory (wasm-threads.node.ts),
    // and the lab's kernels split over as many (their helpers have started: initBackend waits for them).
    const threads = Math.min(4, availableParallelism());
    expect(wasm.threads).toBe(threads);
    expect(wasm.lab?.threads).toBe(threads);
    const memory = (tf.backend() as unknown as { wasm: { wasmMemory?: WebAssembly.Memory } }).wasm.wasmMemory;
    expect(memory?.buffer instanceof SharedArrayBuffer).toBe(threads > 1);
    expect(typeof wasm.simd).toBe('boolean');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    const cpu = await initBackend('cpu');
    expect(cpu).toEqual({ backend: 'cpu', threads: 1, simd: false });
    expect(tf.getBackend()).toBe('cpu');
    expect((await initBackend('wasm')).backend).toBe('wasm'); // switching back is fine
  });

  it('trains a small conv net on wasm with the same gradients as on cpu', async () => {
    await initBackend('cpu');
    const want = gradients();
    await initBackend('wasm');
    const got = gradients();
    for (const name of Object.keys(SHAPES)) {
      const g = got[name]!;
      const w = want[name]!;
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < w.length; i++) {
        diff = Math.max(diff, Math.abs(g[i]! - w[i]!));
        scale = Math.max(scale, Math.abs(w[i]!));
      }
      expect(scale, name).toBeGreaterThan(0);
      expect(diff / scale, name).toBeLessThan(1e-4);
    }
  });

  it('lowers the loss with SGD on wasm without leaking tensors', async () => {
    await initBackend('wasm');
    const params = makeParams();
    const { x, labels } = batch();
    const opt = tf.train.sgd(0.1);
    const step = () => tf.tidy(() => opt.minimize(() => loss(params, x, labels), true)!.dataSync()[0]!);
    const first = step();
    const tensors = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 10; i++) last = step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(Number.isFinite(last)).toBe(true);
    expect(last).toBeLessThan(first);
    tf.dispose([x, labels, ...Object.values(params)]);
    opt.dispose();
  });

  it("keeps wasm's own Conv2DBackpropInput working (set up although replaced before wasm started)", async () => {
    await initBackend('wasm');
    tf.tidy(() => {
      const dy = tf.tensor4d(values(2 * 4 * 4 * 3, 31), [2, 4, 4, 3]);
      const filter = tf.tensor4d(values(3 * 3 * 2 * 3, 32), [3, 3, 2, 3]);
      const attrs = { strides: 1, pad: 'same', dimRoundingMode: undefined };
      const nhwc = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, {
        ...attrs,
        dataFormat: 'NHWC',
        inputShape: [2, 4, 4, 2],
      } as never) as tf.Tensor4D; // the composed kernel
      const nchw = tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.transpose(dy, [0, 3, 1, 2]), filter }, {
        ...attrs,
        dataFormat: 'NCHW',
        inputShape: [2, 2, 4, 4],
      } as never) as tf.Tensor4D; // falls back to wasm's own kernel
      const diff = tf.max(tf.abs(tf.sub(tf.transpose(nchw, [0, 2, 3, 1]), nhwc))).dataSync()[0]!;
      expect(diff).toBeLessThan(1e-5);
    });
  });

  it("falls back to tfjs-wasm's single-threaded build, with a warning, where the threaded one cannot start", () => {
    // A child Node whose temporary folder does not exist: the threaded build's pthread script cannot be
    // written, so its start fails; the backend still starts and computes.
    const child = `
const os = await import('node:os');
os.default.tmpdir = () => '/nonexistent/folder';
const { initBackend } = await import('./src/backend/setup.ts');
const tf = await import('@tensorflow/tfjs-core');
const info = await initBackend('wasm', { threads: 2 });
const y = tf.conv2d(tf.ones([1, 4, 4, 4]), tf.ones([3, 3, 4, 4]), 1, 'same');
console.log(JSON.stringify({ threads: info.threads, lab: info.lab?.threads, sum: tf.sum(y).dataSync()[0] }));
`;
    const r = spawnSync(join(process.cwd(), 'node_modules/.bin/tsx'), ['--input-type=module', '-e', child], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/threaded build did not start in Node \(ENOENT.*\); using its single-threaded one/);
    // The 16 outputs' 3x3 windows cover 100 pixels inside the 4x4 image (4 corners x 4, 8 edges x 6,
    // 4 inner x 9), each over 4 channels, for 4 filters: 1600.
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ threads: 1, lab: 1, sum: 1600 });
  });

  it("gives XNNPACK its own thread count where asked (xnnpackThreads), the lab's kernels keeping theirs", () => {
    const child = `
const { initBackend } = await import('./src/backend/setup.ts');
const info = await initBackend('wasm', { threads: 2, xnnpackThreads: 1 });
console.log(JSON.stringify({ threads: info.threads, lab: info.lab?.threads }));
`;
    const r = spawnSync(join(process.cwd(), 'node_modules/.bin/tsx'), ['--input-type=module', '-e', child], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ threads: 1, lab: 2 });
  });

  it('refuses webgl in Node with a named error (webgpu runs through Dawn: webgpu.node.test.ts)', async () => {
    await expect(initBackend('webgl')).rejects.toThrow(BackendUnavailableError);
    await expect(initBackend('webgl')).rejects.toThrow(/only in browsers/);
  });
});
