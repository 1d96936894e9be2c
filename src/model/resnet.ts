// The CIFAR-10 ResNet of He et al. 2015 (section 4.2), in all the forms the lab compares
// (docs/protocols.md §2). Depth 6n+2: conv3x3(3->16)-BN-ReLU, three stages of n basic blocks (16, 32,
// 64 channels; the first block of stages 2 and 3 has stride 2), global average pool, fully connected
// 64->10 (and, for neon, a BN on the logits). Four block variants ({ReLU after the add | none} x {BN
// before the add | after}), three shortcuts (A: parameter-free; B: 1x1 projection + BN; neon: 1x1 conv
// initialised to identity). Parameters are tf.Variables named as in akamaster/pytorch_resnet_cifar10
// (conv1, bn1, layer1.0.conv1, ..., linear), so the PyTorch export is a renaming-free transpose.
// Layouts are tfjs's: conv weights [kh, kw, in, out] (HWIO), linear weight [in, out], activations NHWC.
// What this file is not: the training loop (src/train) or file formats (weights.ts).

import * as tf from '@tensorflow/tfjs-core';
import { batchNormInfer, batchNormTrain } from '../kernels/batchnorm.ts';
import { addBias, addRelu, addSame } from '../kernels/fused.ts';
import { shortcutA } from '../kernels/shortcut.ts';
import { labWebGpu } from '../kernels/webgpu/register.ts';
import { labRunningStats } from '../kernels/webgpu/running-stats.ts';
import { createRng } from '../util/rng.ts';
import type { BlockVariant, ShortcutType } from '../experiment/config.ts';
import type { InitScheme, ModelDetails } from '../experiment/protocols.ts';

export interface ResNetSpec extends ModelDetails {
  depth: number;
  block: BlockVariant;
  shortcut: ShortcutType;
  numClasses: number;
}

export type ParamKind =
  | 'conv' // [kh, kw, in, out]
  | 'conv-bias'
  | 'shortcut-conv' // 1x1 projection, [1, 1, in, out]
  | 'bn-gamma'
  | 'bn-beta'
  | 'bn-mean' // running statistics: not trained
  | 'bn-var'
  | 'linear' // [in, out]
  | 'linear-bias';

export interface ParamInfo {
  name: string;
  shape: number[];
  kind: ParamKind;
  trainable: boolean;
}

/** A BN layer and its parameter-name prefix ("layer2.0.bn1"). */
export interface BnInfo {
  prefix: string;
  channels: number;
}

export class ArchitectureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchitectureError';
  }
}

export function blocksPerStage(depth: number): number {
  const n = (depth - 2) / 6;
  if (!Number.isInteger(n) || n < 1) {
    throw new ArchitectureError(`depth ${depth} is not 6n+2 with n >= 1 (use 8, 14, 20, 32, 44, 56, 110, ...)`);
  }
  return n;
}

const STAGE_CHANNELS = [16, 32, 64] as const;

/** One pixel of zero padding on each side of H and W (NHWC), for the 3x3 convolutions. */
const TORCH_PAD: [[number, number], [number, number], [number, number], [number, number]] = [
  [0, 0],
  [1, 1],
  [1, 1],
  [0, 0],
];

interface BlockPlan {
  prefix: string; // "layer{s}.{i}"
  cin: number;
  cout: number;
  stride: 1 | 2;
  projection: boolean; // the shortcut has parameters (B or neon, where the shape changes)
}

function planBlocks(spec: ResNetSpec): BlockPlan[] {
  const n = blocksPerStage(spec.depth);
  const plans: BlockPlan[] = [];
  let cin = 16;
  STAGE_CHANNELS.forEach((cout, s) => {
    for (let i = 0; i < n; i++) {
      const stride = s > 0 && i === 0 ? 2 : 1;
      const changes = stride !== 1 || cin !== cout;
      plans.push({ prefix: `layer${s + 1}.${i}`, cin, cout, stride, projection: changes && spec.shortcut !== 'A' });
      cin = cout;
    }
  });
  return plans;
}

function convParams(name: string, k: number, cin: number, cout: number, bias: boolean, kind: ParamKind = 'conv'): ParamInfo[] {
  const out: ParamInfo[] = [{ name: `${name}.weight`, shape: [k, k, cin, cout], kind, trainable: true }];
  if (bias) out.push({ name: `${name}.bias`, shape: [cout], kind: 'conv-bias', trainable: true });
  return out;
}

function bnParams(prefix: string, c: number): ParamInfo[] {
  return [
    { name: `${prefix}.weight`, shape: [c], kind: 'bn-gamma', trainable: true },
    { name: `${prefix}.bias`, shape: [c], kind: 'bn-beta', trainable: true },
    { name: `${prefix}.running_mean`, shape: [c], kind: 'bn-mean', trainable: false },
    { name: `${prefix}.running_var`, shape: [c], kind: 'bn-var', trainable: false },
  ];
}

/** Every parameter and buffer of the network, in PyTorch state_dict order. Pure: no tensors. */
export function describeParams(spec: ResNetSpec): ParamInfo[] {
  const out: ParamInfo[] = [...convParams('conv1', 3, 3, 16, spec.convBias), ...bnParams('bn1', 16)];
  for (const b of planBlocks(spec)) {
    out.push(...convParams(`${b.prefix}.conv1`, 3, b.cin, b.cout, spec.convBias), ...bnParams(`${b.prefix}.bn1`, b.cout));
    out.push(...convParams(`${b.prefix}.conv2`, 3, b.cout, b.cout, spec.convBias), ...bnParams(`${b.prefix}.bn2`, b.cout));
    if (b.projection) {
      // neon's projection has neither bias nor BN; option B's is conv (+bias as the others) + BN.
      const bias = spec.shortcut === 'B' && spec.convBias;
      out.push(...convParams(`${b.prefix}.shortcut.0`, 1, b.cin, b.cout, bias, 'shortcut-conv'));
      if (spec.shortcut === 'B') out.push(...bnParams(`${b.prefix}.shortcut.1`, b.cout));
    }
  }
  out.push({ name: 'linear.weight', shape: [64, spec.numClasses], kind: 'linear', trainable: true });
  if (spec.linearBias) out.push({ name: 'linear.bias', shape: [spec.numClasses], kind: 'linear-bias', trainable: true });
  if (spec.logitBN) out.push(...bnParams('linear_bn', spec.numClasses));
  return out;
}

export function countTrainableParams(spec: ResNetSpec): number {
  return describeParams(spec)
    .filter((p) => p.trainable)
    .reduce((acc, p) => acc + p.shape.reduce((a, b) => a * b, 1), 0);
}

/** Weighted layers in the paper's sense: 6n convs in the blocks + the first conv + the FC layer. */
export function countLayers(spec: ResNetSpec): number {
  return 6 * blocksPerStage(spec.depth) + 2;
}

export function bnLayers(spec: ResNetSpec): BnInfo[] {
  return describeParams(spec)
    .filter((p) => p.kind === 'bn-gamma')
    .map((p) => ({ prefix: p.name.slice(0, -'.weight'.length), channels: p.shape[0] }));
}

/** Initial values of one parameter, drawn from the protocol's scheme with our own seeded generator. */
function initialValues(p: ParamInfo, scheme: InitScheme, spec: ResNetSpec, rng: ReturnType<typeof createRng>): Float32Array {
  const size = p.shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(size);
  switch (p.kind) {
    case 'conv': {
      // He et al. 2015 ("Delving deep"): N(0, sqrt(2 / (k*k*n_in))). gcr: nninit.kaiming; neon: Kaiming().
      const [kh, kw, cin] = p.shape;
      const std = Math.sqrt(2 / (kh * kw * cin));
      for (let i = 0; i < size; i++) v[i] = rng.nextNormal() * std;
      return v;
    }
    case 'shortcut-conv': {
      const [, , cin, cout] = p.shape;
      if (spec.shortcut === 'neon') {
        // neon: identity on the first n_in output channels (weight [1,1,in,out]).
        for (let c = 0; c < cin; c++) v[c * cout + c] = 1;
      } else {
        const std = Math.sqrt(2 / cin);
        for (let i = 0; i < size; i++) v[i] = rng.nextNormal() * std;
      }
      return v;
    }
    case 'bn-gamma': {
      const { mean, std } = scheme.bnGamma; // gcr: N(1, 0.002); others: 1
      for (let i = 0; i < size; i++) v[i] = std > 0 ? mean + std * rng.nextNormal() : mean;
      return v;
    }
    case 'bn-var':
      return v.fill(spec.bnRunningVarInit);
    case 'linear':
    case 'linear-bias': {
      const fanIn = 64;
      if (scheme.linear === 'he-normal') {
        if (p.kind === 'linear') for (let i = 0; i < size; i++) v[i] = rng.nextNormal() * Math.sqrt(2 / fanIn);
      } else {
        // Torch nn.Linear reset(): U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
        const bound = 1 / Math.sqrt(fanIn);
        for (let i = 0; i < size; i++) v[i] = (2 * rng.nextFloat() - 1) * bound;
      }
      return v;
    }
    case 'conv-bias':
    case 'bn-beta':
    case 'bn-mean':
      return v;
  }
}

/** Batch statistics of one BN layer from a training forward pass, for the running-average update. */
export interface BnBatchStats {
  prefix: string;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D; // biased, over N*H*W
  count: number; // N*H*W, for the unbiased correction
}

export type Params = Record<string, tf.Variable>;

/** A variable holding t's values; t itself is disposed. */
function toVariable(t: tf.Tensor, trainable: boolean): tf.Variable {
  const v = tf.variable(t, trainable);
  t.dispose();
  return v;
}

export class ResNet {
  readonly spec: ResNetSpec;
  readonly params: Params;
  readonly info: ParamInfo[];
  private readonly plans: BlockPlan[];

  private constructor(spec: ResNetSpec, params: Params) {
    this.spec = spec;
    this.params = params;
    this.info = describeParams(spec);
    this.plans = planBlocks(spec);
  }

  /** A freshly initialised network; the same spec and seed give the same weights on every backend. */
  static create(spec: ResNetSpec, seed: number): ResNet {
    const rng = createRng(seed);
    const params: Params = {};
    for (const p of describeParams(spec)) {
      params[p.name] = toVariable(tf.tensor(initialValues(p, spec.init, spec, rng), p.shape), p.trainable);
    }
    return new ResNet(spec, params);
  }

  /** A network from existing values (loaded weights). Shapes must already have been checked. */
  static fromValues(spec: ResNetSpec, values: Record<string, tf.Tensor>): ResNet {
    const params: Params = {};
    for (const p of describeParams(spec)) {
      const t = values[p.name];
      if (!t) throw new ArchitectureError(`missing parameter ${p.name}`);
      params[p.name] = toVariable(tf.reshape(t, p.shape), p.trainable);
    }
    return new ResNet(spec, params);
  }

  trainableVariables(): tf.Variable[] {
    return this.info.filter((p) => p.trainable).map((p) => this.params[p.name]);
  }

  /**
   * Forward pass. x: [N, 32, 32, 3] NHWC. Returns logits [N, classes].
   * In training mode BN uses batch statistics, and each BN layer's batch mean/variance is pushed onto
   * `stats` (kept out of the enclosing tidy; the caller disposes them). `trace`, if given, sees each
   * block's shortcut ("layer2.0.shortcut") and output ("layer2.0") for inspection; it must not keep them.
   */
  forward(x: tf.Tensor4D, training: boolean, stats?: BnBatchStats[], trace?: (name: string, t: tf.Tensor4D) => void): tf.Tensor2D {
    const p = this.params;
    const spec = this.spec;
    // relu: the ReLU that follows the BN, fused into it when training (src/kernels/batchnorm.ts).
    // inputBias: a convolution's bias, taken into the batch norm instead of being added first (the
    // same values, one full-size pass less): in training normalised away with h + bias's own
    // statistics, in evaluation subtracted from the running mean (src/kernels/batchnorm.ts).
    const bn = <T extends tf.Tensor4D | tf.Tensor2D>(h: T, prefix: string, relu = false, inputBias?: tf.Tensor1D): T => {
      if (!training) {
        return batchNormInfer(
          h,
          p[`${prefix}.weight`] as tf.Tensor1D,
          p[`${prefix}.bias`] as tf.Tensor1D,
          p[`${prefix}.running_mean`] as tf.Tensor1D,
          p[`${prefix}.running_var`] as tf.Tensor1D,
          spec.bnEps,
          { relu, inputBias },
        ) as T;
      }
      const r = batchNormTrain(h, p[`${prefix}.weight`] as tf.Tensor1D, p[`${prefix}.bias`] as tf.Tensor1D, spec.bnEps, {
        relu,
        inputBias,
      });
      if (stats) {
        const count = h.size / h.shape[h.rank - 1];
        stats.push({ prefix, mean: tf.keep(r.mean), variance: tf.keep(r.variance), count });
      }
      return r.y as T;
    };
    const conv = (h: tf.Tensor4D, name: string, stride: 1 | 2, pad: 'torch' | 'valid', withBias = true): tf.Tensor4D => {
      // 3x3 convs pad 1 on every side, as Torch, Caffe and neon do (pad=1). tfjs's 'same' would pad
      // only bottom/right at stride 2, centring the outputs on odd pixels while option A's shortcut
      // keeps the even ones.
      const y = tf.conv2d(h, p[`${name}.weight`] as tf.Tensor4D, stride, pad === 'torch' ? TORCH_PAD : 'valid');
      const b = p[`${name}.bias`];
      return b && withBias ? addBias(y, b as tf.Tensor1D) : y;
    };
    // A convolution and the batch norm right after it: the conv's bias (where the protocol has one)
    // goes into the batch norm as its inputBias.
    const convBn = (h: tf.Tensor4D, name: string, stride: 1 | 2, pad: 'torch' | 'valid', prefix: string, relu = false): tf.Tensor4D => {
      const b = p[`${name}.bias`] as tf.Tensor1D | undefined;
      return bn(conv(h, name, stride, pad, false), prefix, relu, b);
    };

    const bnBefore = spec.block === 'relu-bnbefore' || spec.block === 'norelu-bnbefore';
    const reluAfter = spec.block === 'relu-bnbefore' || spec.block === 'relu-bnafter';
    // addBias / addSame / addRelu (src/kernels/fused.ts) save less for backprop than tf.add / tf.relu,
    // and each block runs in its own tidy, so a block's temporaries are freed before the next one.
    let h = convBn(x, 'conv1', 1, 'torch', 'bn1', true);
    for (const b of this.plans) {
      const input = h;
      h = tf.tidy(() => {
        let r = convBn(input, `${b.prefix}.conv1`, b.stride, 'torch', `${b.prefix}.bn1`, true);
        r = bnBefore ? convBn(r, `${b.prefix}.conv2`, 1, 'torch', `${b.prefix}.bn2`) : conv(r, `${b.prefix}.conv2`, 1, 'torch');
        const s = this.shortcut(input, b, convBn, conv);
        trace?.(`${b.prefix}.shortcut`, s);
        let out: tf.Tensor4D;
        if (bnBefore) out = reluAfter ? addRelu(r, s) : addSame(r, s);
        else out = bn(addSame(r, s), `${b.prefix}.bn2`, reluAfter);
        trace?.(b.prefix, out);
        return out;
      });
    }
    const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D; // [N, 64]
    let logits: tf.Tensor2D = tf.matMul(pooled, p['linear.weight'] as tf.Tensor2D);
    if (spec.linearBias) logits = tf.add(logits, p['linear.bias'] as tf.Tensor1D);
    if (spec.logitBN) logits = bn(logits, 'linear_bn');
    return logits;
  }

  private shortcut(
    x: tf.Tensor4D,
    b: BlockPlan,
    convBn: (h: tf.Tensor4D, name: string, stride: 1 | 2, pad: 'torch' | 'valid', prefix: string) => tf.Tensor4D,
    conv: (h: tf.Tensor4D, name: string, stride: 1 | 2, pad: 'torch' | 'valid') => tf.Tensor4D,
  ): tf.Tensor4D {
    if (b.stride === 1 && b.cin === b.cout) return x;
    if (b.projection) {
      const name = `${b.prefix}.shortcut.0`;
      return this.spec.shortcut === 'B' ? convBn(x, name, b.stride, 'valid', `${b.prefix}.shortcut.1`) : conv(x, name, b.stride, 'valid');
    }
    // Option A: keep every second pixel, then append zero channels after the input's (gcr: cat with
    // zeros); kernels/shortcut.ts.
    return shortcutA(x, b.cout, b.stride);
  }

  /**
   * Running-statistics update in the Torch convention (docs/protocols.md §3.4, §5.1):
   * running = (1 - m) * running + m * batch, with the unbiased batch variance where the protocol says
   * so (Torch/cuDNN). m = 1 keeps only the last batch; m = 0 freezes the statistics.
   */
  updateRunningStats(stats: BnBatchStats[], momentum: number): void {
    const correction = (s: BnBatchStats) => (this.spec.bnRunningVar === 'unbiased' && s.count > 1 ? s.count / (s.count - 1) : 1);
    if (labWebGpu(tf.backend())) {
      // The same arithmetic in a few dispatches on WebGPU (kernels/webgpu/running-stats.ts).
      const items = stats.map((s) => ({
        mean: this.params[`${s.prefix}.running_mean`],
        variance: this.params[`${s.prefix}.running_var`],
        batchMean: s.mean,
        batchVariance: s.variance,
        varScale: momentum * correction(s),
      }));
      labRunningStats(items, momentum);
      return;
    }
    tf.tidy(() => {
      for (const s of stats) {
        const rm = this.params[`${s.prefix}.running_mean`];
        const rv = this.params[`${s.prefix}.running_var`];
        rm.assign(tf.add(tf.mul(rm, 1 - momentum), tf.mul(s.mean, momentum)));
        rv.assign(tf.add(tf.mul(rv, 1 - momentum), tf.mul(s.variance, momentum * correction(s))));
      }
    });
  }

  /** Copies of every parameter and buffer, by name (for export and checkpoints). */
  snapshot(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const p of this.info) out[p.name] = this.params[p.name].clone();
    return out;
  }

  dispose(): void {
    for (const v of Object.values(this.params)) v.dispose();
  }
}

/** Dispose a list of BN statistics returned by a training forward pass. */
export function disposeStats(stats: BnBatchStats[]): void {
  for (const s of stats) {
    s.mean.dispose();
    s.variance.dispose();
  }
  stats.length = 0;
}
