// Training on WebGPU with the lab's kernels (Dawn in Node; SwiftShader on machines without a GPU)
// against the same run on WASM: a ResNet-8 on real CIFAR-10 images (a synthetic split where
// public/data is absent) follows the WASM run's losses, and every step leaves the tensor count where
// it was. Two float32 runs that round differently drift apart as training amplifies the difference
// (tfjs-cpu against WASM: about 4e-4 after 10 steps, 1e-2 after 35 at batch 4), so the first steps
// must agree to 1e-5 and the rest as closely as tfjs-cpu's run agrees with WASM's (at least 2e-3).
// The kernels one by one are tested in src/kernels/webgpu/.

import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../backend/setup.ts';
import type { CifarData } from '../data/cifar.ts';
import { loadCifarDir } from '../data/node-files.ts';
import { randomSplit } from '../data/random-split.ts';
import { parseConfigQueryStrict } from '../experiment/config.ts';
import { resolveExperiment } from './experiment.ts';
import { Trainer } from './trainer.ts';

const STEPS = Number(process.env.LAB_WEBGPU_STEPS ?? 50);
const QUERY = 'protocol=gcr&depth=8&batch=4&epochs=1&seed=7';

async function cifar(): Promise<CifarData> {
  try {
    const full = await loadCifarDir(undefined, { verifyMd5: false });
    const take = (s: CifarData['train'], n: number) => ({ n, images: s.images.subarray(0, n * 3072), labels: s.labels.subarray(0, n) });
    return { train: take(full.train, 1000), test: take(full.test, 8) };
  } catch {
    return { train: randomSplit(1000, 1), test: randomSplit(8, 2) };
  }
}

/** The losses of STEPS steps on a backend, and the tensor count after each step. */
async function run(data: CifarData): Promise<{ losses: number[]; tensors: number[] }> {
  const trainer = new Trainer(resolveExperiment(parseConfigQueryStrict(QUERY)), data, { maxSteps: STEPS, evalBatch: 8, evalLimit: 8 });
  const losses: number[] = [];
  const tensors: number[] = [];
  await trainer.run({
    onStep: (e) => {
      losses.push(e.loss);
      tensors.push(tf.memory().numTensors);
    },
  });
  trainer.dispose();
  return { losses, tensors };
}

describe('training on WebGPU with the lab kernels', () => {
  it(`follows the WASM run of the same seed for ${STEPS} steps as closely as tfjs-cpu does, with a flat tensor count`, async () => {
    const data = await cifar();
    await initBackend('wasm');
    const wasm = await run(data);
    await initBackend('cpu');
    const cpu = await run(data);
    const info = await initBackend('webgpu');
    expect(info.labWebGpu).toBe(true);
    const gpu = await run(data);
    expect(gpu.losses).toHaveLength(STEPS);
    const apart = (losses: number[]) => losses.map((l, i) => Math.abs(l - wasm.losses[i]!) / Math.abs(wasm.losses[i]!));
    const gpuApart = apart(gpu.losses);
    expect(Math.max(...gpuApart.slice(0, 5))).toBeLessThan(1e-5);
    expect(Math.max(...gpuApart)).toBeLessThan(Math.max(2e-3, 2 * Math.max(...apart(cpu.losses))));
    // From the second step on (the first makes the solver's state), every step ends where the last did.
    expect(new Set(gpu.tensors.slice(1)).size).toBe(1);
  }, 900_000);
});
