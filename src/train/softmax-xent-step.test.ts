// The fused softmax cross-entropy (src/kernels/softmax-xent.ts) in the whole training step on WebGPU:
// a ResNet-8 trained a few steps with it gives the losses and batch errors of the same steps with the
// composed ops (its kernels unregistered, the lab's other kernels on), and each step after the first
// leaves the tensor count where it was. The kernel itself is tested in src/kernels/webgpu/.

import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../backend/setup.ts';
import { randomSplit } from '../data/random-split.ts';
import { parseConfigQueryStrict } from '../experiment/config.ts';
import { labSoftmaxXent } from '../kernels/softmax-xent.ts';
import { registerWebGpuKernels } from '../kernels/webgpu/register.ts';
import { LAB_SOFTMAX_XENT, LAB_SOFTMAX_XENT_GRAD } from '../kernels/webgpu/softmax-xent.ts';
import { resolveExperiment } from './experiment.ts';
import { Trainer } from './trainer.ts';

const STEPS = 3;
const QUERY = 'protocol=gcr&depth=8&batch=4&epochs=1&seed=11';
const DATA = { train: randomSplit(64, 1), test: randomSplit(8, 2) };

async function run(): Promise<{ losses: number[]; errors: number[]; tensors: number[] }> {
  const trainer = new Trainer(resolveExperiment(parseConfigQueryStrict(QUERY)), DATA, { maxSteps: STEPS, evalBatch: 8, evalLimit: 8 });
  const out = { losses: [] as number[], errors: [] as number[], tensors: [] as number[] };
  try {
    for (let i = 0; i < STEPS; i++) {
      const { loss, error } = trainer.trainStep();
      out.losses.push((await loss.data())[0]!);
      out.errors.push((await error.data())[0]!);
      tf.dispose([loss, error]);
      out.tensors.push(tf.memory().numTensors);
    }
  } finally {
    trainer.dispose();
  }
  return out;
}

describe('the training step with the fused softmax cross-entropy on webgpu', () => {
  it(`gives the composed ops' losses and errors for ${STEPS} ResNet-8 steps`, async () => {
    await initBackend('webgpu');
    tf.unregisterKernel(LAB_SOFTMAX_XENT, 'webgpu');
    tf.unregisterKernel(LAB_SOFTMAX_XENT_GRAD, 'webgpu');
    let before;
    try {
      expect(labSoftmaxXent()).toBe(false);
      before = await run();
    } finally {
      registerWebGpuKernels();
    }
    expect(labSoftmaxXent()).toBe(true);
    const fused = await run();
    for (let i = 0; i < STEPS; i++) expect(Math.abs(fused.losses[i]! - before.losses[i]!) / before.losses[i]!).toBeLessThan(1e-5);
    expect(fused.errors).toEqual(before.errors);
    expect(new Set(fused.tensors.slice(1)).size).toBe(1);
  }, 300_000);
});
