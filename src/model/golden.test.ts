// Golden test against an independent implementation (PyTorch 1.13, float64): the same seeded
// ResNet-8 (gcr protocol, conv biases, option A) and batch give the same training-mode logits, loss,
// gradients, Nesterov step, BN running statistics and eval-mode logits, on the cpu and wasm backends.
// The numbers come from scripts/golden/make-golden.ts (which exports our weights as .safetensors and
// runs scripts/golden/torch_golden.py); this catches silent drift in the architecture, the BN
// conventions, the loss, the solver and the weights' PyTorch layout.

import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '../backend/setup.ts';
import { createSolver } from '../train/solvers.ts';
import { modelSpec, resolveExperiment } from '../train/experiment.ts';
import { parseConfigQueryStrict } from '../experiment/config.ts';
import { solverParamsOf, trainOnBatch } from '../train/trainer.ts';
import { GOLDEN, makeGoldenInput } from './golden.ts';
import golden from './golden.fixture.json';
import { describeParams, ResNet, disposeStats, type BnBatchStats } from './resnet.ts';
import { encodeSafetensors, parseSafetensors, readModelValues } from './weights.ts';

/** Max |a - b| / (max |b| over the array), so tolerances mean the same for tiny gradients and large logits. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let scale = 1e-12;
  let worst = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst / scale;
}

/**
 * A conv bias followed by BN has exactly zero gradient (and stays at its initial 0): PyTorch's float64
 * gives ~1e-17, our float32 rounding noise ~1e-7; compare those absolutely, everything else relatively.
 */
function expectClose(name: string, got: ArrayLike<number>, expected: number[], tol: number): void {
  if (/(^|\.)conv\d\.bias$/.test(name)) {
    expect(Math.max(...Array.from(got, Math.abs)), name).toBeLessThan(1e-5);
    expect(Math.max(...expected.map(Math.abs)), name).toBeLessThan(1e-10);
  } else {
    expect(relErr(got, expected), name).toBeLessThan(tol);
  }
}

describe.each(['cpu', 'wasm'] as BackendName[])('golden ResNet-8 step vs PyTorch on %s', (backend) => {
  it('matches logits, loss, gradients, the Nesterov step, BN statistics and eval logits', async () => {
    await initBackend(backend);
    const config = parseConfigQueryStrict(GOLDEN.config);
    const spec = modelSpec(config);
    const model = ResNet.create(spec, GOLDEN.seed);
    const { x, y } = makeGoldenInput(GOLDEN.batch);

    // 1. Training-mode logits (BN on batch statistics).
    const logits = tf.tidy(() => {
      const stats: BnBatchStats[] = [];
      const out = model.forward(tf.tensor4d(x, [GOLDEN.batch, 32, 32, 3]), true, stats);
      disposeStats(stats);
      return out;
    });
    expect(relErr(logits.dataSync(), golden.trainLogits)).toBeLessThan(2e-5);
    logits.dispose();

    // 2. Gradients, compared in PyTorch layout through our own safetensors export of the gradients.
    const info = describeParams(spec).filter((p) => p.trainable);
    const gradValues = tf.tidy(() => {
      const { grads } = tf.variableGrads(() => {
        const stats: BnBatchStats[] = [];
        const l = model.forward(tf.tensor4d(x, [GOLDEN.batch, 32, 32, 3]), true, stats);
        disposeStats(stats);
        return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(tf.tensor1d(y, 'int32'), 10), tf.logSoftmax(l)), 1))) as tf.Scalar;
      }, model.trainableVariables());
      return info.map((p) => grads[model.params[p.name].name].dataSync() as Float32Array);
    });
    const asWeights = Object.fromEntries(
      describeParams(spec).map((p) => {
        const i = info.findIndex((q) => q.name === p.name);
        return [p.name, i >= 0 ? gradValues[i] : new Float32Array(p.shape.reduce((a, b) => a * b, 1))];
      }),
    );
    const torchGrads = parseSafetensors('grads', encodeSafetensors(spec, { config: '', steps: 0, values: asWeights })).tensors;
    for (const [name, expected] of Object.entries(golden.grads)) expectClose(name, torchGrads.get(name)!.values, expected, 5e-4);

    // 3. One real training step through the trainer's own code path.
    const settings = resolveExperiment({ ...config, lr: GOLDEN.lr }).solver;
    const solver = createSolver(settings);
    const r = trainOnBatch(model, solver, solverParamsOf(model), x, y, GOLDEN.lr, 0.1);
    expect((await r.loss.data())[0]).toBeCloseTo(golden.loss, 5);
    tf.dispose([r.loss, r.error]);
    const after = parseSafetensors(
      'after',
      encodeSafetensors(spec, { config: '', steps: 1, values: await readModelValues(model) }),
    ).tensors;
    for (const [name, expected] of Object.entries(golden.paramsAfterStep)) expectClose(name, after.get(name)!.values, expected, 1e-5);
    for (const [name, expected] of Object.entries(golden.runningAfterStep)) {
      expect(relErr(after.get(name)!.values, expected), name).toBeLessThan(1e-5);
    }

    // 4. Eval-mode logits after the step (BN on the running statistics).
    const evalLogits = tf.tidy(() => model.forward(tf.tensor4d(x, [GOLDEN.batch, 32, 32, 3]), false));
    expect(relErr(evalLogits.dataSync(), golden.evalLogitsAfterStep)).toBeLessThan(1e-4);
    evalLogits.dispose();
    solver.dispose();
    model.dispose();
  });
});
