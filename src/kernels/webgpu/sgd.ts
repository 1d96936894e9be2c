// The SGD step on WebGPU for every parameter at once (src/train/solvers.ts calls labSgdStep): Torch's
// Nesterov form and neon's, weight decay per parameter, two parameters per dispatch. WebGPU allows 8
// storage buffers per stage; a parameter needs three (w, its momentum buffer, g), so w and buf are
// updated in place where no other tensor shares their data (refCount 1: a clone, a checkpoint's
// getState, or a Variable's initial tensor still alive would see the write). Otherwise that
// parameter alone goes out of place and the Variables are assigned the results.
// The arithmetic is solvers.ts's, operation for operation in float32; a rounding point after each
// product keeps the shader compiler from fusing a multiply and an add (the composed ops round both).
// Not here: the adaptive solvers (composed ops on every backend).

import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { dispatch, makeOutput, ownedAlone, type WebGpuBackendLike } from './dispatch.ts';
import { FLAT_GROUP, grid } from './grid.ts';

export const LAB_WEBGPU_SGD = 'LabWebGpuSgdStep';

const WG = 256;

/** WGSL: one parameter's update at element i of w{k}, buf{k}, g{k}, written to outW / outBuf. */
function update(k: number, nesterov: boolean, outW: string, outBuf: string): string {
  const step = nesterov
    ? // buf = m*buf + g; dir = g + m*buf; w = w + (-lr)*dir
      `let nb = r(r(u.mom * b) + g);
      let dir = r(g + r(u.mom * nb));
      ${outBuf}[i] = nb;
      ${outW}[i] = r(w + r(u.negLr * dir));`
    : // v = m*v - lr*g; w = w + v
      `let nv = r(r(u.mom * b) - r(u.lr * g));
      ${outBuf}[i] = nv;
      ${outW}[i] = r(w + nv);`;
  return `
      let w = w${k}[i];
      let b = buf${k}[i];
      var g = g${k}[i];
      if (u.wd${k} != 0.0) { g = r(g + r(u.wd${k} * w)); }
      ${step}`;
}

/** The shader for `count` parameters (1 or 2) in place, or one out of place. */
function shader(count: number, inPlace: boolean, nesterov: boolean): string {
  const access = inPlace ? 'read_write' : 'read';
  let decl = '';
  for (let k = 0; k < count; k++) {
    decl += `
@group(0) @binding(${3 * k}) var<storage, ${access}> w${k}: array<f32>;
@group(0) @binding(${3 * k + 1}) var<storage, ${access}> buf${k}: array<f32>;
@group(0) @binding(${3 * k + 2}) var<storage, read> g${k}: array<f32>;`;
  }
  let next = 3 * count;
  if (!inPlace) {
    decl += `
@group(0) @binding(3) var<storage, read_write> outW: array<f32>;
@group(0) @binding(4) var<storage, read_write> outBuf: array<f32>;`;
    next = 5;
  }
  const body = inPlace
    ? `if (j < u.n0) {
    let i = j;${update(0, nesterov, 'w0', 'buf0')}
  }${
    count === 2
      ? ` else if (j - u.n0 < u.n1) {
    let i = j - u.n0;${update(1, nesterov, 'w1', 'buf1')}
  }`
      : ''
  }`
    : `if (j < u.n0) {
    let i = j;${update(0, nesterov, 'outW', 'outBuf')}
  }`;
  return `${decl}
struct U { n0: u32, n1: u32, zero: u32, lr: f32, negLr: f32, mom: f32, wd0: f32, wd1: f32 }
@group(0) @binding(${next}) var<uniform> u: U;
// A rounding point: u.zero is 0, which the compiler cannot know, so a product passing here is rounded
// to float32 before any add, as each composed tfjs op rounds its result.
fn r(v: f32) -> f32 { return bitcast<f32>(bitcast<u32>(v) | u.zero); }
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${FLAT_GROUP}
  let j = group * ${WG}u + lid;
  ${body}
}`;
}

function num(attrs: NamedAttrMap, name: string): number {
  const v = Number(attrs[name] ?? 0);
  if (!Number.isFinite(v)) throw new Error(`${LAB_WEBGPU_SGD}: ${name} must be finite, got ${String(attrs[name])}.`);
  return v;
}

/**
 * Inputs w0, buf0, g0 (and w1, buf1, g1 in place); attrs nesterov (Torch's form, else neon's), lr,
 * momentum, wd0, wd1 (0: no decay), inPlace. In place: w and buf are written, no outputs. Otherwise
 * (one parameter) outputs the new w and buf.
 */
function sgdKernel(inputs: Record<string, TensorInfo>, backend: WebGpuBackendLike, attrs: NamedAttrMap): TensorInfo[] {
  const inPlace = attrs.inPlace === true;
  const count = inputs.w1 != null ? 2 : 1;
  if (count === 2 && !inPlace) throw new Error(`${LAB_WEBGPU_SGD}: two parameters only in place.`);
  const params = [0, 1].slice(0, count).map((k) => [inputs[`w${k}`]!, inputs[`buf${k}`]!, inputs[`g${k}`]!] as const);
  const sizes = params.map(([w, buf, g]) => {
    const n = tf.util.sizeFromShape(w.shape);
    if (tf.util.sizeFromShape(buf.shape) !== n || tf.util.sizeFromShape(g.shape) !== n)
      throw new Error(`${LAB_WEBGPU_SGD}: w [${w.shape}], buf [${buf.shape}], g [${g.shape}] differ in size.`);
    for (const t of [w, buf, g]) if (t.dtype !== 'float32') throw new Error(`${LAB_WEBGPU_SGD}: float32 tensors only.`);
    return n;
  });
  const nesterov = attrs.nesterov === true;
  const lr = num(attrs, 'lr');
  const bindings = params.flatMap(([w, buf, g]) => [{ tensor: w, write: inPlace }, { tensor: buf, write: inPlace }, { tensor: g }]);
  const outs = inPlace ? [] : [makeOutput(backend, [...params[0]![0].shape]), makeOutput(backend, [...params[0]![0].shape])];
  for (const t of outs) bindings.push({ tensor: t, write: true });
  const total = sizes.reduce((a, b) => a + b, 0);
  dispatch(backend, {
    key: `lab.sgd.${count}.${inPlace}.${nesterov}`,
    wgsl: () => shader(count, inPlace, nesterov),
    bindings,
    uniforms: { u32: [sizes[0]!, sizes[1] ?? 0, 0], f32: [lr, -lr, num(attrs, 'momentum'), num(attrs, 'wd0'), num(attrs, 'wd1')] },
    workgroups: grid(total, WG),
    workgroupSize: WG,
    work: { kernel: 'lab.sgd' },
  });
  return outs;
}

export const sgdConfig: KernelConfig = {
  kernelName: LAB_WEBGPU_SGD,
  backendName: 'webgpu',
  kernelFunc: ({ inputs, backend, attrs }) =>
    sgdKernel(inputs as Record<string, TensorInfo>, backend as unknown as WebGpuBackendLike, attrs!),
};

/** One parameter's step: its Variable, its momentum (or velocity) buffer, its gradient, its weight decay. */
export interface SgdItem {
  w: tf.Variable;
  buf: tf.Variable;
  g: tf.Tensor;
  weightDecay: number;
}

/**
 * The SGD step of every item on the webgpu backend (labWebGpu must be on): in place two at a time
 * where w and buf are theirs alone, else one at a time out of place and assigned.
 */
export function labSgdStep(items: SgdItem[], o: { nesterov: boolean; lr: number; momentum: number }): void {
  const backend = tf.backend() as unknown as WebGpuBackendLike;
  const inPlace: SgdItem[] = [];
  for (const it of items) {
    if (ownedAlone(backend, [it.w, it.buf]) && it.g.dataId !== it.w.dataId && it.g.dataId !== it.buf.dataId) {
      inPlace.push(it);
      continue;
    }
    tf.tidy(() => {
      const attrs = { ...o, wd0: it.weightDecay, wd1: 0, inPlace: false };
      const [w, buf] = tf.engine().runKernel(LAB_WEBGPU_SGD, { w0: it.w, buf0: it.buf, g0: it.g }, attrs) as tf.Tensor[];
      it.buf.assign(buf!);
      it.w.assign(w!);
    });
  }
  for (let i = 0; i < inPlace.length; i += 2) {
    const [a, b] = [inPlace[i]!, inPlace[i + 1]];
    const inputs: tf.NamedTensorMap = { w0: a.w, buf0: a.buf, g0: a.g };
    if (b) Object.assign(inputs, { w1: b.w, buf1: b.buf, g1: b.g });
    tf.engine().runKernel(LAB_WEBGPU_SGD, inputs, { ...o, wd0: a.weightDecay, wd1: b?.weightDecay ?? 0, inPlace: true });
  }
}
