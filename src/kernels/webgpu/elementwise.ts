// The residual block's end on WebGPU: LabAddRelu, relu(a + b) in one pass, and LabReluGrad, dy where
// the saved output y is positive, else 0 (fused.ts has the ops that call them). One thread per four
// elements. Not the batch norm's fused ReLU (batchnorm.ts of this folder).

import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { LAB_ADD_RELU, LAB_RELU_GRAD } from '../lab-ops.ts';
import { dispatch, makeOutput, type WebGpuBackendLike } from './dispatch.ts';
import { FLAT_GROUP, grid } from './grid.ts';

const WG = 256;

function shader(body: string): string {
  return `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
struct U { n: u32 }
@group(0) @binding(3) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${FLAT_GROUP}
  let first = (group * ${WG}u + lid) * 4u;
  for (var i = first; i < min(first + 4u, u.n); i++) {
    ${body}
  }
}`;
}

function pairwise(name: string, body: string, x: TensorInfo, y: TensorInfo, backend: WebGpuBackendLike): TensorInfo {
  const n = x.shape.reduce((p, d) => p * d, 1);
  if (n !== y.shape.reduce((p, d) => p * d, 1)) throw new Error(`${name}: [${x.shape}] and [${y.shape}] differ in size.`);
  if (x.dtype !== 'float32' || y.dtype !== 'float32') throw new Error(`${name}: float32 tensors only.`);
  const out = makeOutput(backend, [...x.shape]);
  dispatch(backend, {
    key: name,
    wgsl: () => shader(body),
    bindings: [{ tensor: x }, { tensor: y }, { tensor: out, write: true }],
    uniforms: { u32: [n] },
    workgroups: grid(Math.ceil(n / 4), WG),
    workgroupSize: WG,
    work: { kernel: name },
  });
  return out;
}

export const addReluConfig: KernelConfig = {
  kernelName: LAB_ADD_RELU,
  backendName: 'webgpu',
  kernelFunc: ({ inputs, backend }) =>
    pairwise('lab.addRelu', 'out[i] = max(a[i] + b[i], 0.0);', inputs.a!, inputs.b!, backend as unknown as WebGpuBackendLike),
};

export const reluGradConfig: KernelConfig = {
  kernelName: LAB_RELU_GRAD,
  backendName: 'webgpu',
  kernelFunc: ({ inputs, backend }) =>
    pairwise('lab.reluGrad', 'out[i] = select(0.0, a[i], b[i] > 0.0);', inputs.dy!, inputs.y!, backend as unknown as WebGpuBackendLike),
};
