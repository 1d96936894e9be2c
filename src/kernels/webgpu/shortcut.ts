// The option-A shortcut on WebGPU (src/kernels/shortcut.ts calls these): keep every stride-th pixel
// from the top-left, as a 1x1 average pool with that stride and 'valid' padding does, and append zero
// channels, in one dispatch; its gradient, dy's first channels put back at those pixels and zeros
// elsewhere, in another. NHWC, one thread per output element. Values are copied, so both equal the
// composed ops bit for bit. Not the projection shortcuts (B, neon: convolutions).

import type { KernelConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { dispatch, makeOutput, type WebGpuBackendLike } from './dispatch.ts';
import { FLAT_GROUP, grid } from './grid.ts';

export const LAB_WEBGPU_SHORTCUT = 'LabWebGpuShortcutA';
export const LAB_WEBGPU_SHORTCUT_GRAD = 'LabWebGpuShortcutAGrad';

const WG = 256;

const header = `
struct U { total: u32, h: u32, w: u32, cin: u32, ho: u32, wo: u32, cout: u32, s: u32 }
@group(0) @binding(2) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${FLAT_GROUP}
  let o = group * ${WG}u + lid;
  if (o >= u.total) { return; }`;

/** x [n, h, w, cin] to y [n, ho, wo, cout]: y = x at (s*i, s*j) for c < cin, else 0. */
const forwardShader = `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${header}
  let c = o % u.cout;
  let p = o / u.cout;
  let j = p % u.wo;
  let q = p / u.wo;
  let i = q % u.ho;
  let n = q / u.ho;
  var v = 0.0;
  if (c < u.cin) { v = x[((n * u.h + i * u.s) * u.w + j * u.s) * u.cin + c]; }
  y[o] = v;
}`;

/** dy [n, ho, wo, cout] to dx [n, h, w, cin]: dx = dy at (a/s, b/s) where s divides a and b, else 0. */
const gradShader = `
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
${header}
  let c = o % u.cin;
  let p = o / u.cin;
  let b = p % u.w;
  let q = p / u.w;
  let a = q % u.h;
  let n = q / u.h;
  var v = 0.0;
  if (a % u.s == 0u && b % u.s == 0u) { v = dy[((n * u.ho + a / u.s) * u.wo + b / u.s) * u.cout + c]; }
  dx[o] = v;
}`;

interface Dims {
  n: number;
  h: number;
  w: number;
  cin: number;
  ho: number;
  wo: number;
  cout: number;
  s: number;
}

function dims(inShape: readonly number[], cout: number, s: number): Dims {
  const [n, h, w, cin] = inShape as [number, number, number, number];
  if (inShape.length !== 4 || !(s === 1 || s === 2) || !(cout >= cin))
    throw new Error(`${LAB_WEBGPU_SHORTCUT}: x [${inShape}] to ${cout} channels at stride ${s} is not an option-A shortcut.`);
  return { n, h, w, cin, ho: Math.ceil(h / s), wo: Math.ceil(w / s), cout, s };
}

function run(backend: WebGpuBackendLike, key: string, wgsl: string, src: TensorInfo, outShape: number[], d: Dims): TensorInfo {
  if (src.dtype !== 'float32') throw new Error(`${key}: float32 tensors only, got ${src.dtype}.`);
  const out = makeOutput(backend, outShape);
  const total = outShape.reduce((p, q) => p * q, 1);
  dispatch(backend, {
    key,
    wgsl: () => wgsl,
    bindings: [{ tensor: src }, { tensor: out, write: true }],
    uniforms: { u32: [total, d.h, d.w, d.cin, d.ho, d.wo, d.cout, d.s] },
    workgroups: grid(total, WG),
    workgroupSize: WG,
    work: { kernel: key },
  });
  return out;
}

/** Input x; attrs stride, cout. Output y [n, ceil(h/s), ceil(w/s), cout]. */
function forward(x: TensorInfo, backend: WebGpuBackendLike, attrs: NamedAttrMap): TensorInfo {
  const d = dims(x.shape, Number(attrs.cout), Number(attrs.stride));
  return run(backend, 'lab.shortcutA', forwardShader, x, [d.n, d.ho, d.wo, d.cout], d);
}

/** Input dy; attrs stride, inShape (x's). Output dx of x's shape. */
function backward(dy: TensorInfo, backend: WebGpuBackendLike, attrs: NamedAttrMap): TensorInfo {
  const inShape = attrs.inShape as number[];
  const d = dims(inShape, dy.shape[3] ?? 0, Number(attrs.stride));
  if (dy.shape.length !== 4 || dy.shape[0] !== d.n || dy.shape[1] !== d.ho || dy.shape[2] !== d.wo)
    throw new Error(`${LAB_WEBGPU_SHORTCUT_GRAD}: dy [${dy.shape}] does not fit x [${inShape}] at stride ${d.s}.`);
  return run(backend, 'lab.shortcutA.grad', gradShader, dy, [...inShape], d);
}

export const shortcutConfigs: KernelConfig[] = [
  {
    kernelName: LAB_WEBGPU_SHORTCUT,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => forward(inputs.x!, backend as unknown as WebGpuBackendLike, attrs!),
  },
  {
    kernelName: LAB_WEBGPU_SHORTCUT_GRAD,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => backward(inputs.dy!, backend as unknown as WebGpuBackendLike, attrs!),
  },
];
