// The lab's SGD step on WebGPU (Dawn in Node) through src/train/solvers.ts: both forms, with and without
// weight decay per parameter, against the composed formulas on tfjs-cpu (the same float32 bits), a
// hand computation of one step, the dispatch count, and the out-of-place path where a parameter's data
// is shared.

import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSolver, defaultSolverSettings, type SolverParam } from '../../train/solvers.ts';
import { values } from '../test-utils.ts';
import { observeLabDispatches } from './dispatch.ts';
import { onCpu, onWebGpu, useWebGpu } from './test-utils.ts';

beforeAll(useWebGpu, 60_000);

const SHAPES = [[3, 3, 16, 16], [16], [16], [7], [64, 10], [3, 3, 3, 16], [1]];

/** A Variable that holds its data alone (its initial tensor disposed), as the model's do. */
function variable(v: Float32Array | number[], shape: number[]): tf.Variable {
  const t = tf.tensor(v, shape);
  const out = tf.variable(t, true);
  t.dispose();
  return out;
}

/** Three steps of `name` on parameters of SHAPES (every other one without decay); their values and slots after. */
function steps(name: 'sgd' | 'sgd-nesterov', keep?: (params: SolverParam[]) => tf.Tensor[]): tf.Tensor[] {
  const solver = createSolver(defaultSolverSettings(name));
  const params: SolverParam[] = SHAPES.map((shape, i) => ({
    name: `p${i}`,
    variable: variable(values(tf.util.sizeFromShape(shape), 10 + i, 0.5), shape),
    decay: i % 2 === 0,
  }));
  const held = keep?.(params) ?? [];
  for (let s = 0; s < 3; s++) {
    const grads: Record<string, tf.Tensor> = {};
    params.forEach((p, i) => (grads[p.name] = tf.tensor(values(p.variable.size, 100 * s + i, 0.3), p.variable.shape)));
    solver.step(params, grads, 0.1 / (s + 1));
    tf.dispose(Object.values(grads));
  }
  const state = solver.getState();
  const out = [...params.map((p) => p.variable.clone()), ...Object.values(state.slots), ...held];
  solver.dispose();
  params.forEach((p) => p.variable.dispose());
  return out;
}

describe('lab SGD step on webgpu', () => {
  for (const name of ['sgd-nesterov', 'sgd'] as const) {
    it(`${name}: equals the composed formulas on tfjs-cpu bit for bit, decay on and off`, async () => {
      const got = await onWebGpu(() => steps(name));
      const want = await onCpu(() => steps(name));
      const composed = await onWebGpu(() => steps(name), false);
      expect(got.length).toBe(2 * SHAPES.length);
      got.forEach((g, i) => expect(Array.from(g), `tensor ${i}`).toEqual(Array.from(want[i]!)));
      composed.forEach((g, i) => expect(Array.from(g), `composed, tensor ${i}`).toEqual(Array.from(want[i]!)));
    });
  }

  it('equals a hand computation of one step in float32', async () => {
    const f = Math.fround;
    const [w0, g0, lr, m, wd] = [0.75, -0.5, 0.1, 0.9, 1e-4];
    for (const name of ['sgd-nesterov', 'sgd'] as const) {
      const [w, buf] = await onWebGpu(() => {
        const solver = createSolver(defaultSolverSettings(name));
        const p = variable([w0, w0], [2]);
        const grads = { p: tf.tensor1d([g0, g0]) };
        solver.step([{ name: 'p', variable: p, decay: true }], grads, lr);
        const out = [p.clone(), ...Object.values(solver.getState().slots)];
        solver.dispose();
        p.dispose();
        return out;
      });
      const g = f(f(g0) + f(f(wd) * f(w0))); // g + wd*w
      // buf starts at 0: Nesterov buf = 0.9*0 + g, w + (-lr)*(g + 0.9*buf); neon v = 0.9*0 - lr*g, w + v.
      const b = name === 'sgd-nesterov' ? f(f(f(m) * 0) + g) : f(f(f(m) * 0) - f(f(lr) * g));
      const step = name === 'sgd-nesterov' ? f(f(-lr) * f(g + f(f(m) * b))) : b;
      expect(Array.from(buf!)).toEqual([b, b]);
      expect(Array.from(w!)).toEqual([f(f(w0) + step), f(f(w0) + step)]);
    }
  });

  it('updates two parameters per dispatch, in place, with nothing read back', async () => {
    const kernels: string[] = [];
    observeLabDispatches((w) => kernels.push(w.kernel));
    try {
      await onWebGpu(() => steps('sgd-nesterov'));
    } finally {
      observeLabDispatches(null);
    }
    expect(kernels.filter((k) => k === 'lab.sgd').length).toBe(3 * Math.ceil(SHAPES.length / 2));
  });

  it('leaves no tensor behind, in place or not', async () => {
    await onWebGpu(() => steps('sgd-nesterov')); // pipelines compiled, slots' first use done
    const before = tf.memory().numTensors;
    await onWebGpu(() => steps('sgd-nesterov', (params) => [params[1]!.variable.clone()]));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('goes out of place where a parameter shares its data, leaving the other holder as it was', async () => {
    const run = () => steps('sgd', (params) => [params[0]!.variable.clone(), params[3]!.variable.clone()]);
    const got = await onWebGpu(run);
    const want = await onCpu(run);
    got.forEach((g, i) => expect(Array.from(g), `tensor ${i}`).toEqual(Array.from(want[i]!)));
    // The clones kept their values from before the first step.
    expect(Array.from(got[got.length - 2]!)).toEqual(Array.from(values(16 * 9 * 16, 10, 0.5)));
  });

  it('drops a stale CPU copy of a parameter read before the step', async () => {
    const solver = createSolver(defaultSolverSettings('sgd'));
    const p = variable([1, 2, 3], [3]);
    await p.data(); // tfjs-webgpu keeps what it read on the CPU
    const g = tf.tensor1d([1, 1, 1]);
    solver.step([{ name: 'p', variable: p, decay: false }], { p: g }, 0.5);
    const out = tf.add(p, 0);
    expect(Array.from(await p.data())).toEqual([0.5, 1.5, 2.5]);
    expect(Array.from(await out.data())).toEqual([0.5, 1.5, 2.5]);
    tf.dispose([solver, p, g, out].filter((t): t is tf.Tensor => t instanceof tf.Tensor));
    solver.dispose();
  });
});
