// Trained weights in and out, in two formats, as bytes (no file system, no DOM: the CLI writes the
// bytes to disk, the page offers them as downloads).
//
// 1. TF.js format: model.json + weights.bin, a standard tfjs Layers model that tf.loadLayersModel
//    loads without the lab (topology in layers-model.ts), with the lab's configuration beside it.
//    The lab's older weights-manifest-only model.json ("resnet-lab-weights") is still read.
// 2. .safetensors with the names and layouts of akamaster/pytorch_resnet_cifar10 (conv weights
//    [out, in, kh, kw], linear [out, in], BN running_mean/running_var/num_batches_tracked), so
//    `model.load_state_dict(safetensors.torch.load_file(path))` works (see docs/weights.md).
// Both carry the lab's share-URL query string, so a file says which network it belongs to, and
// loading checks every name and shape against that network before anything changes.

import * as tf from '@tensorflow/tfjs-core';
import { kerasTopology, kerasWeights, layersMetadata, type KerasModelTopology } from './layers-model.ts';
import { describeParams, type ParamInfo, type ResNet, type ResNetSpec } from './resnet.ts';

export class WeightsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeightsError';
  }
}

/** Values by parameter name, in the lab's (tfjs) layout. */
export type WeightValues = Record<string, Float32Array>;

export interface WeightsBundle {
  /** The share-URL query of the run that made these weights ('' if unknown). */
  config: string;
  /** Training steps done (PyTorch's num_batches_tracked). */
  steps: number;
  values: WeightValues;
}

export async function readModelValues(model: ResNet): Promise<WeightValues> {
  const out: WeightValues = {};
  for (const p of model.info) out[p.name] = (await model.params[p.name].data()) as Float32Array;
  return out;
}

/** Problems when `entries` (names and shapes in the lab's layout) are loaded into `spec`'s network. */
export function checkArchitecture(spec: ResNetSpec, entries: { name: string; shape: number[] }[]): string[] {
  const expected = new Map(describeParams(spec).map((p) => [p.name, p.shape]));
  const got = new Map(entries.map((e) => [e.name, e.shape]));
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const s = got.get(name);
    if (!s) problems.push(`missing ${name}`);
    else if (s.join('x') !== shape.join('x')) problems.push(`${name} has shape [${s.join(', ')}], expected [${shape.join(', ')}]`);
  }
  for (const name of got.keys()) if (!expected.has(name)) problems.push(`unexpected ${name}`);
  return problems;
}

function architectureError(spec: ResNetSpec, problems: string[]): WeightsError {
  const shown = problems.slice(0, 6).join('; ');
  const more = problems.length > 6 ? ` (and ${problems.length - 6} more)` : '';
  return new WeightsError(
    `these weights do not fit ResNet-${spec.depth} (${spec.block}, shortcut ${spec.shortcut}): ${shown}${more}. ` +
      'Select the architecture the weights were trained with, or load weights made for this one.',
  );
}

// ---- layout conversion (pure JS; weights are small) -------------------------------------------------

/** HWIO [kh, kw, in, out] -> OIHW [out, in, kh, kw], or back with inverse = true. */
function convertConv(v: Float32Array, shapeHWIO: number[], inverse: boolean): Float32Array {
  const [kh, kw, ci, co] = shapeHWIO;
  const out = new Float32Array(v.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) {
          const hwio = ((h * kw + w) * ci + i) * co + o;
          const oihw = ((o * ci + i) * kh + h) * kw + w;
          if (inverse) out[hwio] = v[oihw];
          else out[oihw] = v[hwio];
        }
  return out;
}

function transpose2d(v: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c];
  return out;
}

function torchShape(p: ParamInfo): number[] {
  if (p.kind === 'conv' || p.kind === 'shortcut-conv') {
    const [kh, kw, ci, co] = p.shape;
    return [co, ci, kh, kw];
  }
  if (p.kind === 'linear') return [p.shape[1], p.shape[0]];
  return p.shape;
}

function toTorch(p: ParamInfo, v: Float32Array): Float32Array {
  if (p.kind === 'conv' || p.kind === 'shortcut-conv') return convertConv(v, p.shape, false);
  if (p.kind === 'linear') return transpose2d(v, p.shape[0], p.shape[1]);
  return v;
}

function fromTorch(p: ParamInfo, v: Float32Array): Float32Array {
  if (p.kind === 'conv' || p.kind === 'shortcut-conv') return convertConv(v, p.shape, true);
  if (p.kind === 'linear') return transpose2d(v, p.shape[1], p.shape[0]);
  return v;
}

// ---- safetensors -----------------------------------------------------------------------------------

const MAX_HEADER = 16 * 1024 * 1024;

interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** The PyTorch-named .safetensors file of a network's weights. */
export function encodeSafetensors(spec: ResNetSpec, bundle: WeightsBundle): Uint8Array {
  const info = describeParams(spec);
  const problems = checkArchitecture(
    spec,
    info.map((p) => ({ name: p.name, shape: bundle.values[p.name] ? p.shape : [-1] })),
  );
  if (problems.length) throw architectureError(spec, problems);
  const header: Record<string, unknown> = {
    __metadata__: { format: 'pt', resnet_lab_config: bundle.config, layout: 'akamaster/pytorch_resnet_cifar10' },
  };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const add = (name: string, dtype: string, shape: number[], bytes: Uint8Array) => {
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  };
  for (const p of info) {
    const v = toTorch(p, bundle.values[p.name]);
    add(p.name, 'F32', torchShape(p), new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    if (p.kind === 'bn-var') {
      // PyTorch's BatchNorm2d buffer; loading without it also works (it defaults to 0).
      const prefix = p.name.slice(0, -'.running_var'.length);
      const n = new BigInt64Array([BigInt(bundle.steps)]);
      add(`${prefix}.num_batches_tracked`, 'I64', [], new Uint8Array(n.buffer));
    }
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.byteLength % 8)) % 8; // align the data to 8 bytes, as the reference writer does
  if (pad) json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let pos = 8 + json.byteLength;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.byteLength;
  }
  return out;
}

/** Read a .safetensors file: its metadata and tensors (F32 only; I64 counters are read as numbers). */
export function parseSafetensors(
  fileName: string,
  bytes: Uint8Array,
): { metadata: Record<string, string>; tensors: Map<string, { shape: number[]; values: Float32Array }>; counters: Map<string, number> } {
  const fail = (why: string) =>
    new WeightsError(
      `${fileName} is not a readable .safetensors file: ${why}. Choose a .safetensors file saved by the lab (or by safetensors.torch.save_file).`,
    );
  if (bytes.byteLength < 8) throw fail(`it has only ${bytes.byteLength} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(Math.min(MAX_HEADER, bytes.byteLength - 8))) {
    throw fail(`its header claims ${headerLen} bytes but the file has ${bytes.byteLength}`);
  }
  const hl = Number(headerLen);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + hl)));
  } catch {
    throw fail('its header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail('its header is not a JSON object');
  const dataStart = 8 + hl;
  const dataLen = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, { shape: number[]; values: Float32Array }>();
  const counters = new Map<string, number>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (raw && typeof raw === 'object') for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') metadata[k] = v;
      continue;
    }
    const e = raw as SafetensorsEntry;
    if (!e || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets) || e.data_offsets.length !== 2) {
      throw fail(`entry ${JSON.stringify(name.slice(0, 60))} is malformed`);
    }
    const [b, end] = e.data_offsets;
    if (!Number.isSafeInteger(b) || !Number.isSafeInteger(end) || b < 0 || end < b || end > dataLen) {
      throw fail(`entry ${name} points outside the file (offsets ${b}..${end}, data ${dataLen} bytes)`);
    }
    if (!e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw fail(`entry ${name} has an invalid shape`);
    const size = e.shape.reduce((x, y) => x * y, 1);
    const slice = bytes.slice(dataStart + b, dataStart + end); // copy: aligned and independent of the file
    if (e.dtype === 'F32') {
      if (slice.byteLength !== size * 4) throw fail(`entry ${name} has ${slice.byteLength} bytes for ${size} float32 values`);
      tensors.set(name, { shape: e.shape, values: new Float32Array(slice.buffer) });
    } else if (e.dtype === 'I64' && size === 1 && slice.byteLength === 8) {
      counters.set(name, Number(new DataView(slice.buffer).getBigInt64(0, true)));
    } else {
      throw fail(`entry ${name} has dtype ${String(e.dtype)}; the lab reads float32 weights`);
    }
  }
  return { metadata, tensors, counters };
}

/** Weights from a .safetensors file, converted to the lab's layout and checked against `spec`. */
export function decodeSafetensors(spec: ResNetSpec, fileName: string, bytes: Uint8Array): WeightsBundle {
  const { metadata, tensors, counters } = parseSafetensors(fileName, bytes);
  const info = describeParams(spec);
  const entries = [...tensors].map(([name, t]) => {
    const p = info.find((q) => q.name === name);
    // Report shapes in the lab's layout so messages compare like with like.
    return { name, shape: p && t.shape.join('x') === torchShape(p).join('x') ? p.shape : t.shape };
  });
  const problems = checkArchitecture(spec, entries);
  if (problems.length) throw architectureError(spec, problems);
  const values: WeightValues = {};
  for (const p of info) values[p.name] = fromTorch(p, tensors.get(p.name)!.values);
  const steps = counters.get('bn1.num_batches_tracked') ?? 0;
  return { config: metadata.resnet_lab_config ?? '', steps, values };
}

/** The lab configuration stored in a weights file, without checking the tensors. */
export function safetensorsConfig(fileName: string, bytes: Uint8Array): string {
  return parseSafetensors(fileName, bytes).metadata.resnet_lab_config ?? '';
}

// ---- TF.js format ----------------------------------------------------------------------------------

type Manifest = { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];

/** The lab's first TF.js format: a weights manifest with the lab's parameter names. Read, not written. */
export interface LegacyTfjsModelJson {
  format: 'resnet-lab-weights';
  generatedBy: string;
  resnetLab: { version: 1; config: string; steps: number; layout: string };
  weightsManifest: Manifest;
}

/** A standard tfjs Layers model (tf.loadLayersModel) with the lab's configuration beside it. */
export interface LayersTfjsModelJson {
  format: 'layers-model';
  generatedBy: string;
  convertedBy: null;
  modelTopology: KerasModelTopology;
  weightsManifest: Manifest;
  userDefinedMetadata?: Record<string, unknown>;
  /** Absent in Layers models made elsewhere; then the selected architecture is tried. */
  resnetLab?: { format: 'resnet-lab-layers-model'; version: 2; config: string; steps: number };
}

export type TfjsModelJson = LegacyTfjsModelJson | LayersTfjsModelJson;

export const TFJS_WEIGHTS_FILE = 'weights.bin';

/** model.json (a tfjs Layers model) and weights.bin of the TF.js format. */
export function encodeTfjs(spec: ResNetSpec, bundle: WeightsBundle): { modelJson: LayersTfjsModelJson; weightsBin: Uint8Array } {
  const weights = kerasWeights(spec);
  const missing = weights.filter((w) => w.lab && !bundle.values[w.lab]).map((w) => `missing ${w.lab}`);
  if (missing.length) throw architectureError(spec, missing);
  const bin = new Float32Array(weights.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0));
  let pos = 0;
  for (const w of weights) {
    const v = w.lab ? bundle.values[w.lab] : w.fixed!;
    bin.set(v, pos);
    pos += v.length;
  }
  return {
    modelJson: {
      format: 'layers-model',
      generatedBy: 'ResNet Lab',
      convertedBy: null,
      modelTopology: kerasTopology(spec),
      weightsManifest: [
        { paths: [TFJS_WEIGHTS_FILE], weights: weights.map((w) => ({ name: w.name, shape: w.shape, dtype: 'float32' as const })) },
      ],
      userDefinedMetadata: layersMetadata(bundle.config),
      resnetLab: { format: 'resnet-lab-layers-model', version: 2, config: bundle.config, steps: bundle.steps },
    },
    weightsBin: new Uint8Array(bin.buffer),
  };
}

/** Parse model.json text (either format); throws a WeightsError saying what is wrong. */
export function parseTfjsModelJson(fileName: string, text: string): TfjsModelJson {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw new WeightsError(`${fileName} is not JSON. Choose the model.json saved by the lab's "Download weights".`);
  }
  const m = j as { format?: unknown; modelTopology?: unknown; weightsManifest?: { weights?: unknown }[] } | null;
  if (!m || typeof m !== 'object' || !Array.isArray(m.weightsManifest) || !m.weightsManifest.every((g) => g && Array.isArray(g.weights))) {
    throw new WeightsError(`${fileName} has no weightsManifest: it is not a TF.js weights file saved by the lab.`);
  }
  const layers = m.format === 'layers-model' || (m.format === undefined && m.modelTopology !== undefined);
  if (!layers && m.format !== 'resnet-lab-weights') {
    throw new WeightsError(
      `${fileName} is a TF.js file of format ${JSON.stringify(m.format)}; the lab reads tfjs Layers models ("layers-model") and its older "resnet-lab-weights" files.`,
    );
  }
  return (layers ? { ...m, format: 'layers-model' } : m) as TfjsModelJson;
}

const LAB_SUFFIX: Record<string, string> = {
  kernel: 'weight',
  bias: 'bias',
  gamma: 'weight',
  beta: 'bias',
  moving_mean: 'running_mean',
  moving_variance: 'running_var',
};

/** "layer1.0.bn1/moving_mean" -> "layer1.0.bn1.running_mean"; names it cannot map come back unchanged. */
function labNameOf(kerasName: string): string {
  const slash = kerasName.lastIndexOf('/');
  const suffix = LAB_SUFFIX[kerasName.slice(slash + 1)];
  return slash > 0 && suffix ? `${kerasName.slice(0, slash)}.${suffix}` : kerasName;
}

/** Weights from model.json + weights.bin (either format), checked against `spec`. */
export function decodeTfjs(spec: ResNetSpec, modelJson: TfjsModelJson, weightsBin: Uint8Array): WeightsBundle {
  const specs = modelJson.weightsManifest.flatMap((g) => g.weights);
  const layers = modelJson.format === 'layers-model';
  // Option A's fixed shortcut kernels are part of the Layers model but not lab parameters.
  const fixed = new Map(
    layers
      ? kerasWeights(spec)
          .filter((w) => w.fixed)
          .map((w) => [w.name, w])
      : [],
  );
  const labName = (w: tf.io.WeightsManifestEntry) => (layers ? labNameOf(w.name) : w.name);
  const problems = checkArchitecture(
    spec,
    specs.filter((w) => !fixed.has(w.name)).map((w) => ({ name: labName(w), shape: w.shape })),
  );
  for (const [name, w] of fixed) {
    const got = specs.find((s) => s.name === name);
    if (!got || got.shape.join('x') !== w.shape.join('x')) problems.push(`missing ${name} [${w.shape.join(', ')}]`);
  }
  if (problems.length) throw architectureError(spec, problems);
  const nonFloat = specs.find((w) => w.dtype !== 'float32');
  if (nonFloat) throw new WeightsError(`weight ${nonFloat.name} is ${nonFloat.dtype}; the lab reads float32 weights`);
  const needed = specs.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1) * 4, 0);
  if (weightsBin.byteLength !== needed) {
    throw new WeightsError(
      `${TFJS_WEIGHTS_FILE} has ${weightsBin.byteLength} bytes but model.json describes ${needed}: the file is truncated or belongs to another model.json.`,
    );
  }
  const copy = weightsBin.slice(); // aligned copy
  const values: WeightValues = {};
  let pos = 0;
  for (const w of specs) {
    const n = w.shape.reduce((x, y) => x * y, 1);
    const v = new Float32Array(copy.buffer, pos * 4, n);
    pos += n;
    const f = fixed.get(w.name)?.fixed;
    if (!f) values[labName(w)] = v;
    else if (v.some((x, i) => x !== f[i])) {
      throw new WeightsError(
        `${w.name} is not option A's fixed shortcut (the identity on the input channels, zero on the others): the model was changed after the lab saved it.`,
      );
    }
  }
  return { config: modelJson.resnetLab?.config ?? '', steps: modelJson.resnetLab?.steps ?? 0, values };
}

/** tensors for ResNet.fromValues (caller disposes). */
export function valuesToTensors(spec: ResNetSpec, values: WeightValues): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const p of describeParams(spec)) out[p.name] = tf.tensor(values[p.name], p.shape, 'float32');
  return out;
}
