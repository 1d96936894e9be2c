// Batch norm on WebGPU: training forward and backward in two dispatches each, inference in one
// (src/kernels/batchnorm.ts has the formulas and calls these). x is NHWC or [N, C], taken as [m, c]
// rows. A workgroup covers CT channels (adjacent threads, adjacent addresses) times RT row lanes.
//   forward:  1. per row chunk and channel, Welford's (mean, M2) per thread, merged over the lanes
//                (Chan et al.), written as partials [P][2][c];
//             2. every workgroup merges the P partials of its channels, then y = relu?((x - mean)*a + beta),
//                a = gamma*inv; the first row block also writes mean, variance and coef [4][c] =
//                (mean, inv, a, beta) for the backward pass.
//   backward: 1. partial sums per chunk of g, g*xc and xc (g = dy, masked by (x - mean)*a + beta > 0,
//                the forward's own expression, where the ReLU is fused; xc = x - mean): [P][3][c];
//             2. merge, then dx = (a*g - k2) - k1*xc, dgamma, dbeta and, for an input bias, S(dx)
//                from the sums: (a*dbeta - m*k2) - k1*S(xc).
// Not here: the running statistics (model/), the composed path (other backends, labWebGpu off).

import type { KernelConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { dispatch, makeOutput, type WebGpuBackendLike } from './dispatch.ts';
import { FLAT_GROUP, grid } from './grid.ts';

export const LAB_WEBGPU_BN = 'LabWebGpuBatchNorm';
export const LAB_WEBGPU_BN_GRAD = 'LabWebGpuBatchNormGrad';
export const LAB_WEBGPU_BN_INFER = 'LabWebGpuBatchNormInfer';

const WG = 256;
/** Rows each thread of a normalise or gradient dispatch covers. */
const ROWS_PER_THREAD = 32;
/** Rows each thread of a reduction covers, at least (where there are enough chunks to go round). */
const MIN_REDUCE_ROWS = 16;
/** Partials a workgroup of the second pass merges per channel tile, at most (P * CT). */
const MAX_MERGE = 2048;

/** How [m, c] is cut into workgroups. */
interface BnGeometry {
  m: number;
  c: number;
  /** Channels per workgroup (a power of two, at most 64) and row lanes (WG / ct). */
  ct: number;
  rt: number;
  tiles: number;
  /** Row chunks of the reductions and the rows of each (the last may have fewer). */
  parts: number;
  chunk: number;
  /** Rows per workgroup of the element-wise passes, and how many such blocks. */
  block: number;
  blocks: number;
}

function bnGeometry(shape: readonly number[]): BnGeometry {
  const c = shape[shape.length - 1] ?? 0;
  const m = shape.reduce((p, d) => p * d, 1) / Math.max(c, 1);
  let ct = 1;
  while (ct < c && ct < 64) ct *= 2;
  const rt = WG / ct;
  const wanted = Math.min(Math.ceil(m / (rt * MIN_REDUCE_ROWS)), MAX_MERGE / ct);
  const chunk = Math.ceil(m / Math.max(1, wanted));
  const block = rt * ROWS_PER_THREAD;
  return { m, c, ct, rt, tiles: Math.ceil(c / ct), parts: Math.ceil(m / chunk), chunk, block, blocks: Math.ceil(m / block) };
}

/** WGSL shared by the training shaders: the layout constants and three workgroup arrays for merges. */
function prelude(g: BnGeometry): string {
  return `
const CT = ${g.ct}u;
const RT = ${g.rt}u;
var<workgroup> s0: array<f32, ${WG}>;
var<workgroup> s1: array<f32, ${WG}>;
var<workgroup> s2: array<f32, ${WG}>;
// Chan et al.'s merge of (count, mean, M2) pairs: slot i takes slot j in.
fn chanMerge(i: u32, j: u32) {
  let nb = s0[j];
  if (nb == 0.0) { return; }
  let na = s0[i];
  if (na == 0.0) { s0[i] = nb; s1[i] = s1[j]; s2[i] = s2[j]; return; }
  let n = na + nb;
  let d = s1[j] - s1[i];
  let f = nb / n;
  s1[i] = s1[i] + d * f;
  s2[i] = s2[i] + s2[j] + d * d * na * f;
  s0[i] = n;
}
fn sumMerge(i: u32, j: u32) { s0[i] += s0[j]; s1[i] += s1[j]; s2[i] += s2[j]; }`;
}

/** WGSL: the tree over the RT lanes of each channel, leaving the result in slots 0..CT-1. */
function laneTree(merge: string): string {
  return `
  workgroupBarrier();
  for (var s = RT / 2u; s > 0u; s >>= 1u) {
    if (rl < s) { ${merge}(lid, lid + s * CT); }
    workgroupBarrier();
  }`;
}

const uniformStruct = 'struct U { m: u32, c: u32, chunk: u32, parts: u32, tiles: u32, groups: u32, block: u32, eps: f32 }';

function uniforms(g: BnGeometry, eps = 0): { u32: number[]; f32: number[] } {
  return { u32: [g.m, g.c, g.chunk, g.parts, g.tiles, g.tiles * g.blocks, g.block], f32: [eps] };
}

/** The forward's first pass: Welford per thread over its rows of one chunk, merged over the lanes. */
function momentsShader(g: BnGeometry): string {
  return `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> part: array<f32>;
${uniformStruct}
@group(0) @binding(2) var<uniform> u: U;
${prelude(g)}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let p = wid.x;
  let cl = lid % CT;
  let rl = lid / CT;
  let c = wid.y * CT + cl;
  let r1 = min((p + 1u) * u.chunk, u.m);
  var n = 0.0;
  var mean = 0.0;
  var q = 0.0;
  if (c < u.c) {
    for (var r = p * u.chunk + rl; r < r1; r += RT) {
      let v = x[r * u.c + c];
      n += 1.0;
      let d = v - mean;
      mean += d / n;
      q += d * (v - mean);
    }
  }
  s0[lid] = n;
  s1[lid] = mean;
  s2[lid] = q;
  ${laneTree('chanMerge')}
  if (rl == 0u && c < u.c) {
    part[2u * p * u.c + c] = s1[lid];
    part[(2u * p + 1u) * u.c + c] = s2[lid];
  }
}`;
}

/** WGSL: group, tile, block, cl, rl, c of an element-wise pass (a flat grid of tiles x blocks). */
const elementwiseIds = `
  ${FLAT_GROUP}
  if (group >= u.groups) { return; }
  let tile = group % u.tiles;
  let blk = group / u.tiles;
  let cl = lid % CT;
  let rl = lid / CT;
  let c = tile * CT + cl;
  let cc = min(c, u.c - 1u);
  let live = c < u.c;
  let r1 = min((blk + 1u) * u.block, u.m);`;

/** The forward's second pass: merge the partials of this tile's channels, write the statistics, normalise. */
function normaliseShader(g: BnGeometry, relu: boolean): string {
  return `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> meanOut: array<f32>;
@group(0) @binding(6) var<storage, read_write> varOut: array<f32>;
@group(0) @binding(7) var<storage, read_write> coef: array<f32>;
${uniformStruct}
@group(0) @binding(8) var<uniform> u: U;
${prelude(g)}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${elementwiseIds}${normaliseBody(relu)}`;
}

function normaliseBody(relu: boolean): string {
  return `
  var n = 0.0;
  var mean = 0.0;
  var q = 0.0;
  if (live) {
    for (var p = rl; p < u.parts; p += RT) {
      let nb = f32(min(u.chunk, u.m - p * u.chunk));
      let mb = part[2u * p * u.c + c];
      let qb = part[(2u * p + 1u) * u.c + c];
      if (n == 0.0) {
        n = nb;
        mean = mb;
        q = qb;
      } else {
        let nn = n + nb;
        let d = mb - mean;
        let f = nb / nn;
        mean += d * f;
        q += qb + d * d * n * f;
        n = nn;
      }
    }
  }
  s0[lid] = n;
  s1[lid] = mean;
  s2[lid] = q;
  ${laneTree('chanMerge')}
  let mu = s1[cl];
  let variance = s2[cl] / f32(u.m);
  let inv = 1.0 / sqrt(variance + u.eps);
  let a = gamma[cc] * inv;
  let b = beta[cc];
  if (blk == 0u && rl == 0u && live) {
    meanOut[c] = mu;
    varOut[c] = variance;
    coef[c] = mu;
    coef[u.c + c] = inv;
    coef[2u * u.c + c] = a;
    coef[3u * u.c + c] = b;
  }
  if (live) {
    for (var r = blk * u.block + rl; r < r1; r += RT) {
      let i = r * u.c + c;
      let z = fma(x[i] - mu, a, b);
      y[i] = ${relu ? 'max(z, 0.0)' : 'z'};
    }
  }
}`;
}

/** WGSL: g, the gradient through the fused ReLU (the forward's expression, so the same mask), and xc. */
function gradTerm(relu: boolean): string {
  return `
      let xc = x[i] - mu;
      let g = ${relu ? 'select(0.0, dy[i], fma(xc, a, b) > 0.0)' : 'dy[i]'};`;
}

/** The backward's first pass: per chunk and channel, the sums of g, g*xc and xc. */
function gradSumsShader(g: BnGeometry, relu: boolean): string {
  return `
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> coef: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;
${uniformStruct}
@group(0) @binding(4) var<uniform> u: U;
${prelude(g)}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let p = wid.x;
  let cl = lid % CT;
  let rl = lid / CT;
  let c = wid.y * CT + cl;
  let cc = min(c, u.c - 1u);
  let mu = coef[cc];
  let a = coef[2u * u.c + cc];
  let b = coef[3u * u.c + cc];
  let r1 = min((p + 1u) * u.chunk, u.m);
  var sg = 0.0;
  var sgx = 0.0;
  var sx = 0.0;
  if (c < u.c) {
    for (var r = p * u.chunk + rl; r < r1; r += RT) {
      let i = r * u.c + c;${gradTerm(relu)}
      sg += g;
      sgx += g * xc;
      sx += xc;
    }
  }
  s0[lid] = sg;
  s1[lid] = sgx;
  s2[lid] = sx;
  ${laneTree('sumMerge')}
  if (rl == 0u && c < u.c) {
    part[3u * p * u.c + c] = s0[lid];
    part[(3u * p + 1u) * u.c + c] = s1[lid];
    part[(3u * p + 2u) * u.c + c] = s2[lid];
  }
}`;
}

/** The backward's second pass: merge the sums, write dgamma, dbeta (and S(dx)), then dx. */
function gradApplyShader(g: BnGeometry, relu: boolean, sumDx: boolean): string {
  return `
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> coef: array<f32>;
@group(0) @binding(3) var<storage, read> part: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(6) var<storage, read_write> dbeta: array<f32>;
${sumDx ? '@group(0) @binding(7) var<storage, read_write> dbias: array<f32>;' : ''}
${uniformStruct}
@group(0) @binding(${sumDx ? 8 : 7}) var<uniform> u: U;
${prelude(g)}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${elementwiseIds}
  var sg = 0.0;
  var sgx = 0.0;
  var sx = 0.0;
  if (live) {
    for (var p = rl; p < u.parts; p += RT) {
      sg += part[3u * p * u.c + c];
      sgx += part[(3u * p + 1u) * u.c + c];
      sx += part[(3u * p + 2u) * u.c + c];
    }
  }
  s0[lid] = sg;
  s1[lid] = sgx;
  s2[lid] = sx;
  ${laneTree('sumMerge')}
  let mu = coef[cc];
  let inv = coef[u.c + cc];
  let a = coef[2u * u.c + cc];
  let b = coef[3u * u.c + cc];
  let fm = f32(u.m);
  let db = s0[cl];
  let dg = inv * s1[cl];
  let k1 = a * inv * dg / fm;
  let k2 = a * db / fm;
  if (blk == 0u && rl == 0u && live) {
    dgamma[c] = dg;
    dbeta[c] = db;
    ${sumDx ? 'dbias[c] = (a * db - fm * k2) - k1 * s2[cl];' : ''}
  }
  if (live) {
    for (var r = blk * u.block + rl; r < r1; r += RT) {
      let i = r * u.c + c;${gradTerm(relu)}
      dx[i] = (a * g - k2) - k1 * xc;
    }
  }
}`;
}

/** Inference: one thread per element, y = relu?((x - (mean - bias))*gamma*inv + beta). */
function inferShader(relu: boolean, bias: boolean): string {
  return `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read> rmean: array<f32>;
@group(0) @binding(4) var<storage, read> rvar: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
${bias ? '@group(0) @binding(6) var<storage, read> bias: array<f32>;' : ''}
struct U { n: u32, c: u32, eps: f32 }
@group(0) @binding(${bias ? 7 : 6}) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${FLAT_GROUP}
  let i = group * ${WG}u + lid;
  if (i >= u.n) { return; }
  let c = i % u.c;
  let mu = ${bias ? 'rmean[c] - bias[c]' : 'rmean[c]'};
  let z = fma(x[i] - mu, gamma[c] * (1.0 / sqrt(rvar[c] + u.eps)), beta[c]);
  y[i] = ${relu ? 'max(z, 0.0)' : 'z'};
}`;
}

/** Frees a temporary tensor of a dispatch (tfjs keeps its buffer until the commands are submitted). */
function release(backend: WebGpuBackendLike, t: TensorInfo): void {
  (backend as unknown as { disposeData(dataId: object): boolean }).disposeData(t.dataId);
}

function check(kernel: string, ...ts: TensorInfo[]): void {
  for (const t of ts) if (t.dtype !== 'float32') throw new Error(`${kernel}: float32 tensors only, got ${t.dtype}.`);
}

function sizeOf(t: TensorInfo): number {
  return t.shape.reduce((p, d) => p * d, 1);
}

/** Inputs x, gamma, beta; attrs eps, relu. Outputs y (x's shape), mean, variance [c] and coef [4c]. */
function forward(inputs: Record<string, TensorInfo>, backend: WebGpuBackendLike, attrs: NamedAttrMap): TensorInfo[] {
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  check(LAB_WEBGPU_BN, x, gamma, beta);
  const g = bnGeometry(x.shape);
  if (g.c === 0 || g.m === 0 || sizeOf(gamma) !== g.c || sizeOf(beta) !== g.c)
    throw new Error(`${LAB_WEBGPU_BN}: x [${x.shape}], gamma [${gamma.shape}], beta [${beta.shape}] do not fit.`);
  const relu = attrs.relu === true;
  const part = makeOutput(backend, [g.parts, 2, g.c]);
  const y = makeOutput(backend, [...x.shape]);
  const [mean, variance] = [makeOutput(backend, [g.c]), makeOutput(backend, [g.c])];
  const coef = makeOutput(backend, [4, g.c]);
  dispatch(backend, {
    key: `lab.bn.moments.${g.ct}`,
    wgsl: () => momentsShader(g),
    bindings: [{ tensor: x }, { tensor: part, write: true }],
    uniforms: uniforms(g),
    workgroups: [g.parts, g.tiles],
    workgroupSize: WG,
    work: { kernel: 'lab.bn.moments' },
  });
  dispatch(backend, {
    key: `lab.bn.normalise.${g.ct}.${relu}`,
    wgsl: () => normaliseShader(g, relu),
    bindings: [
      { tensor: x },
      { tensor: part },
      { tensor: gamma },
      { tensor: beta },
      { tensor: y, write: true },
      { tensor: mean, write: true },
      { tensor: variance, write: true },
      { tensor: coef, write: true },
    ],
    uniforms: uniforms(g, Number(attrs.eps)),
    workgroups: grid(g.tiles * g.blocks, 1),
    workgroupSize: WG,
    work: { kernel: 'lab.bn.normalise' },
  });
  release(backend, part);
  return [y, mean, variance, coef];
}

/** Inputs dy, x, coef (the forward's); attrs relu, sumDx. Outputs dx, dgamma, dbeta and, with sumDx, S(dx). */
function backward(inputs: Record<string, TensorInfo>, backend: WebGpuBackendLike, attrs: NamedAttrMap): TensorInfo[] {
  const { dy, x, coef } = inputs as { dy: TensorInfo; x: TensorInfo; coef: TensorInfo };
  check(LAB_WEBGPU_BN_GRAD, dy, x, coef);
  const g = bnGeometry(x.shape);
  if (sizeOf(dy) !== sizeOf(x) || sizeOf(coef) !== 4 * g.c || g.m === 0)
    throw new Error(`${LAB_WEBGPU_BN_GRAD}: dy [${dy.shape}], x [${x.shape}], coef [${coef.shape}] do not fit.`);
  const relu = attrs.relu === true;
  const sumDx = attrs.sumDx === true;
  const part = makeOutput(backend, [g.parts, 3, g.c]);
  const dx = makeOutput(backend, [...x.shape]);
  const outs = [dx, makeOutput(backend, [g.c]), makeOutput(backend, [g.c])];
  if (sumDx) outs.push(makeOutput(backend, [g.c]));
  dispatch(backend, {
    key: `lab.bn.gradSums.${g.ct}.${relu}`,
    wgsl: () => gradSumsShader(g, relu),
    bindings: [{ tensor: dy }, { tensor: x }, { tensor: coef }, { tensor: part, write: true }],
    uniforms: uniforms(g),
    workgroups: [g.parts, g.tiles],
    workgroupSize: WG,
    work: { kernel: 'lab.bn.gradSums' },
  });
  dispatch(backend, {
    key: `lab.bn.gradApply.${g.ct}.${relu}.${sumDx}`,
    wgsl: () => gradApplyShader(g, relu, sumDx),
    bindings: [{ tensor: dy }, { tensor: x }, { tensor: coef }, { tensor: part }, ...outs.map((t) => ({ tensor: t, write: true }))],
    uniforms: uniforms(g),
    workgroups: grid(g.tiles * g.blocks, 1),
    workgroupSize: WG,
    work: { kernel: 'lab.bn.gradApply' },
  });
  release(backend, part);
  return outs;
}

/** Inputs x, gamma, beta, mean, variance and, optionally, bias; attrs eps, relu. Output y. */
function infer(inputs: Record<string, TensorInfo>, backend: WebGpuBackendLike, attrs: NamedAttrMap): TensorInfo {
  const { x, gamma, beta, mean, variance, bias } = inputs as Record<string, TensorInfo>;
  const params = [gamma!, beta!, mean!, variance!, ...(bias ? [bias] : [])];
  check(LAB_WEBGPU_BN_INFER, x!, ...params);
  const c = x!.shape[x!.shape.length - 1] ?? 0;
  if (c === 0 || params.some((t) => sizeOf(t) !== c))
    throw new Error(`${LAB_WEBGPU_BN_INFER}: x [${x!.shape}] and its [${c}] parameters do not fit.`);
  const relu = attrs.relu === true;
  const n = sizeOf(x!);
  const y = makeOutput(backend, [...x!.shape]);
  dispatch(backend, {
    key: `lab.bn.infer.${relu}.${bias != null}`,
    wgsl: () => inferShader(relu, bias != null),
    bindings: [
      { tensor: x! },
      { tensor: gamma! },
      { tensor: beta! },
      { tensor: mean! },
      { tensor: variance! },
      { tensor: y, write: true },
      ...(bias ? [{ tensor: bias }] : []),
    ],
    uniforms: { u32: [n, c], f32: [Number(attrs.eps)] },
    workgroups: grid(n, WG),
    workgroupSize: WG,
    work: { kernel: 'lab.bn.infer' },
  });
  return y;
}

export const batchNormConfigs: KernelConfig[] = [
  {
    kernelName: LAB_WEBGPU_BN,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) =>
      forward(inputs as Record<string, TensorInfo>, backend as unknown as WebGpuBackendLike, attrs!),
  },
  {
    kernelName: LAB_WEBGPU_BN_GRAD,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) =>
      backward(inputs as Record<string, TensorInfo>, backend as unknown as WebGpuBackendLike, attrs!),
  },
  {
    kernelName: LAB_WEBGPU_BN_INFER,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) =>
      infer(inputs as Record<string, TensorInfo>, backend as unknown as WebGpuBackendLike, attrs!),
  },
];
