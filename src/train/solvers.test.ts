// Checks each solver against the seed formulas computed independently in plain float64 JavaScript:
// first steps, weight decay, lr changes, state round trips and tensor leaks. On wasm, both SGD forms
// run in the lab's one-pass kernel: the same checks there, and the same bits as the composed ops.

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_SGD_STEP } from '../kernels/lab-ops.ts';
import { patchKernelOptions } from '../kernels/test-utils.ts';
import { createRng } from '../util/rng.ts';
import { SOLVER_NAMES, type SolverName } from '../experiment/solvers.ts';
import { createSolver, defaultSolverSettings, SolverError, type SolverParam, type SolverSettings } from './solvers.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

// Float32-exact starting values so the float64 reference starts from the same numbers.
const f32 = (xs: number[]) => Array.from(Float32Array.from(xs));
const P0 = f32([0.5, -1.25, 0.3, 2.0, -0.07, 0]);
const GRADS = [f32([0.1, -0.2, 0.05, 0.4, 0, -0.3]), f32([-0.05, 0.3, 0.2, -0.1, 0.02, 0.1]), f32([0.2, 0.1, -0.4, 0.3, 0.01, -0.2])];
const SHAPE = [2, 3];

/** Plain float64 reference of each solver (the same formulas, written independently of tfjs). */
function reference(s: SolverSettings, p0: number[], grads: number[][], lrs: number[], decay = true): number[] {
  const p = [...p0];
  const n = p.length;
  const a = new Array<number>(n).fill(0); // momentum buffer / velocity / mean square / accumulator / m / accGrad
  const b = new Array<number>(n).fill(0); // v / accDelta
  grads.forEach((grad, k) => {
    const lr = lrs[k]!;
    const t = k + 1;
    for (let i = 0; i < n; i++) {
      const g = grad[i]! + (decay ? s.weightDecay * p[i]! : 0);
      switch (s.name) {
        case 'sgd-nesterov': // buf = g first, then m*buf + g; p -= lr*(g + m*buf)
          a[i] = k === 0 ? g : s.momentum * a[i]! + g;
          p[i] = p[i]! - lr * (g + s.momentum * a[i]!);
          break;
        case 'sgd': // v = m*v - lr*g; p += v
          a[i] = s.momentum * a[i]! - lr * g;
          p[i] = p[i]! + a[i]!;
          break;
        case 'rmsprop':
          a[i] = s.rho * a[i]! + (1 - s.rho) * g * g;
          p[i] = p[i]! - (lr * g) / (Math.sqrt(a[i]!) + s.eps);
          break;
        case 'adagrad':
          a[i] = a[i]! + g * g;
          p[i] = p[i]! - (lr * g) / (Math.sqrt(a[i]!) + s.eps);
          break;
        case 'adadelta': {
          a[i] = s.rho * a[i]! + (1 - s.rho) * g * g;
          const d = (Math.sqrt(b[i]! + s.eps) / Math.sqrt(a[i]! + s.eps)) * g;
          p[i] = p[i]! - d;
          b[i] = s.rho * b[i]! + (1 - s.rho) * d * d;
          break;
        }
        case 'adam': {
          const b1 = s.beta1!;
          const b2 = s.beta2!;
          a[i] = b1 * a[i]! + (1 - b1) * g;
          b[i] = b2 * b[i]! + (1 - b2) * g * g;
          // Torch's form: bias corrections folded into the step size, eps added to the uncorrected root.
          p[i] = p[i]! - ((lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t)) * (a[i]! / (Math.sqrt(b[i]!) + s.eps));
          break;
        }
      }
    }
  });
  return p;
}

function makeParam(name: string, values: number[], decay = true): SolverParam {
  const init = tf.tensor(values, SHAPE);
  const variable = tf.variable(init, true, undefined, 'float32');
  init.dispose();
  return { name, variable, decay };
}

/** Runs the tfjs solver for the given grads/lrs and returns the final parameter values. */
function runSolver(s: SolverSettings, grads: number[][], lrs: number[], decay = true): number[] {
  const solver = createSolver(s);
  const param = makeParam('w', P0, decay);
  grads.forEach((g, k) => {
    const gt = tf.tensor(g, SHAPE);
    solver.step([param], { w: gt }, lrs[k]!);
    gt.dispose();
  });
  const out = Array.from(param.variable.dataSync());
  param.variable.dispose();
  solver.dispose();
  return out;
}

function expectClose(actual: number[], expected: number[]) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => {
    const e = expected[i]!;
    const tol = 2e-6 * Math.max(1, Math.abs(e));
    if (!(Math.abs(v - e) <= tol))
      throw new Error(`element ${i}: got ${v}, expected ${e} (|diff| ${Math.abs(v - e)} > ${tol})\nall: ${actual}\nexpected: ${expected}`);
  });
}

/** Settings for each solver as a test case: the seed defaults with a non-zero weight decay where it applies. */
function settings(name: SolverName, wd: number): SolverSettings {
  return { ...defaultSolverSettings(name), weightDecay: wd };
}

describe('every solver matches the float64 formula', () => {
  for (const name of SOLVER_NAMES) {
    for (const wd of [0, 0.01]) {
      it(`${name}, weight decay ${wd}: one step, then three steps with changing lr`, () => {
        const s = settings(name, wd);
        expectClose(runSolver(s, GRADS.slice(0, 1), [0.1]), reference(s, P0, GRADS.slice(0, 1), [0.1]));
        const lrs = [0.1, 0.05, 0.01];
        const got = runSolver(s, GRADS, lrs);
        expectClose(got, reference(s, P0, GRADS, lrs));
        // The step did something (guards against a reference that is a no-op too).
        expect(got.some((v, i) => Math.abs(v - P0[i]!) > 1e-4)).toBe(true);
      });
    }
  }

  it('decay = false exempts a parameter from weight decay', () => {
    for (const name of SOLVER_NAMES) {
      const s = settings(name, 0.5);
      const got = runSolver(s, GRADS, [0.1, 0.1, 0.1], false);
      expectClose(got, reference(s, P0, GRADS, [0.1, 0.1, 0.1], false));
      expectClose(got, runSolver(settings(name, 0), GRADS, [0.1, 0.1, 0.1]));
    }
  });

  it('weight decay is g + wd*p (not tfjs l2, which doubles it): sgd-nesterov first step by hand', () => {
    const s = settings('sgd-nesterov', 0.1);
    const got = runSolver(s, [f32([0, 0, 0, 0, 0, 0])], [1]);
    // g = 0.1 p; buf = g; step = g + 0.9 g = 1.9 * 0.1 p; p1 = p - 0.19 p = 0.81 p
    expectClose(
      got,
      P0.map((p) => 0.81 * p),
    );
  });

  it('sgd-nesterov first step is p - lr*(1+m)*g (buf = g), sgd first step is p - lr*g', () => {
    const g = GRADS[0]!;
    expectClose(
      runSolver(settings('sgd-nesterov', 0), [g], [0.1]),
      P0.map((p, i) => p - 0.1 * 1.9 * g[i]!),
    );
    expectClose(
      runSolver(settings('sgd', 0), [g], [0.1]),
      P0.map((p, i) => p - 0.1 * g[i]!),
    );
  });

  it('sgd and sgd-nesterov differ where the lr changes: nesterov scales the whole buffer, classic momentum keeps old lr in v', () => {
    // Same gradient twice: classic v2 = m*(-lr1 g) - lr2 g; nesterov buf2 = (1+m) g, step = g + m(1+m) g times lr2.
    const g = GRADS[0]!;
    const m = 0.9;
    const [lr1, lr2] = [0.1, 0.01];
    const classic = P0.map((p, i) => p - lr1 * g[i]! + (m * -lr1 * g[i]! - lr2 * g[i]!));
    const nesterov = P0.map((p, i) => p - lr1 * (1 + m) * g[i]! - lr2 * (1 + m * (1 + m)) * g[i]!);
    expectClose(runSolver(settings('sgd', 0), [g, g], [lr1, lr2]), classic);
    expectClose(runSolver(settings('sgd-nesterov', 0), [g, g], [lr1, lr2]), nesterov);
    // With a constant lr the classic form equals the Nesterov-free heavy ball, and differs from Nesterov.
    const a = runSolver(settings('sgd', 0), [g, g], [lr1, lr1]);
    const b = runSolver(settings('sgd-nesterov', 0), [g, g], [lr1, lr1]);
    expect(Math.abs(a[3]! - b[3]!)).toBeGreaterThan(1e-3);
  });

  it('adadelta ignores the learning rate', () => {
    const s = settings('adadelta', 0);
    expectClose(runSolver(s, GRADS, [0.1, 5, 0]), runSolver(s, GRADS, [1, 1, 1]));
  });

  it('rmsprop and adagrad put eps outside the root; adadelta inside (first step by hand)', () => {
    const g = GRADS[0]!;
    // rmsprop alpha 0.9: m = 0.1 g^2; p -= lr g / (sqrt(0.1) |g| + 1e-8)
    expectClose(
      runSolver(settings('rmsprop', 0), [g], [0.01]),
      P0.map((p, i) => p - (0.01 * g[i]!) / (Math.sqrt(0.1 * g[i]! ** 2) + 1e-8)),
    );
    // adagrad: acc = g^2: p -= lr * g / (|g| + 1e-10), so a unit-size step of lr where g != 0
    expectClose(
      runSolver(settings('adagrad', 0), [g], [0.01]),
      P0.map((p, i) => p - 0.01 * Math.sign(g[i]!)),
    );
    // adadelta rho 0.3 eps 1e-6: delta = sqrt(1e-6)/sqrt(0.7 g^2 + 1e-6) g
    expectClose(
      runSolver(settings('adadelta', 0), [g], [1]),
      P0.map((p, i) => p - (1e-3 / Math.sqrt(0.7 * g[i]! ** 2 + 1e-6)) * g[i]!),
    );
  });

  it('tiny gradients, where the place of eps decides the step, still match the formula', () => {
    const tiny = [f32([1e-9, -1e-7, 3e-6, -1e-5, 0, 2e-8]), f32([-2e-9, 1e-7, 1e-6, 1e-5, 1e-9, -1e-8])];
    for (const name of ['rmsprop', 'adagrad', 'adadelta', 'adam'] as const) {
      const s = settings(name, 0);
      expectClose(runSolver(s, tiny, [0.1, 0.1]), reference(s, P0, tiny, [0.1, 0.1]));
    }
  });

  it('adam first step is lr * sign(g) up to eps (bias correction)', () => {
    const g = GRADS[0]!;
    const got = runSolver(settings('adam', 0), [g], [0.005]);
    expectClose(
      got,
      P0.map((p, i) => p - ((0.005 * Math.sqrt(0.001)) / 0.1) * ((0.1 * g[i]!) / (Math.sqrt(0.001) * Math.abs(g[i]!) + 1e-8))),
    );
  });
});

describe('state', () => {
  for (const name of SOLVER_NAMES) {
    it(`${name}: getState/loadState into a fresh solver continues exactly like an uninterrupted run`, () => {
      const s = settings(name, 0.01);
      const lrs = [0.1, 0.05, 0.02, 0.01];
      const straight = runSolver(s, [...GRADS, GRADS[0]!], lrs);

      const a = createSolver(s);
      const w = makeParam('w', P0);
      const b2 = makeParam('b', [1, 2, 3, 4, 5, 6]);
      const step = (solver: typeof a, k: number) => {
        const g = tf.tensor(k < 3 ? GRADS[k]! : GRADS[0]!, SHAPE);
        const gb = tf.onesLike(g);
        solver.step([w, b2], { w: g, b: gb }, lrs[k]!);
        tf.dispose([g, gb]);
      };
      step(a, 0);
      step(a, 1);
      const wAfter2 = Array.from(w.variable.dataSync());
      const state = a.getState();
      expect(state.step).toBe(2);
      const expectedKeys = {
        'sgd-nesterov': ['momentum'],
        sgd: ['velocity'],
        rmsprop: ['meanSquare'],
        adagrad: ['accumulator'],
        adadelta: ['accGrad', 'accDelta'],
        adam: ['m', 'v'],
      }[name];
      expect(Object.keys(state.slots).sort()).toEqual(['b', 'w'].flatMap((p) => expectedKeys.map((k) => `${p}/${k}`)).sort());
      const saved = Object.fromEntries(Object.entries(state.slots).map(([k, t]) => [k, Array.from(t.dataSync())]));
      // Taking more steps on the original must not change what getState returned.
      step(a, 2);
      for (const [k, t] of Object.entries(state.slots)) expect(Array.from(t.dataSync())).toEqual(saved[k]);
      a.dispose();

      // Restore the parameter values after two steps and the saved state into a new solver.
      tf.tidy(() => w.variable.assign(tf.tensor(wAfter2, SHAPE)));
      const restored = createSolver(s);
      restored.loadState(state);
      tf.dispose(Object.values(state.slots)); // loadState took copies
      step(restored, 2);
      step(restored, 3);
      const got = Array.from(w.variable.dataSync());
      // Compare with the uninterrupted run (w gets the same gradients in both).
      expectClose(got, straight);
      restored.dispose();
      tf.dispose([w.variable, b2.variable]);
    });
  }

  it("loadState rejects keys that are not this solver's slots, and step rejects mismatched shapes", () => {
    const solver = createSolver(defaultSolverSettings('adam'));
    const t = tf.zeros([2, 3]);
    expect(() => solver.loadState({ step: 1, slots: { 'w/momentum': t } })).toThrow(/w\/momentum.*adam slot \(m, v\)/);
    solver.loadState({ step: 1, slots: { 'w/m': tf.zeros([4]), 'w/v': t } });
    const w = makeParam('w', P0);
    const g = tf.zeros(SHAPE);
    expect(() => solver.step([w], { w: g }, 0.1)).toThrow(/state "w\/m" has shape \[4\]/);
    expect(() => solver.step([w], {}, 0.1)).toThrow(/no gradient for parameter "w"/);
    expect(() => solver.step([w], { w: tf.zeros([6]) }, 0.1)).toThrow(SolverError);
    expect(Array.from(w.variable.dataSync())).toEqual(P0); // nothing changed by the failed calls
    solver.dispose();
    tf.dispose([t, g, w.variable]);
  });

  it('rejects unusable settings with a message naming the setting', () => {
    expect(() => createSolver({ ...defaultSolverSettings('sgd-nesterov'), momentum: 0 })).toThrow(/momentum must be > 0/);
    expect(() => createSolver({ ...defaultSolverSettings('rmsprop'), rho: 1 })).toThrow(/rho must be in \[0, 1\)/);
    expect(() => createSolver({ ...defaultSolverSettings('adam'), beta2: undefined })).toThrow(/beta2/);
    expect(() => createSolver({ ...defaultSolverSettings('sgd'), weightDecay: -1 })).toThrow(/weightDecay/);
  });
});

describe('seed defaults', () => {
  it('match gcr, neon and Torch optim', () => {
    expect(defaultSolverSettings('sgd-nesterov')).toMatchObject({ momentum: 0.9, weightDecay: 1e-4 });
    expect(defaultSolverSettings('sgd')).toMatchObject({ momentum: 0.9, weightDecay: 1e-4 });
    expect(defaultSolverSettings('rmsprop')).toMatchObject({ rho: 0.9, eps: 1e-8, weightDecay: 0 });
    expect(defaultSolverSettings('adagrad')).toMatchObject({ eps: 1e-10, weightDecay: 0 });
    expect(defaultSolverSettings('adadelta')).toMatchObject({ rho: 0.3, eps: 1e-6, weightDecay: 0 });
    expect(defaultSolverSettings('adam')).toMatchObject({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
  });
});

describe('memory', () => {
  it('tensor count stays flat over 1,000 steps for every solver', () => {
    for (const name of SOLVER_NAMES) {
      const start = tf.memory().numTensors;
      const solver = createSolver(settings(name, 1e-4));
      const params = [makeParam('a', P0), makeParam('b', P0, false)];
      const grads = { a: tf.tensor(GRADS[0]!, SHAPE), b: tf.tensor(GRADS[1]!, SHAPE) };
      solver.step(params, grads, 0.1); // creates the slots
      const before = tf.memory().numTensors;
      for (let i = 0; i < 1000; i++) solver.step(params, grads, 0.1 / (1 + i));
      expect(tf.memory().numTensors, name).toBe(before);
      const st = solver.getState();
      tf.dispose(Object.values(st.slots));
      expect(tf.memory().numTensors, name).toBe(before);
      solver.dispose();
      tf.dispose([...params.map((p) => p.variable), grads.a, grads.b]);
      expect(tf.memory().numTensors, name).toBe(start);
    }
  });
});

describe('on wasm, both SGD forms in one pass (LabSgdStep)', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
  });
  afterAll(async () => {
    patchKernelOptions({ labWasm: true });
    await tf.setBackend('cpu');
  });

  /** n float32 values drawn from a seeded normal, times scale. */
  const randomValues = (n: number, seed: number, scale: number) => {
    const rng = createRng(seed);
    return Float32Array.from({ length: n }, () => rng.nextNormal() * scale);
  };

  /** Parameters after steps of `name` on wasm, with the lab's kernels on or off (composed ops). */
  function stepsOnWasm(name: 'sgd-nesterov' | 'sgd', lab: boolean, decay: boolean): Float32Array {
    patchKernelOptions({ labWasm: lab });
    try {
      const n = 4103; // 1025 groups of 4 and a tail of 3
      const init = tf.tensor1d(randomValues(n, 1, 0.5));
      const param: SolverParam = { name: 'w', variable: tf.variable(init, true), decay };
      init.dispose();
      const solver = createSolver(settings(name, 5e-4));
      [0.1, 0.1, 0.02, 0.5].forEach((lr, k) => {
        const g = tf.tensor1d(randomValues(n, 10 + k, 0.1));
        solver.step([param], { w: g }, lr);
        g.dispose();
      });
      const out = param.variable.dataSync() as Float32Array;
      param.variable.dispose();
      solver.dispose();
      return out;
    } finally {
      patchKernelOptions({ labWasm: true });
    }
  }

  for (const name of ['sgd-nesterov', 'sgd'] as const) {
    it(`${name}: the kernel runs, and matches the float64 formula with and without weight decay`, async () => {
      const s = settings(name, 0.01);
      const param = makeParam('w', P0);
      const solver = createSolver(s);
      const g = tf.tensor(GRADS[0]!, SHAPE);
      solver.step([param], { w: g }, 0.1); // creates the momentum buffer (ZerosLike)
      const prof = await tf.profile(() => solver.step([param], { w: g }, 0.1));
      expect(prof.kernelNames).toEqual([LAB_SGD_STEP]);
      tf.dispose([param.variable, g]);
      solver.dispose();
      for (const decay of [true, false]) {
        const lrs = [0.1, 0.05, 0.01];
        expectClose(runSolver(s, GRADS, lrs, decay), reference(s, P0, GRADS, lrs, decay));
      }
    });

    it(`${name}: the same bits as the composed tfjs ops, over steps with changing lr`, () => {
      for (const decay of [true, false]) {
        const fused = stepsOnWasm(name, true, decay);
        const composed = stepsOnWasm(name, false, decay);
        expect(Array.from(fused)).toEqual(Array.from(composed));
      }
    });
  }

  it('tensor count stays flat over 500 steps', () => {
    for (const name of ['sgd-nesterov', 'sgd'] as const) {
      const solver = createSolver(settings(name, 1e-4));
      const params = [makeParam('a', P0), makeParam('b', P0, false)];
      const grads = { a: tf.tensor(GRADS[0]!, SHAPE), b: tf.tensor(GRADS[1]!, SHAPE) };
      solver.step(params, grads, 0.1);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 500; i++) solver.step(params, grads, 0.1 / (1 + i));
      expect(tf.memory().numTensors, name).toBe(before);
      solver.dispose();
      tf.dispose([...params.map((p) => p.variable), grads.a, grads.b]);
    }
  });
});
