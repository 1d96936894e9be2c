// Conv2DBackpropFilter on WebGPU: dW[kh,kw,ci,co] = sum over n,oh,ow of
// x[n, oh*s+kh-padTop, ow*s+kw-padLeft, ci] * dy[n,oh,ow,co] (zero outside x), as the matrix product
// A^T B of im2col(x) (P x K, P = N*OH*OW, K = KH*KW*Ci) and dy (P x Co), in two dispatches. The first
// splits the P rows into S slices of L rows; each workgroup takes one slice and one BK x BC tile of the
// K x Co output, stages 32 rows of A and B at a time in workgroup memory (im2col done while loading),
// and each thread keeps a 4x4 block of the tile in registers; it writes partial sums [S, K, Co]. The
// second sums the S partials into dW (skipped when S is 1). Only NHWC float32; register.ts hands other
// inputs, and every input while the lab's WebGPU kernels are off, to tfjs-webgpu's own kernel.

import { type Conv2DBackpropFilterAttrs, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { convShape, type ConvShape } from './conv-shape.ts';
import { dispatch, makeOutput, type WebGpuBackendLike } from './dispatch.ts';
import { FLAT_GROUP, grid } from './grid.ts';

/** Rows of A and B staged in workgroup memory per step. */
const TP = 32;
/** Threads the partial-sum dispatch aims for: S grows until it launches about this many. */
const TARGET_THREADS = 65536;
/** The most floats a partial-sum buffer may hold (64 MiB, under WebGPU's default binding limit of 128 MiB). */
const PARTIAL_LIMIT = 1 << 24;
/** Reduction: outputs per workgroup, and threads summing each output's partials. */
const RED_OUT = 64;
const RED_LANES = 4;

/** The convolution as this kernel sees it. */
export type FilterGradShape = ConvShape;

/** How the filter gradient is split: tiles, slices, and what each dispatch launches. */
export interface FilterGradPlan {
  /** Output tile: BK rows of K by BC columns of Co; a thread computes 4x4 of it. */
  BK: number;
  BC: number;
  /** Threads per workgroup of the partial-sum dispatch, (BK/4) * (BC/4). */
  wg: number;
  kTiles: number;
  cTiles: number;
  /** Slices of the P = N*OH*OW rows, and rows per slice (a multiple of 32). */
  S: number;
  L: number;
  /** Threads the partial-sum dispatch launches, and the multiply-adds each does in a row (L * 16). */
  threads: number;
  serialMacsPerThread: number;
  /** Threads the reduction launches (0 when S is 1). */
  reduceThreads: number;
}

function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}

/** The tiles and slices for a shape: the tile that pads K least, then S for about TARGET_THREADS threads. */
export function planFilterGrad(s: FilterGradShape): FilterGradPlan {
  const K = s.KH * s.KW * s.Ci;
  const P = s.N * s.OH * s.OW;
  let BK = 32;
  let BC = 32;
  if (s.Co <= 16) {
    BC = 16;
    BK = ceilDiv(K, 64) * 64 <= ceilDiv(K, 32) * 32 ? 64 : 32;
  }
  const wg = (BK / 4) * (BC / 4);
  const kTiles = ceilDiv(K, BK);
  const cTiles = ceilDiv(s.Co, BC);
  const perSlice = kTiles * cTiles * wg;
  let S = Math.max(1, Math.min(ceilDiv(TARGET_THREADS, perSlice), Math.floor(PARTIAL_LIMIT / (K * s.Co))));
  const L = ceilDiv(ceilDiv(P, S), TP) * TP;
  S = ceilDiv(P, L);
  return {
    BK,
    BC,
    wg,
    kTiles,
    cTiles,
    S,
    L,
    threads: S * perSlice,
    serialMacsPerThread: L * 16,
    reduceThreads: S > 1 ? ceilDiv(K * s.Co, RED_OUT) * RED_OUT * RED_LANES : 0,
  };
}

function partialShader(s: FilterGradShape, p: FilterGradPlan): string {
  const K = s.KH * s.KW * s.Ci;
  const P = s.N * s.OH * s.OW;
  const { BK, BC, wg } = p;
  return `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;

const BK = ${BK}u;
const BC = ${BC}u;
const TP = ${TP}u;
const WG = ${wg}u;
const TK = ${BK / 4}u;
const TC = ${BC / 4}u;
const K = ${K}u;
const CO = ${s.Co}u;
const P = ${P}u;
const L = ${p.L}u;
const TILES = ${p.kTiles * p.cTiles}u;
const GROUPS = ${p.kTiles * p.cTiles * p.S}u;

// A rows (TP x BK, im2col of x), B rows (TP x BC, dy), and each row's (x offset, ih0, iw0), two steps' worth.
var<workgroup> As: array<f32, ${TP * BK}>;
var<workgroup> Bs: array<f32, ${TP * BC}>;
var<workgroup> rows: array<vec3<i32>, ${2 * TP}>;

fn rowInfo(p: u32) -> vec3<i32> {
  if (p >= P) { return vec3<i32>(0, -1000000, -1000000); }
  let ow = p % ${s.OW}u;
  let t = p / ${s.OW}u;
  let oh = t % ${s.OH}u;
  let n = t / ${s.OH}u;
  let ih0 = i32(oh * ${s.SH}u) - ${s.padTop};
  let iw0 = i32(ow * ${s.SW}u) - ${s.padLeft};
  return vec3<i32>(((i32(n * ${s.H}u) + ih0) * ${s.W} + iw0) * ${s.Ci}, ih0, iw0);
}

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${FLAT_GROUP}
  if (group >= GROUPS) { return; }
  let tile = group % TILES;
  let slice = group / TILES;
  let k0 = (tile % ${p.kTiles}u) * BK;
  let c0 = (tile / ${p.kTiles}u) * BC;
  let p0 = slice * L;

  // This thread loads column ak of A (one k = (kh, kw, ci)) in rows ar, ar + WG/BK, ...
  let ak = lid % BK;
  let ar = lid / BK;
  let k = k0 + ak;
  let kOk = k < K;
  let ci = k % ${s.Ci}u;
  let kw = i32((k / ${s.Ci}u) % ${s.KW}u);
  let kh = i32(k / ${s.Ci * s.KW}u);
  let kOff = (kh * ${s.W} + kw) * ${s.Ci} + i32(ci);
  // ... and accumulates rows tk + TK*i of the tile, columns tc + TC*j.
  let tk = lid % TK;
  let tc = lid / TK;
  var acc: array<vec4<f32>, 4>;

  for (var r = lid; r < TP; r += WG) { rows[r] = rowInfo(p0 + r); }
  workgroupBarrier();
  for (var step = 0u; step < L / TP; step++) {
    let buf = (step & 1u) * TP;
    for (var r = ar; r < TP; r += WG / BK) {
      let info = rows[buf + r];
      let ih = info.y + kh;
      let iw = info.z + kw;
      var v = 0.0;
      if (kOk && ih >= 0 && ih < ${s.H} && iw >= 0 && iw < ${s.W}) { v = x[info.x + kOff]; }
      As[r * BK + ak] = v;
    }
    for (var i = lid; i < TP * BC; i += WG) {
      let p = p0 + step * TP + i / BC;
      let co = c0 + i % BC;
      var v = 0.0;
      if (p < P && co < CO) { v = dy[p * CO + co]; }
      Bs[i] = v;
    }
    if (step + 1u < L / TP) {
      for (var r = lid; r < TP; r += WG) { rows[TP - buf + r] = rowInfo(p0 + (step + 1u) * TP + r); }
    }
    workgroupBarrier();
    for (var r = 0u; r < TP; r++) {
      let b = vec4<f32>(Bs[r * BC + tc], Bs[r * BC + tc + TC], Bs[r * BC + tc + 2u * TC], Bs[r * BC + tc + 3u * TC]);
      for (var i = 0u; i < 4u; i++) { acc[i] += As[r * BK + tk + i * TK] * b; }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let kk = k0 + tk + i * TK;
    if (kk >= K) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let co = c0 + tc + j * TC;
      if (co < CO) { part[(slice * K + kk) * CO + co] = acc[i][j]; }
    }
  }
}`;
}

function reduceShader(E: number, S: number): string {
  return `
@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> dw: array<f32>;

var<workgroup> sums: array<f32, ${RED_OUT * RED_LANES}>;

@compute @workgroup_size(${RED_OUT * RED_LANES})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${FLAT_GROUP}
  let e = group * ${RED_OUT}u + lid % ${RED_OUT}u;
  var s = 0.0;
  if (e < ${E}u) {
    for (var i = lid / ${RED_OUT}u; i < ${S}u; i += ${RED_LANES}u) { s += part[i * ${E}u + e]; }
  }
  sums[lid] = s;
  workgroupBarrier();
  if (lid < ${RED_OUT}u && e < ${E}u) {
    var total = sums[lid];
    for (var l = 1u; l < ${RED_LANES}u; l++) { total += sums[lid + l * ${RED_OUT}u]; }
    dw[e] = total;
  }
}`;
}

/** The filter gradient of an NHWC float32 convolution, recorded as one or two dispatches; returns dW [KH,KW,Ci,Co]. */
export function filterGrad(backend: WebGpuBackendLike, x: TensorInfo, dy: TensorInfo, s: FilterGradShape): TensorInfo {
  const p = planFilterGrad(s);
  const K = s.KH * s.KW * s.Ci;
  const E = K * s.Co;
  const dw = makeOutput(backend, [s.KH, s.KW, s.Ci, s.Co]);
  const part = p.S > 1 ? makeOutput(backend, [p.S, K, s.Co]) : dw;
  const dims = [s.N, s.H, s.W, s.Ci, s.OH, s.OW, s.Co, s.KH, s.KW, s.SH, s.SW, s.padTop, s.padLeft, p.BK, p.BC, p.L, p.S];
  dispatch(backend, {
    key: `lab.filterGrad.partial:${dims.join(',')}`,
    wgsl: () => partialShader(s, p),
    bindings: [{ tensor: x }, { tensor: dy }, { tensor: part, write: true }],
    workgroups: grid(p.kTiles * p.cTiles * p.S, 1),
    workgroupSize: p.wg,
    work: { kernel: 'lab.filterGrad.partial', macs: s.N * s.OH * s.OW * E, serialMacsPerThread: p.serialMacsPerThread },
  });
  if (part !== dw) {
    dispatch(backend, {
      key: `lab.filterGrad.reduce:${E},${p.S}`,
      wgsl: () => reduceShader(E, p.S),
      bindings: [{ tensor: part }, { tensor: dw, write: true }],
      workgroups: grid(E, RED_OUT),
      workgroupSize: RED_OUT * RED_LANES,
      work: { kernel: 'lab.filterGrad.reduce' },
    });
    // Freed once the recorded commands are submitted (dispatch() marks it as the queue's).
    (backend as unknown as { disposeData(dataId: object): void }).disposeData(part.dataId);
  }
  return dw;
}

/** Conv2DBackpropFilter on webgpu: the lab's kernel where `use` says so and the input is NHWC float32, else `original`. */
export function makeFilterGradConfig(original: KernelConfig, use: (backend: unknown) => boolean): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const a = args.attrs as unknown as Conv2DBackpropFilterAttrs;
    const nhwc = a.dataFormat == null || a.dataFormat === 'NHWC';
    if (!use(args.backend) || !nhwc || x.dtype !== 'float32' || dy.dtype !== 'float32') return original.kernelFunc(args);
    const shape = convShape(x.shape as [number, number, number, number], a.filterShape, a.strides, a.pad, a.dimRoundingMode);
    if (shape.N * shape.OH * shape.OW === 0 || shape.H * shape.W === 0) return original.kernelFunc(args);
    return filterGrad(args.backend as unknown as WebGpuBackendLike, x, dy, shape);
  };
  return { ...original, kernelFunc };
}
