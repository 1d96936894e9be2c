// Training on the real CIFAR-10 (public/data, which `npm run data` and CI's .ci/run put there):
// a small ResNet for a few hundred iterations on the wasm backend must get far above chance (90%
// error) on real test images. Skipped, saying why, when the data is absent.

import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/setup.ts';
import { loadCifarDir } from '../data/node-files.ts';
import { parseConfigQueryStrict } from '../experiment/config.ts';
import { resolveExperiment } from './experiment.ts';
import { Trainer } from './trainer.ts';

const DIR = 'public/data/cifar-10-batches-bin';
const HAVE_DATA = existsSync(`${DIR}/test_batch.bin`);

describe.skipIf(!HAVE_DATA)('real CIFAR-10 (run `npm run data` first if skipped)', () => {
  it('ResNet-8, 200 iterations of batch 64 (gcr protocol): test error far below chance', async () => {
    await initBackend('wasm');
    const data = await loadCifarDir(DIR);
    expect(data.train.n).toBe(50_000);
    expect(data.test.n).toBe(10_000);
    const config = parseConfigQueryStrict('protocol=gcr&depth=8&batch=64&schedule=constant&seed=1');
    const trainer = new Trainer(resolveExperiment(config), data, { maxSteps: 200, evalLimit: 2000 });
    const losses: number[] = [];
    const tests: number[] = [];
    const result = await trainer.run({ onStep: (e) => losses.push(e.loss), onEpoch: (e) => tests.push(e.testError) });
    expect(result.end).toBe('max-steps');
    expect(losses).toHaveLength(200);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean(losses.slice(-20))).toBeLessThan(mean(losses.slice(0, 20)) - 0.4);
    expect(tests[0]).toBeGreaterThan(0.8); // untrained: about chance
    expect(result.finalTestError!).toBeLessThan(0.72); // measured 0.59 at 250 steps; chance is 0.90
    const before = tf.memory().numTensors;
    trainer.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
  }, 600_000);
});
