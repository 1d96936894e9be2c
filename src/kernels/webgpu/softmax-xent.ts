// The training step's loss and batch error on WebGPU (src/kernels/softmax-xent.ts has the op that calls
// them). LabSoftmaxXent: logits [N, C] float32 and labels [N] int32 in, the mean softmax cross-entropy,
// the fraction of rows whose first largest logit is not the label, and the softmax probabilities
// [N, C] (for the gradient) out, in one dispatch of one workgroup: each thread takes every WG-th row,
// then a workgroup reduction sums the rows. LabSoftmaxXentGrad: dlogits = (p - onehot) * dy / N, one
// thread per element. The arithmetic follows tfjs's logSoftmax and its gradient operation for
// operation. A label outside [0, C) adds no loss and no gradient and counts as an error, as
// tf.oneHot and tf.argMax make it. Not for batches of many thousand rows (one workgroup does the
// forward pass).

import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { dispatch, makeOutput, type WebGpuBackendLike } from './dispatch.ts';
import { FLAT_GROUP, grid } from './grid.ts';

export const LAB_SOFTMAX_XENT = 'LabSoftmaxXent';
export const LAB_SOFTMAX_XENT_GRAD = 'LabSoftmaxXentGrad';

const WG = 256;

const FORWARD = `
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> err: array<f32>;
@group(0) @binding(4) var<storage, read_write> probs: array<f32>;
struct U { n: u32, c: u32 }
@group(0) @binding(5) var<uniform> u: U;
var<workgroup> lossPart: array<f32, ${WG}>;
var<workgroup> wrongPart: array<u32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var lossSum = 0.0;
  var wrong = 0u;
  for (var row = lid; row < u.n; row += ${WG}u) {
    let base = row * u.c;
    // The row's largest logit and its first index (tf.argMax's choice among ties).
    var m = logits[base];
    var arg = 0u;
    for (var k = 1u; k < u.c; k++) {
      let v = logits[base + k];
      if (v > m) { m = v; arg = k; }
    }
    var s = 0.0;
    for (var k = 0u; k < u.c; k++) { s += exp(logits[base + k] - m); }
    let logS = log(s);
    // A negative label becomes a large u32, outside [0, C) like any other.
    let label = u32(labels[row]);
    for (var k = 0u; k < u.c; k++) {
      let ls = (logits[base + k] - m) - logS;
      probs[base + k] = exp(ls);
      if (k == label) { lossSum -= ls; }
    }
    if (arg != label) { wrong++; }
  }
  lossPart[lid] = lossSum;
  wrongPart[lid] = wrong;
  workgroupBarrier();
  for (var half = ${WG / 2}u; half > 0u; half >>= 1u) {
    if (lid < half) {
      lossPart[lid] += lossPart[lid + half];
      wrongPart[lid] += wrongPart[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    loss[0] = lossPart[0] / f32(u.n);
    err[0] = f32(wrongPart[0]) / f32(u.n);
  }
}`;

const BACKWARD = `
@group(0) @binding(0) var<storage, read> probs: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
struct U { n: u32, c: u32, zero: u32 }
@group(0) @binding(4) var<uniform> u: U;
// A rounding point: u.zero is 0, which the compiler cannot know, so a product passing here is rounded
// to float32 before the subtraction, as tfjs's separate mul and sub round it.
fn r(v: f32) -> f32 { return bitcast<f32>(bitcast<u32>(v) | u.zero); }
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${FLAT_GROUP}
  let i = group * ${WG}u + lid;
  if (i >= u.n * u.c) { return; }
  let row = i / u.c;
  // neg's gradient, then mean's (divided by N), then logSoftmax's: onehot * g - p * sum_k(onehot * g).
  let g = -dy[0] / f32(u.n);
  let label = u32(labels[row]);
  let hot = select(0.0, g, i - row * u.c == label);
  let rowSum = select(0.0, g, label < u.c);
  dx[i] = hot - r(probs[i] * rowSum);
}`;

/** [N, C] of the logits, after checking logits, labels (and the probabilities) fit the kernels. */
function rowsAndClasses(name: string, logits: TensorInfo, labels: TensorInfo): [number, number] {
  if (logits.shape.length !== 2 || logits.dtype !== 'float32')
    throw new Error(`${name}: logits must be float32 [N, C], got ${logits.dtype} [${logits.shape}].`);
  const [n, c] = logits.shape as [number, number];
  if (labels.dtype !== 'int32' || labels.shape.length !== 1 || labels.shape[0] !== n)
    throw new Error(`${name}: labels must be int32 [${n}], got ${labels.dtype} [${labels.shape}].`);
  if (n < 1 || c < 1) throw new Error(`${name}: needs at least one row and one class, got [${n}, ${c}].`);
  return [n, c];
}

/** Inputs logits [N, C], labels [N]. Outputs loss [], error [], probs [N, C]. */
function forward(inputs: Record<string, TensorInfo>, backend: WebGpuBackendLike): TensorInfo[] {
  const { logits, labels } = inputs as { logits: TensorInfo; labels: TensorInfo };
  const [n, c] = rowsAndClasses(LAB_SOFTMAX_XENT, logits, labels);
  const loss = makeOutput(backend, []);
  const error = makeOutput(backend, []);
  const probs = makeOutput(backend, [n, c]);
  dispatch(backend, {
    key: 'lab.softmaxXent',
    wgsl: () => FORWARD,
    bindings: [
      { tensor: logits },
      { tensor: labels },
      { tensor: loss, write: true },
      { tensor: error, write: true },
      { tensor: probs, write: true },
    ],
    uniforms: { u32: [n, c] },
    workgroups: [1],
    workgroupSize: WG,
    work: { kernel: 'lab.softmaxXent' },
  });
  return [loss, error, probs];
}

/** Inputs probs [N, C], labels [N], dy (the loss's gradient, a scalar). Output dlogits [N, C]. */
function backward(inputs: Record<string, TensorInfo>, backend: WebGpuBackendLike): TensorInfo {
  const { probs, labels, dy } = inputs as { probs: TensorInfo; labels: TensorInfo; dy: TensorInfo };
  const [n, c] = rowsAndClasses(LAB_SOFTMAX_XENT_GRAD, probs, labels);
  if (dy.dtype !== 'float32' || tf.util.sizeFromShape(dy.shape) !== 1)
    throw new Error(`${LAB_SOFTMAX_XENT_GRAD}: dy must be one float32, got ${dy.dtype} [${dy.shape}].`);
  const dx = makeOutput(backend, [n, c]);
  dispatch(backend, {
    key: 'lab.softmaxXent.grad',
    wgsl: () => BACKWARD,
    bindings: [{ tensor: probs }, { tensor: labels }, { tensor: dy }, { tensor: dx, write: true }],
    uniforms: { u32: [n, c, 0] },
    workgroups: grid(n * c, WG),
    workgroupSize: WG,
    work: { kernel: 'lab.softmaxXent.grad' },
  });
  return dx;
}

export const softmaxXentConfigs: KernelConfig[] = [
  {
    kernelName: LAB_SOFTMAX_XENT,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend }) => forward(inputs as Record<string, TensorInfo>, backend as unknown as WebGpuBackendLike),
  },
  {
    kernelName: LAB_SOFTMAX_XENT_GRAD,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend }) => backward(inputs as Record<string, TensorInfo>, backend as unknown as WebGpuBackendLike),
  },
];
