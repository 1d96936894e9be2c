// The batch-norm running statistics' update on WebGPU (model/resnet.ts updateRunningStats calls
// labRunningStats): running = running * (1 - m) + batch * m for the mean, and the same with m times
// the variance's correction for the variance, two layers per dispatch, in place where no other tensor
// shares the running statistics' data (as sgd.ts does for parameters), else one layer out of place.
// The arithmetic is the composed ops' in float32, each product rounded before the add. Not the batch
// statistics themselves (batchnorm.ts).

import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { dispatch, makeOutput, ownedAlone, type WebGpuBackendLike } from './dispatch.ts';
import { FLAT_GROUP, grid } from './grid.ts';

export const LAB_WEBGPU_RUNNING_STATS = 'LabWebGpuRunningStats';

const WG = 64;

/** WGSL: layer k's update at channel i, written to outMean / outVar. */
function update(k: number, outMean: string, outVar: string): string {
  return `
      ${outMean}[i] = r(r(rm${k}[i] * u.keep) + r(bm${k}[i] * u.take));
      ${outVar}[i] = r(r(rv${k}[i] * u.keep) + r(bv${k}[i] * u.takeVar${k}));`;
}

/** The shader for `count` layers (1 or 2) in place, or one out of place. */
function shader(count: number, inPlace: boolean): string {
  const access = inPlace ? 'read_write' : 'read';
  let decl = '';
  for (let k = 0; k < count; k++) {
    decl += `
@group(0) @binding(${4 * k}) var<storage, ${access}> rm${k}: array<f32>;
@group(0) @binding(${4 * k + 1}) var<storage, ${access}> rv${k}: array<f32>;
@group(0) @binding(${4 * k + 2}) var<storage, read> bm${k}: array<f32>;
@group(0) @binding(${4 * k + 3}) var<storage, read> bv${k}: array<f32>;`;
  }
  if (!inPlace) {
    decl += `
@group(0) @binding(4) var<storage, read_write> outMean: array<f32>;
@group(0) @binding(5) var<storage, read_write> outVar: array<f32>;`;
  }
  const next = inPlace ? 4 * count : 6;
  const body = inPlace
    ? `if (j < u.n0) {
    let i = j;${update(0, 'rm0', 'rv0')}
  }${count === 2 ? ` else if (j - u.n0 < u.n1) {\n    let i = j - u.n0;${update(1, 'rm1', 'rv1')}\n  }` : ''}`
    : `if (j < u.n0) {
    let i = j;${update(0, 'outMean', 'outVar')}
  }`;
  return `${decl}
struct U { n0: u32, n1: u32, zero: u32, keep: f32, take: f32, takeVar0: f32, takeVar1: f32 }
@group(0) @binding(${next}) var<uniform> u: U;
// A rounding point: u.zero is 0, which the compiler cannot know, so each product is rounded to float32
// before the add, as each composed tfjs op rounds its result.
fn r(v: f32) -> f32 { return bitcast<f32>(bitcast<u32>(v) | u.zero); }
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${FLAT_GROUP}
  let j = group * ${WG}u + lid;
  ${body}
}`;
}

/**
 * Inputs rm0, rv0, bm0, bv0 (and rm1, rv1, bm1, bv1 in place); attrs momentum, varScale0, varScale1
 * (momentum times each layer's variance correction), inPlace. In place: no outputs; otherwise (one
 * layer) the new running mean and variance.
 */
function runningStatsKernel(inputs: Record<string, TensorInfo>, backend: WebGpuBackendLike, attrs: NamedAttrMap): TensorInfo[] {
  const inPlace = attrs.inPlace === true;
  const count = inputs.rm1 != null ? 2 : 1;
  if (count === 2 && !inPlace) throw new Error(`${LAB_WEBGPU_RUNNING_STATS}: two layers only in place.`);
  const layers = [0, 1].slice(0, count).map((k) => ['rm', 'rv', 'bm', 'bv'].map((n) => inputs[`${n}${k}`]!));
  const sizes = layers.map((ts) => {
    const c = tf.util.sizeFromShape(ts[0]!.shape);
    for (const t of ts) {
      if (tf.util.sizeFromShape(t.shape) !== c || t.dtype !== 'float32')
        throw new Error(`${LAB_WEBGPU_RUNNING_STATS}: four float32 tensors of ${c} channels expected, got [${t.shape}] ${t.dtype}.`);
    }
    return c;
  });
  const momentum = Number(attrs.momentum);
  const bindings = layers.flatMap(([rm, rv, bm, bv]) => [
    { tensor: rm!, write: inPlace },
    { tensor: rv!, write: inPlace },
    { tensor: bm! },
    { tensor: bv! },
  ]);
  const outs = inPlace ? [] : [makeOutput(backend, [...layers[0]![0]!.shape]), makeOutput(backend, [...layers[0]![0]!.shape])];
  for (const t of outs) bindings.push({ tensor: t, write: true });
  dispatch(backend, {
    key: `lab.runningStats.${count}.${inPlace}`,
    wgsl: () => shader(count, inPlace),
    bindings,
    uniforms: { u32: [sizes[0]!, sizes[1] ?? 0, 0], f32: [1 - momentum, momentum, Number(attrs.varScale0), Number(attrs.varScale1 ?? 0)] },
    workgroups: grid(
      sizes.reduce((a, b) => a + b, 0),
      WG,
    ),
    workgroupSize: WG,
    work: { kernel: 'lab.bn.runningStats' },
  });
  return outs;
}

export const runningStatsConfig: KernelConfig = {
  kernelName: LAB_WEBGPU_RUNNING_STATS,
  backendName: 'webgpu',
  kernelFunc: ({ inputs, backend, attrs }) =>
    runningStatsKernel(inputs as Record<string, TensorInfo>, backend as unknown as WebGpuBackendLike, attrs!),
};

/** One BN layer's update: its running statistics (Variables), the batch's, and m times its variance correction. */
export interface RunningStatsItem {
  mean: tf.Variable;
  variance: tf.Variable;
  batchMean: tf.Tensor;
  batchVariance: tf.Tensor;
  varScale: number;
}

/**
 * Updates every layer's running statistics on the webgpu backend (labWebGpu must be on): in place two
 * layers at a time where the running statistics are theirs alone, else one layer out of place and assigned.
 */
export function labRunningStats(items: RunningStatsItem[], momentum: number): void {
  const backend = tf.backend() as unknown as WebGpuBackendLike;
  const inPlace: RunningStatsItem[] = [];
  for (const it of items) {
    if (ownedAlone(backend, [it.mean, it.variance])) {
      inPlace.push(it);
      continue;
    }
    tf.tidy(() => {
      const inputs = { rm0: it.mean, rv0: it.variance, bm0: it.batchMean, bv0: it.batchVariance };
      const [m, v] = tf
        .engine()
        .runKernel(LAB_WEBGPU_RUNNING_STATS, inputs, { momentum, varScale0: it.varScale, inPlace: false }) as tf.Tensor[];
      it.mean.assign(m!);
      it.variance.assign(v!);
    });
  }
  for (let i = 0; i < inPlace.length; i += 2) {
    const [a, b] = [inPlace[i]!, inPlace[i + 1]];
    const inputs: tf.NamedTensorMap = { rm0: a.mean, rv0: a.variance, bm0: a.batchMean, bv0: a.batchVariance };
    if (b) Object.assign(inputs, { rm1: b.mean, rv1: b.variance, bm1: b.batchMean, bv1: b.batchVariance });
    tf.engine().runKernel(LAB_WEBGPU_RUNNING_STATS, inputs, {
      momentum,
      varScale0: a.varScale,
      varScale1: b?.varScale ?? 0,
      inPlace: true,
    });
  }
}
