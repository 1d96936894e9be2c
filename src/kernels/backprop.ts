// Gradients of a scalar loss with respect to variables, as tf.variableGrads computes them, but freeing
// memory as the backward pass goes: each node's saved tensors and output gradients are disposed once
// the node is differentiated, so the peak is the saved activations plus a few gradients in flight
// (tf.variableGrads keeps every intermediate gradient until the end), as in PyTorch's autograd.
// Uses tfjs-core's engine internals (TapeNodes, startTape/endTape, named tidy scopes), not public API:
// backprop.test.ts pins the results to tf.variableGrads' on our backends, so a tfjs upgrade fails loudly.

import * as tf from '@tensorflow/tfjs-core';

/** A recorded op (tfjs-core's TapeNode). */
interface TapeNode {
  id: number;
  kernelName: string;
  outputs: tf.Tensor[];
  inputs: Record<string, tf.Tensor>;
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

/** The parts of tfjs-core's Engine this file uses. */
interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
  scopedRun<R>(start: () => void, end: () => void, f: () => R): R;
  tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
}

function engineInternals(): EngineInternals {
  const e = tf.engine() as unknown as Partial<EngineInternals>;
  if (typeof e.startTape !== 'function' || typeof e.endTape !== 'function' || typeof e.scopedRun !== 'function' || e.state == null) {
    throw new Error('frugalVariableGrads: this tfjs-core has no startTape/endTape/scopedRun; use tf.variableGrads.');
  }
  return e as EngineInternals;
}

/** The nodes on a path from any of xs to y, inputs not depending on xs pruned (as tfjs does it). */
function nodesBetween(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodeFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      nodeFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set<number>([y.id]);
  const nodeToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((o) => toY.has(o.id))) {
      nodeToY.add(node.id);
      for (const t of Object.values(node.inputs)) toY.add(t.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodeFromX.has(node.id) || !nodeToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, t] of Object.entries(node.inputs)) if (fromX.has(t.id)) inputs[name] = t;
    out.push({ ...node, inputs });
  }
  return out;
}

/**
 * Like tf.variableGrads(f, vars): the value of the scalar f() and the gradient of every variable in
 * `vars` that f depends on (keyed by variable name), with memory freed during the backward pass.
 * Not for higher-order gradients (call it outside any other gradient computation).
 */
export function frugalVariableGrads(f: () => tf.Scalar, vars: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const engine = engineInternals();
  if (engine.state.gradientDepth !== 0) {
    throw new Error('frugalVariableGrads cannot run inside another gradient computation; use tf.variableGrads.');
  }
  const xs = vars.filter((v) => v.trainable);
  const y = engine.scopedRun(
    () => engine.startTape(),
    () => engine.endTape(),
    () => engine.tidy('forward', f),
  );
  if (!(y instanceof tf.Tensor) || y.rank !== 0) {
    throw new Error(`frugalVariableGrads: f must return a scalar tensor, got ${y instanceof tf.Tensor ? `rank ${y.rank}` : typeof y}.`);
  }
  const tape = engine.state.activeTape ?? [];
  const path = nodesBetween(tape, xs, y);
  const onPath = new Set(path.map((n) => n.id));

  const grads = engine.tidy('backward', () => {
    // Gradient accumulated so far for each tensor id; `held` counts how many entries hold a tensor
    // object, so a tensor is never disposed while it is still some tensor's gradient.
    const acc = new Map<number, tf.Tensor>();
    const held = new Map<tf.Tensor, number>();
    const hold = (t: tf.Tensor) => held.set(t, (held.get(t) ?? 0) + 1);
    const release = (t: tf.Tensor) => {
      const n = (held.get(t) ?? 0) - 1;
      if (n > 0) held.set(t, n);
      else held.delete(t);
    };
    const seed = tf.onesLike(y);
    acc.set(y.id, seed);
    hold(seed);

    for (let i = path.length - 1; i >= 0; i--) {
      const node = path[i]!;
      if (node.gradient == null) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
      // One tidy per node: a customGrad computes all its input gradients inside node.gradient, so its
      // temporaries must be freed here, not at the end of the backward pass.
      const inputs = Object.entries(node.inputs);
      const dxs = tf.tidy(() => {
        const inputGrads = node.gradient!(dys);
        return inputs.map(([name]) => {
          const make = inputGrads[name];
          if (make == null) throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}.`);
          return make();
        });
      });
      for (const [k, [name, x]] of inputs.entries()) {
        const dx = dxs[k]!;
        if (dx.dtype !== 'float32') throw new Error(`Gradient of ${node.kernelName} input '${name}' must be float32, got ${dx.dtype}.`);
        const prev = acc.get(x.id);
        if (prev == null) {
          acc.set(x.id, dx);
          hold(dx);
        } else {
          const sum = tf.add(prev, dx);
          acc.set(x.id, sum);
          hold(sum);
          release(prev);
          if (!held.has(prev)) prev.dispose();
          if (!held.has(dx)) dx.dispose();
        }
      }
      // This node's outputs are consumed: free their gradients and what the node saved.
      node.outputs.forEach((o, k) => {
        const dy = dys[k];
        if (dy == null) return;
        acc.delete(o.id);
        release(dy);
        if (!held.has(dy)) dy.dispose();
      });
      for (const t of node.saved ?? []) if (!held.has(t)) t.dispose();
    }
    const out: tf.NamedTensorMap = {};
    for (const v of xs) {
      const g = acc.get(v.id);
      if (g != null) out[v.name] = g;
    }
    return out;
  });

  // The rest of the tape (nodes off the path) still holds saved tensors.
  for (const node of tape) if (!onPath.has(node.id)) for (const t of node.saved ?? []) t.dispose();
  engine.state.activeTape = null;
  if (Object.keys(grads).length === 0) {
    throw new Error('frugalVariableGrads: no variable reaches the loss; are the ops that use them inside f?');
  }
  return { value: y as tf.Scalar, grads };
}
