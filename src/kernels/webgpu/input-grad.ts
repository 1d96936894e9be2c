// Conv2DBackpropInput on WebGPU: dx[n,ih,iw,ci] = sum over kh,kw,co of
// dy[n, (ih+padTop-kh)/s, (iw+padLeft-kw)/s, co] * W[kh,kw,ci,co], over the taps where the division is
// exact and lands inside dy, as one tiled implicit matrix product. The dx pixels are split by their
// phase (ih mod sh, iw mod sw): within one phase the same taps are valid for every pixel (kh = kh0 + sh*j),
// so each phase is a product of its pixels (rows) by its taps x Co (K) by Ci (columns) with no skipped
// terms. One dispatch covers every phase; each workgroup takes one phase's BM x BN tile of dx, stages
// 16 values of K at a time of gathered dy and of W in workgroup memory, and each thread keeps 4x4 outputs
// in registers. Only NHWC float32; register.ts hands other inputs, and every input while the lab's
// WebGPU kernels are off, to tfjs-webgpu's own kernel.

import { type Conv2DBackpropInputAttrs, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { convShape, type ConvShape } from './conv-shape.ts';
import { dispatch, makeOutput, type WebGpuBackendLike } from './dispatch.ts';
import { FLAT_GROUP, grid } from './grid.ts';

/** Values of K staged in workgroup memory per step. */
const TK = 16;
const WG = 64;

/** The convolution as this kernel sees it. */
export type InputGradShape = ConvShape;

/** The tiles of the input gradient and what its dispatch launches. */
export interface InputGradPlan {
  /** dx tile: BM pixels of one phase by BN channels; a thread computes 4x4 of it. */
  BM: number;
  BN: number;
  /** Tiles along the largest phase's pixels, and along Ci. */
  mTiles: number;
  nTiles: number;
  threads: number;
  /** Multiply-adds: the phases' pixels x their taps x Co x Ci. */
  macs: number;
  /** The longest K loop (the phase with most taps, times Co, rounded up to 16) times 16 outputs. */
  serialMacsPerThread: number;
}

function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}

/** Taps of one filter axis valid for the phase `a` (ih mod stride), and the first of them. */
function taps(a: number, pad: number, stride: number, size: number): { first: number; count: number } {
  const first = (a + pad) % stride;
  return { first, count: first < size ? ceilDiv(size - first, stride) : 0 };
}

export function planInputGrad(s: InputGradShape): InputGradPlan {
  const BN = s.Ci <= 16 ? 16 : 32;
  const BM = (WG * 16) / BN;
  const mTiles = ceilDiv(s.N * ceilDiv(s.H, s.SH) * ceilDiv(s.W, s.SW), BM);
  const nTiles = ceilDiv(s.Ci, BN);
  let macs = 0;
  let longest = 0;
  for (let a = 0; a < s.SH; a++) {
    for (let b = 0; b < s.SW; b++) {
      const K = taps(a, s.padTop, s.SH, s.KH).count * taps(b, s.padLeft, s.SW, s.KW).count * s.Co;
      macs += s.N * ceilDiv(s.H - a, s.SH) * ceilDiv(s.W - b, s.SW) * K * s.Ci;
      longest = Math.max(longest, ceilDiv(K, TK) * TK);
    }
  }
  return {
    BM,
    BN,
    mTiles,
    nTiles,
    threads: s.SH * s.SW * mTiles * nTiles * WG,
    macs,
    serialMacsPerThread: longest * 16,
  };
}

function shader(s: InputGradShape, p: InputGradPlan): string {
  const { BM, BN } = p;
  return `
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

const BM = ${BM}u;
const BN = ${BN}u;
const TK = ${TK}u;
const WG = ${WG}u;
const TM = ${BM / 4}u;
const TN = ${BN / 4}u;
// Workgroup-memory row strides, one more than the tile so that stores of one K column spread over banks.
const AS = ${BM + 1}u;
const BS = ${BN + 1}u;
const CO = ${s.Co}u;
const CI = ${s.Ci}u;
const SH = ${s.SH}u;
const SW = ${s.SW}u;

var<workgroup> As: array<f32, ${TK * (BM + 1)}>;
var<workgroup> Bs: array<f32, ${TK * (BN + 1)}>;
// Each pixel's (n*OH*OW*Co, i' + dh, j' + dw): dy's row of tap (jh, jw) is (i' + dh - jh, j' + dw - jw).
var<workgroup> rows: array<vec3<i32>, ${BM}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${FLAT_GROUP}
  if (group >= ${p.nTiles * p.mTiles * s.SH * s.SW}u) { return; }
  let n0 = (group % ${p.nTiles}u) * BN;
  let t = group / ${p.nTiles}u;
  let m0 = (t % ${p.mTiles}u) * BM;
  let phase = t / ${p.mTiles}u;
  // This phase: pixels ih = a + SH*i', iw = b + SW*j'; taps kh = kh0 + SH*jh, kw = kw0 + SW*jw.
  let a = phase / SW;
  let b = phase % SW;
  let hp = (${s.H}u + SH - 1u - a) / SH;
  let wp = (${s.W}u + SW - 1u - b) / SW;
  let mp = ${s.N}u * hp * wp;
  if (m0 >= mp) { return; }
  let kh0 = (a + ${s.padTop}u) % SH;
  let kw0 = (b + ${s.padLeft}u) % SW;
  let dh = i32((a + ${s.padTop}u) / SH);
  let dw = i32((b + ${s.padLeft}u) / SW);
  let tapsW = select(0u, (${s.KW}u - kw0 + SW - 1u) / SW, kw0 < ${s.KW}u);
  let tapsH = select(0u, (${s.KH}u - kh0 + SH - 1u) / SH, kh0 < ${s.KH}u);
  let K = tapsH * tapsW * CO;

  for (var r = lid; r < BM; r += WG) {
    let m = m0 + r;
    var info = vec3<i32>(0, -1000000, 0);
    if (m < mp) {
      let j = m % wp;
      let q = m / wp;
      info = vec3<i32>(i32((q / hp) * ${s.OH * s.OW * s.Co}u), i32(q % hp) + dh, i32(j) + dw);
    }
    rows[r] = info;
  }
  workgroupBarrier();

  // This thread loads K column kk of the dy and W tiles, and accumulates pixels tm + TM*i, channels tn + TN*j.
  let kk = lid % TK;
  let lr = lid / TK;
  let tm = lid % TM;
  let tn = lid / TM;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < K; k0 += TK) {
    let k = k0 + kk;
    let kOk = k < K;
    let co = k % CO;
    let tap = k / CO;
    let jw = tap % tapsW;
    let jh = tap / tapsW;
    for (var r = lr; r < BM; r += WG / TK) {
      let info = rows[r];
      let oh = info.y - i32(jh);
      let ow = info.z - i32(jw);
      var v = 0.0;
      if (kOk && oh >= 0 && oh < ${s.OH} && ow >= 0 && ow < ${s.OW}) {
        v = dy[u32(info.x + (oh * ${s.OW} + ow) * ${s.Co}) + co];
      }
      As[kk * AS + r] = v;
    }
    let wRow = ((kh0 + SH * jh) * ${s.KW}u + kw0 + SW * jw) * CI;
    for (var c = lr; c < BN; c += WG / TK) {
      var v = 0.0;
      if (kOk && n0 + c < CI) { v = w[(wRow + n0 + c) * CO + co]; }
      Bs[kk * BS + c] = v;
    }
    workgroupBarrier();
    for (var q = 0u; q < TK; q++) {
      let bv = vec4<f32>(Bs[q * BS + tn], Bs[q * BS + tn + TN], Bs[q * BS + tn + 2u * TN], Bs[q * BS + tn + 3u * TN]);
      for (var i = 0u; i < 4u; i++) { acc[i] += As[q * AS + tm + i * TM] * bv; }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let m = m0 + tm + i * TM;
    if (m >= mp) { continue; }
    let j = m % wp;
    let q = m / wp;
    let pixel = ((q / hp) * ${s.H}u + a + SH * (q % hp)) * ${s.W}u + b + SW * j;
    for (var jj = 0u; jj < 4u; jj++) {
      let ci = n0 + tn + jj * TN;
      if (ci < CI) { dx[pixel * CI + ci] = acc[i][jj]; }
    }
  }
}`;
}

/** The input gradient of an NHWC float32 convolution, recorded as one dispatch; returns dx [N,H,W,Ci]. */
export function inputGrad(backend: WebGpuBackendLike, dy: TensorInfo, filter: TensorInfo, s: InputGradShape): TensorInfo {
  const p = planInputGrad(s);
  const dx = makeOutput(backend, [s.N, s.H, s.W, s.Ci]);
  const dims = [s.N, s.H, s.W, s.Ci, s.OH, s.OW, s.Co, s.KH, s.KW, s.SH, s.SW, s.padTop, s.padLeft];
  dispatch(backend, {
    key: `lab.inputGrad:${dims.join(',')}`,
    wgsl: () => shader(s, p),
    bindings: [{ tensor: dy }, { tensor: filter }, { tensor: dx, write: true }],
    workgroups: grid(s.SH * s.SW * p.mTiles * p.nTiles, 1),
    workgroupSize: WG,
    work: { kernel: 'lab.inputGrad', macs: p.macs, serialMacsPerThread: p.serialMacsPerThread },
  });
  return dx;
}

/** Conv2DBackpropInput on webgpu: the lab's kernel where `use` says so and the input is NHWC float32, else `original`. */
export function makeInputGradConfig(original: KernelConfig, use: (backend: unknown) => boolean): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = args.attrs as unknown as Conv2DBackpropInputAttrs;
    const nhwc = a.dataFormat == null || a.dataFormat === 'NHWC';
    if (!use(args.backend) || !nhwc || dy.dtype !== 'float32' || filter.dtype !== 'float32') return original.kernelFunc(args);
    const shape = convShape(a.inputShape, filter.shape as [number, number, number, number], a.strides, a.pad, a.dimRoundingMode);
    if (shape.N * shape.H * shape.W * shape.Ci === 0) return original.kernelFunc(args);
    return inputGrad(args.backend as unknown as WebGpuBackendLike, dy, filter, shape);
  };
  return { ...original, kernelFunc };
}
