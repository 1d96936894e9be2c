// The optimisers of ResNet Lab, written out with the exact update rules of the two seed projects
// rather than tf.train's (which differ: docs/protocols.md §3.1, §5.2):
//   sgd-nesterov  Torch optim.sgd{nesterov = true, dampening = 0} (gcr)
//   sgd           classic momentum, neon's GradientDescentMomentum and Caffe's (paper, neon)
//   rmsprop, adagrad, adadelta, adam   Torch optim as of January 2016 (commit ae195f3)
// Weight decay: the gradient becomes g + wd * p. Updates are in place (Variable.assign) in tf.tidy,
// with no GPU->CPU read; one non-trainable variable per (parameter, slot). On wasm both SGD forms run
// as one kernel per parameter (LabSgdStep), the same arithmetic in the same order: the same bits. On
// webgpu they run in the lab's kernel, two parameters per dispatch (kernels/webgpu/sgd.ts), likewise.

import * as tf from '@tensorflow/tfjs-core';
import { LAB_SGD_STEP } from '../kernels/lab-ops.ts';
import { labWasm } from '../kernels/lab-wasm.ts';
import { labWebGpu } from '../kernels/webgpu/register.ts';
import { labSgdStep } from '../kernels/webgpu/sgd.ts';
import { SOLVER_NAMES, type SolverName } from '../experiment/solvers.ts';

export interface SolverSettings {
  name: SolverName;
  /** Momentum of both SGD forms (0.9 in all three protocols); unused by the adaptive solvers. */
  momentum: number;
  /** Added to the gradient: g + weightDecay * p (Torch/Caffe/neon convention, NOT tfjs's l2, which is 2x). */
  weightDecay: number;
  /** RMSprop alpha (gcr used 0.9) / Adadelta rho (gcr used 0.3); unused by the others. */
  rho: number;
  /** Solver epsilon: rmsprop 1e-8 and adagrad 1e-10 outside the root, adadelta 1e-6 inside, adam 1e-8 outside. */
  eps: number;
  /** Adam moment coefficients (Torch defaults 0.9, 0.999). */
  beta1?: number;
  beta2?: number;
}

/** decay = false exempts a parameter from weight decay (the protocols decay every parameter). */
export interface SolverParam {
  name: string;
  variable: tf.Variable;
  decay: boolean;
}

export interface SolverState {
  /** Number of steps taken (Adam's t). */
  step: number;
  /** Slot tensors keyed "<param>/<slot>". */
  slots: Record<string, tf.Tensor>;
}

export interface Solver {
  readonly settings: SolverSettings;
  /**
   * One update. grads keyed by param name; lr is this step's learning rate (ignored by adadelta,
   * which gcr ran without one). Disposes everything it creates except its state; does not dispose grads.
   */
  step(params: SolverParam[], grads: Record<string, tf.Tensor>, lr: number): void;
  /** Slot tensors by "<param>/<slot>" for checkpoints: new tensor handles (sharing data, no copy) owned by the caller. */
  getState(): SolverState;
  /** Replaces all state with copies of the given tensors (the caller keeps and disposes its own). */
  loadState(state: SolverState): void;
  dispose(): void;
}

/** Thrown for settings, parameters, gradients or state that cannot be used; the message says which. */
export class SolverError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SolverError';
  }
}

/** The slots each solver keeps per parameter, in the order they are created. */
export const SOLVER_SLOTS: Record<SolverName, readonly string[]> = {
  'sgd-nesterov': ['momentum'],
  sgd: ['velocity'],
  rmsprop: ['meanSquare'],
  adagrad: ['accumulator'],
  adadelta: ['accGrad', 'accDelta'],
  adam: ['m', 'v'],
};

/** The seeds' settings for each solver (gcr's train-cifar.lua and Torch optim's defaults; neon for sgd). */
export function defaultSolverSettings(name: SolverName): SolverSettings {
  switch (name) {
    case 'sgd-nesterov': // gcr: momentum 0.9, dampening 0, nesterov, weightDecay 1e-4
      return { name, momentum: 0.9, weightDecay: 1e-4, rho: 0, eps: 0 };
    case 'sgd': // neon: GradientDescentMomentum(0.1, 0.9, wdecay=0.0001); paper: momentum 0.9, wd 1e-4
      return { name, momentum: 0.9, weightDecay: 1e-4, rho: 0, eps: 0 };
    case 'rmsprop': // gcr: alpha = 0.9; optim.rmsprop epsilon default 1e-8; gcr ran it without weight decay
      return { name, momentum: 0, weightDecay: 0, rho: 0.9, eps: 1e-8 };
    case 'adagrad': // optim.adagrad adds a hard-coded 1e-10 to the root
      return { name, momentum: 0, weightDecay: 0, rho: 0, eps: 1e-10 };
    case 'adadelta': // gcr: rho = 0.3; optim.adadelta eps default 1e-6
      return { name, momentum: 0, weightDecay: 0, rho: 0.3, eps: 1e-6 };
    case 'adam': // optim.adam defaults: beta1 0.9, beta2 0.999, epsilon 1e-8
      return { name, momentum: 0, weightDecay: 0, rho: 0, eps: 1e-8, beta1: 0.9, beta2: 0.999 };
  }
}

function checkSettings(s: SolverSettings): void {
  if (!SOLVER_NAMES.includes(s.name))
    throw new SolverError(`unknown solver "${String(s.name)}"; expected one of ${SOLVER_NAMES.join(', ')}`);
  const finiteNonNeg = (what: string, v: number | undefined) => {
    if (v === undefined || !Number.isFinite(v) || v < 0)
      throw new SolverError(`${s.name}: ${what} must be a finite number >= 0, got ${String(v)}`);
  };
  finiteNonNeg('weightDecay', s.weightDecay);
  if (s.name === 'sgd' || s.name === 'sgd-nesterov') {
    finiteNonNeg('momentum', s.momentum);
    // optim.sgd asserts "Nesterov momentum requires a momentum and zero dampening"
    if (s.name === 'sgd-nesterov' && !(s.momentum > 0))
      throw new SolverError('sgd-nesterov: momentum must be > 0 (Torch optim.sgd requires it for Nesterov)');
  }
  if (s.name === 'rmsprop' || s.name === 'adadelta') {
    if (!(s.rho >= 0 && s.rho < 1)) throw new SolverError(`${s.name}: rho must be in [0, 1), got ${String(s.rho)}`);
  }
  if (s.name === 'rmsprop' || s.name === 'adagrad' || s.name === 'adadelta' || s.name === 'adam') {
    if (!(s.eps > 0 && Number.isFinite(s.eps))) throw new SolverError(`${s.name}: eps must be > 0, got ${String(s.eps)}`);
  }
  if (s.name === 'adam') {
    for (const [k, v] of [
      ['beta1', s.beta1],
      ['beta2', s.beta2],
    ] as const) {
      if (v === undefined || !(v >= 0 && v < 1)) throw new SolverError(`adam: ${k} must be in [0, 1), got ${String(v)}`);
    }
  }
}

class TorchStyleSolver implements Solver {
  readonly settings: SolverSettings;
  private readonly slotNames: readonly string[];
  private readonly slots = new Map<string, tf.Variable>();
  private steps = 0;
  private disposed = false;

  constructor(settings: SolverSettings) {
    checkSettings(settings);
    this.settings = { ...settings };
    this.slotNames = SOLVER_SLOTS[settings.name];
  }

  step(params: SolverParam[], grads: Record<string, tf.Tensor>, lr: number): void {
    if (this.disposed) throw new SolverError('step() on a disposed solver');
    const s = this.settings;
    if (s.name !== 'adadelta' && !Number.isFinite(lr)) throw new SolverError(`${s.name}: learning rate must be finite, got ${lr}`);
    // Check everything before changing anything, so a bad call leaves parameters and state as they were.
    const seen = new Set<string>();
    for (const p of params) {
      if (seen.has(p.name)) throw new SolverError(`parameter "${p.name}" is listed twice`);
      seen.add(p.name);
      const g = grads[p.name];
      if (g === undefined) throw new SolverError(`no gradient for parameter "${p.name}"`);
      if (!tf.util.arraysEqual(g.shape, p.variable.shape)) {
        throw new SolverError(`gradient of "${p.name}" has shape [${g.shape}], parameter has [${p.variable.shape}]`);
      }
      for (const slot of this.slotNames) {
        const v = this.slots.get(`${p.name}/${slot}`);
        if (v !== undefined && !tf.util.arraysEqual(v.shape, p.variable.shape)) {
          throw new SolverError(`state "${p.name}/${slot}" has shape [${v.shape}], parameter has [${p.variable.shape}]`);
        }
      }
    }
    if ((s.name === 'sgd-nesterov' || s.name === 'sgd') && labWebGpu(tf.backend())) {
      // Every parameter in a few dispatches (kernels/webgpu/sgd.ts): the formulas of update() below.
      const items = params.map((p) => ({
        w: p.variable,
        buf: this.slot(p, this.slotNames[0]!),
        g: grads[p.name]!,
        weightDecay: p.decay ? s.weightDecay : 0,
      }));
      labSgdStep(items, { nesterov: s.name === 'sgd-nesterov', lr, momentum: s.momentum });
      this.steps += 1;
      return;
    }
    const t = this.steps + 1; // Adam's t, counted per solver as optim.adam's state.t (gcr flattened all parameters)
    // The step's constants as scalar tensors, made once per step rather than once per parameter (one
    // small tensor each: ResNet-110 has 438 parameters).
    const constants = new Map<number, tf.Scalar>();
    const k = (value: number): tf.Scalar => {
      let c = constants.get(value);
      if (c === undefined) {
        c = tf.keep(tf.scalar(value));
        constants.set(value, c);
      }
      return c;
    };
    try {
      for (const p of params) {
        const slots = this.slotNames.map((slot) => this.slot(p, slot));
        tf.tidy(() => this.update(p, grads[p.name]!, slots, lr, t, k));
      }
    } finally {
      for (const c of constants.values()) c.dispose();
    }
    this.steps = t;
  }

  /** The slot variable, created at zero on first use (optim creates its state lazily with :zero()). */
  private slot(p: SolverParam, slot: string): tf.Variable {
    const key = `${p.name}/${slot}`;
    let v = this.slots.get(key);
    if (v === undefined) {
      const z = tf.zerosLike(p.variable);
      v = tf.variable(z, false); // no name: tfjs variable names are global, two solvers must not clash
      z.dispose();
      this.slots.set(key, v);
    }
    return v;
  }

  /** One parameter's update. Runs inside tf.tidy. */
  private update(p: SolverParam, grad: tf.Tensor, slots: tf.Variable[], lr: number, t: number, k: (value: number) => tf.Scalar): void {
    const s = this.settings;
    const x = p.variable;
    if ((s.name === 'sgd-nesterov' || s.name === 'sgd') && labWasm(tf.backend()) != null) {
      // Both SGD forms in one pass on wasm (LabSgdStep, kernels-as/lab-kernels.ts sgdStep): the
      // formulas below, operation for operation, rounded the same way, instead of eight tfjs ops.
      const [buf] = slots as [tf.Variable];
      const attrs = { nesterov: s.name === 'sgd-nesterov', lr, momentum: s.momentum, weightDecay: p.decay ? s.weightDecay : 0 };
      const [newX, newBuf] = tf.engine().runKernel(LAB_SGD_STEP, { w: x, buf, g: grad }, attrs) as tf.Tensor[];
      buf.assign(newBuf!);
      x.assign(newX!);
      return;
    }
    // Weight decay added to the gradient (optim.sgd: `dfdx:add(wd, x)`; neon: `grad + self.wdecay * param`).
    // The Jan 2016 adaptive optim solvers had no weightDecay option; later optim versions add it the
    // same way, and gcr ran them with 0.
    const g: tf.Tensor = s.weightDecay !== 0 && p.decay ? tf.add(grad, tf.mul(k(s.weightDecay), x)) : grad;
    switch (s.name) {
      case 'sgd-nesterov': {
        // torch/optim sgd.lua (dampening 0, nesterov):
        //   state.dfdx = dfdx (first call) else state.dfdx:mul(mom):add(1-damp, dfdx)
        //   dfdx:add(mom, state.dfdx);  x:add(-clr, dfdx)
        // buf starts at zero here: with dampening 0, m*0 + g = g exactly, so the first step is optim's copy.
        const [buf] = slots as [tf.Variable];
        const newBuf = tf.add(tf.mul(k(s.momentum), buf), g);
        const stepDir = tf.add(g, tf.mul(k(s.momentum), newBuf));
        buf.assign(newBuf);
        x.assign(tf.add(x, tf.mul(k(-lr), stepDir)));
        return;
      }
      case 'sgd': {
        // neon 1.2.1 neon/optimizers/optimizer.py GradientDescentMomentum.optimize:
        //   velocity[:] = velocity * momentum_coef - lrate * (grad + wdecay * param); param[:] = param + velocity
        // (Caffe's SGDSolver: v = m*v + lr*(g + wd*p); p -= v; the same numbers.) velocity starts at zeros.
        const [vel] = slots as [tf.Variable];
        const newVel = tf.sub(tf.mul(k(s.momentum), vel), tf.mul(k(lr), g));
        vel.assign(newVel);
        x.assign(tf.add(x, newVel));
        return;
      }
      case 'rmsprop': {
        // torch/optim rmsprop.lua: m = 0 initially; m:mul(alpha):addcmul(1-alpha, dfdx, dfdx)
        //   tmp = sqrt(m) + epsilon;  x:addcdiv(-lr, dfdx, tmp)
        const [ms] = slots as [tf.Variable];
        const newMs = tf.add(tf.mul(k(s.rho), ms), tf.mul(k(1 - s.rho), tf.square(g)));
        const denom = tf.add(tf.sqrt(newMs), k(s.eps));
        ms.assign(newMs);
        x.assign(tf.add(x, tf.mul(k(-lr), tf.div(g, denom))));
        return;
      }
      case 'adagrad': {
        // torch/optim adagrad.lua: paramVariance = 0 initially; paramVariance:addcmul(1, dfdx, dfdx)
        //   x:addcdiv(-clr, dfdx, sqrt(paramVariance) + 1e-10)   (eps outside the root, hard-coded there)
        const [acc] = slots as [tf.Variable];
        const newAcc = tf.add(acc, tf.square(g));
        const denom = tf.add(tf.sqrt(newAcc), k(s.eps));
        acc.assign(newAcc);
        x.assign(tf.add(x, tf.mul(k(-lr), tf.div(g, denom))));
        return;
      }
      case 'adadelta': {
        // torch/optim adadelta.lua (no learning rate):
        //   paramVariance:mul(rho):addcmul(1-rho, dfdx, dfdx);  paramStd = sqrt(paramVariance + eps)
        //   delta = sqrt(accDelta + eps) / paramStd * dfdx;  x:add(-1, delta)
        //   accDelta:mul(rho):addcmul(1-rho, delta, delta)
        const [accG, accD] = slots as [tf.Variable, tf.Variable];
        const rho = k(s.rho);
        const oneMinusRho = k(1 - s.rho);
        const eps = k(s.eps);
        const newAccG = tf.add(tf.mul(rho, accG), tf.mul(oneMinusRho, tf.square(g)));
        const delta = tf.mul(tf.div(tf.sqrt(tf.add(accD, eps)), tf.sqrt(tf.add(newAccG, eps))), g);
        const newAccD = tf.add(tf.mul(rho, accD), tf.mul(oneMinusRho, tf.square(delta)));
        accG.assign(newAccG);
        accD.assign(newAccD);
        x.assign(tf.sub(x, delta));
        return;
      }
      case 'adam': {
        // torch/optim adam.lua: t = t + 1; m:mul(beta1):add(1-beta1, dfdx); v:mul(beta2):addcmul(1-beta2, dfdx, dfdx)
        //   denom = sqrt(v) + epsilon;  stepSize = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
        //   x:addcdiv(-stepSize, m, denom)      (Kingma & Ba, end of section 2: eps on the uncorrected root)
        const beta1 = s.beta1!;
        const beta2 = s.beta2!;
        const [m, v] = slots as [tf.Variable, tf.Variable];
        const newM = tf.add(tf.mul(k(beta1), m), tf.mul(k(1 - beta1), g));
        const newV = tf.add(tf.mul(k(beta2), v), tf.mul(k(1 - beta2), tf.square(g)));
        const denom = tf.add(tf.sqrt(newV), k(s.eps));
        const stepSize = (lr * Math.sqrt(1 - Math.pow(beta2, t))) / (1 - Math.pow(beta1, t)); // float64 on the CPU
        m.assign(newM);
        v.assign(newV);
        x.assign(tf.add(x, tf.mul(k(-stepSize), tf.div(newM, denom))));
        return;
      }
    }
  }

  getState(): SolverState {
    const slots: Record<string, tf.Tensor> = {};
    for (const [key, v] of this.slots) slots[key] = tf.clone(v);
    return { step: this.steps, slots };
  }

  loadState(state: SolverState): void {
    if (this.disposed) throw new SolverError('loadState() on a disposed solver');
    if (!Number.isInteger(state.step) || state.step < 0) throw new SolverError(`state step must be an integer >= 0, got ${state.step}`);
    for (const key of Object.keys(state.slots)) {
      const cut = key.lastIndexOf('/');
      const slot = key.slice(cut + 1);
      if (cut <= 0 || !this.slotNames.includes(slot)) {
        throw new SolverError(
          `state key "${key}" is not "<param>/<slot>" with a ${this.settings.name} slot (${this.slotNames.join(', ')})`,
        );
      }
    }
    this.disposeSlots();
    for (const [key, t] of Object.entries(state.slots)) {
      const copy = tf.tidy(() => tf.cast(t, 'float32').clone());
      this.slots.set(key, tf.variable(copy, false));
      copy.dispose();
    }
    this.steps = state.step;
  }

  private disposeSlots(): void {
    for (const v of this.slots.values()) v.dispose();
    this.slots.clear();
  }

  dispose(): void {
    this.disposeSlots();
    this.disposed = true;
  }
}

export function createSolver(settings: SolverSettings): Solver {
  return new TorchStyleSolver(settings);
}
