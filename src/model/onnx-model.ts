// The lab's trained ResNet as an ONNX inference graph (model.onnx): opset 17, input "input" [N, 3, 32, 32]
// float32 NCHW of normalised images, output "logits" [N, 10]. Built from a ResNetSpec and the lab's
// parameter values, and encoded with onnx-proto (ONNX's onnx.proto compiled to static protobufjs code,
// which needs no eval: the page's Content-Security-Policy forbids it). It computes what
// ResNet.forward(x, false) computes (docs/protocols.md §2): Conv (OIHW weights, pads 1 on every side
// for 3x3), BatchNormalization in inference form (running statistics, the protocol's epsilon), Relu,
// Add, GlobalAveragePool, Gemm. Option A's shortcut is the lab's own: a Slice keeping every second
// pixel, then a Pad appending zero channels after the input's. gcr's conv biases are Conv biases and
// neon's batch norm on the logits is a BatchNormalization on [N, 10]. The preprocessing the input
// expects is in the model's metadata_props. What this file is not: a general ONNX writer or reader.

import { layersMetadata } from './layers-model.ts';
import onnxProto from 'onnx-proto';
import { blocksPerStage, describeParams, type ResNetSpec } from './resnet.ts';
import { WeightsError, type WeightsBundle } from './weights.ts';

export const ONNX_OPSET = 17;
/** IR version 8 goes with opset 17 (onnx's docs/Versioning.md). */
const ONNX_IR_VERSION = 8;
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'logits';
export const ONNX_FILE = 'model.onnx';

const { ModelProto, TensorProto, AttributeProto } = onnxProto.onnx;
const ONNX_FLOAT = TensorProto.DataType.FLOAT;
const ONNX_INT64 = TensorProto.DataType.INT64;

interface Attribute {
  name: string;
  type: number;
  i?: number;
  f?: number;
  ints?: number[];
}
const ATTR_FLOAT = AttributeProto.AttributeType.FLOAT;
const ATTR_INT = AttributeProto.AttributeType.INT;
const ATTR_INTS = AttributeProto.AttributeType.INTS;
const ints = (name: string, v: number[]): Attribute => ({ name, type: ATTR_INTS, ints: v });
const int = (name: string, v: number): Attribute => ({ name, type: ATTR_INT, i: v });
const float = (name: string, v: number): Attribute => ({ name, type: ATTR_FLOAT, f: v });

interface Node {
  name: string;
  opType: string;
  input: string[];
  output: string[];
  attribute: Attribute[];
}

interface Tensor {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}

/** HWIO [kh, kw, in, out] -> OIHW [out, in, kh, kw]. */
function toOIHW(v: Float32Array, [kh, kw, ci, co]: number[]): Float32Array {
  const out = new Float32Array(v.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) out[((o * ci + i) * kh + h) * kw + w] = v[((h * kw + w) * ci + i) * co + o];
  return out;
}

const bytesOf = (v: Float32Array | BigInt64Array) => new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));

/** Builds the graph's nodes and initializers in order. */
class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Tensor[] = [];
  private readonly values: WeightsBundle['values'];

  constructor(
    private readonly spec: ResNetSpec,
    values: WeightsBundle['values'],
  ) {
    this.values = values;
  }

  private param(name: string, dims: number[], v: Float32Array): string {
    this.initializers.push({ name, dims, dataType: ONNX_FLOAT, rawData: bytesOf(v) });
    return name;
  }

  private value(labName: string): Float32Array {
    const v = this.values[labName];
    if (!v) throw new WeightsError(`cannot write model.onnx: the weights have no ${labName}`);
    return v;
  }

  private node(opType: string, name: string, input: string[], attribute: Attribute[] = []): string {
    this.nodes.push({ name, opType, input, output: [name], attribute });
    return name;
  }

  /** A convolution "name" (lab parameter prefix) with its bias where the spec has one. */
  conv(from: string, name: string, k: number, cin: number, cout: number, stride: number, bias: boolean): string {
    const w = this.param(`${name}.weight`, [cout, cin, k, k], toOIHW(this.value(`${name}.weight`), [k, k, cin, cout]));
    const inputs = [from, w];
    if (bias) inputs.push(this.param(`${name}.bias`, [cout], this.value(`${name}.bias`)));
    const p = k === 3 ? 1 : 0;
    return this.node('Conv', name, inputs, [ints('kernel_shape', [k, k]), ints('strides', [stride, stride]), ints('pads', [p, p, p, p])]);
  }

  /** Batch norm "prefix" in inference form, over channel axis 1 ([N, C, H, W] or [N, C]). */
  bn(from: string, prefix: string, c: number): string {
    const inputs = [
      from,
      ...['weight', 'bias', 'running_mean', 'running_var'].map((s) => this.param(`${prefix}.${s}`, [c], this.value(`${prefix}.${s}`))),
    ];
    return this.node('BatchNormalization', prefix, inputs, [float('epsilon', this.spec.bnEps)]);
  }

  relu(from: string, name: string): string {
    return this.node('Relu', name, [from]);
  }

  /** Option A: every second pixel at stride 2 ([N, cin, H/2, W/2]), then cout - cin zero channels after the input's. */
  optionA(from: string, prefix: string, cin: number, cout: number, stride: number, size: number): string {
    let h = from;
    if (stride === 2) {
      const i64 = (name: string, v: number[]) => {
        this.initializers.push({ name, dims: [v.length], dataType: ONNX_INT64, rawData: bytesOf(BigInt64Array.from(v, BigInt)) });
        return name;
      };
      h = this.node('Slice', `${prefix}.shortcut.subsample`, [
        from,
        i64(`${prefix}.shortcut.subsample.starts`, [0, 0]),
        i64(`${prefix}.shortcut.subsample.ends`, [size, size]),
        i64(`${prefix}.shortcut.subsample.axes`, [2, 3]),
        i64(`${prefix}.shortcut.subsample.steps`, [2, 2]),
      ]);
    }
    if (cout === cin) return h;
    const pads = `${prefix}.shortcut.pad.pads`;
    this.initializers.push({
      name: pads,
      dims: [8],
      dataType: ONNX_INT64,
      rawData: bytesOf(BigInt64Array.from([0, 0, 0, 0, 0, cout - cin, 0, 0], BigInt)),
    });
    return this.node('Pad', `${prefix}.shortcut.pad`, [h, pads], []);
  }

  /** The whole network from input to logits; the last node writes ONNX_OUTPUT. */
  build(): void {
    const spec = this.spec;
    const bnBefore = spec.block === 'relu-bnbefore' || spec.block === 'norelu-bnbefore';
    const reluAfter = spec.block === 'relu-bnbefore' || spec.block === 'relu-bnafter';
    const n = blocksPerStage(spec.depth);
    let h = this.relu(this.bn(this.conv(ONNX_INPUT, 'conv1', 3, 3, 16, 1, spec.convBias), 'bn1', 16), 'bn1.relu');
    let cin = 16;
    [16, 32, 64].forEach((cout, s) => {
      for (let i = 0; i < n; i++) {
        const p = `layer${s + 1}.${i}`;
        const stride = s > 0 && i === 0 ? 2 : 1;
        let r = this.relu(this.bn(this.conv(h, `${p}.conv1`, 3, cin, cout, stride, spec.convBias), `${p}.bn1`, cout), `${p}.bn1.relu`);
        r = this.conv(r, `${p}.conv2`, 3, cout, cout, 1, spec.convBias);
        if (bnBefore) r = this.bn(r, `${p}.bn2`, cout);
        let sc = h;
        if (stride !== 1 || cin !== cout) {
          if (spec.shortcut === 'A') sc = this.optionA(h, p, cin, cout, stride, 32 >> Math.max(0, s - 1));
          else if (spec.shortcut === 'B')
            sc = this.bn(this.conv(h, `${p}.shortcut.0`, 1, cin, cout, stride, spec.convBias), `${p}.shortcut.1`, cout);
          else sc = this.conv(h, `${p}.shortcut.0`, 1, cin, cout, stride, false);
        }
        let out = this.node('Add', `${p}.add`, [r, sc]);
        if (!bnBefore) out = this.bn(out, `${p}.bn2`, cout);
        if (reluAfter) out = this.relu(out, `${p}.relu`);
        h = out;
        cin = cout;
      }
    });
    h = this.node('GlobalAveragePool', 'avgpool', [h]); // [N, 64, 1, 1]
    h = this.node('Flatten', 'flatten', [h], [int('axis', 1)]); // [N, 64]
    // Gemm: logits = pooled @ W (+ b); the lab's linear weight is already [in, out].
    const k = spec.numClasses;
    const inputs = [h, this.param('linear.weight', [64, k], this.value('linear.weight'))];
    if (spec.linearBias) inputs.push(this.param('linear.bias', [k], this.value('linear.bias')));
    h = this.node('Gemm', 'linear', inputs);
    if (spec.logitBN) this.bn(h, 'linear_bn', k);
    this.nodes[this.nodes.length - 1].output = [ONNX_OUTPUT];
  }
}

/** What the input must be and what the output is, as the model's metadata_props (keys and string values). */
export function onnxMetadata(bundle: Pick<WeightsBundle, 'config' | 'steps'>): Record<string, string> {
  const { input, output } = (layersMetadata(bundle.config) as { resnetLab: { input: Record<string, unknown>; output: string } }).resnetLab;
  const text = (v: unknown) => (v === undefined ? 'unknown' : String(v));
  return {
    resnet_lab_config: bundle.config,
    resnet_lab_steps: String(bundle.steps),
    input_name: ONNX_INPUT,
    input_shape: '[N, 3, 32, 32]',
    input_layout: 'NCHW, channels R, G, B; float32',
    preprocess: text(input.preprocess),
    normalization: text(input.formula),
    mean: text(input.mean),
    std: text(input.std),
    protocol: text(input.protocol),
    output_name: ONNX_OUTPUT,
    output: output,
    classes: 'airplane,automobile,bird,cat,deer,dog,frog,horse,ship,truck',
  };
}

const tensorType = (dims: (number | string)[]) => ({
  tensorType: {
    elemType: ONNX_FLOAT,
    shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
  },
});

/** model.onnx's bytes for `spec`'s network with `bundle`'s weights (checked against the spec first). */
export function encodeOnnx(spec: ResNetSpec, bundle: WeightsBundle): Uint8Array {
  const missing = describeParams(spec).filter((p) => !bundle.values[p.name]);
  if (missing.length) {
    throw new WeightsError(
      `cannot write model.onnx: the weights lack ${missing
        .map((p) => p.name)
        .slice(0, 4)
        .join(', ')} for ResNet-${spec.depth}`,
    );
  }
  for (const p of describeParams(spec)) {
    const size = p.shape.reduce((a, b) => a * b, 1);
    if (bundle.values[p.name].length !== size) {
      throw new WeightsError(`cannot write model.onnx: ${p.name} has ${bundle.values[p.name].length} values, expected ${size}`);
    }
  }
  const g = new GraphBuilder(spec, bundle.values);
  g.build();
  const model = {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'ResNet Lab',
    producerVersion: '1',
    docString: `ResNet-${spec.depth} (${spec.block}, shortcut ${spec.shortcut}) for CIFAR-10, trained by ResNet Lab`,
    graph: {
      name: `resnet${spec.depth}`,
      node: g.nodes,
      initializer: g.initializers,
      input: [{ name: ONNX_INPUT, type: tensorType(['N', 3, 32, 32]) }],
      output: [{ name: ONNX_OUTPUT, type: tensorType(['N', spec.numClasses]) }],
    },
    metadataProps: Object.entries(onnxMetadata(bundle)).map(([key, value]) => ({ key, value })),
  };
  const problem = ModelProto.verify(model);
  if (problem) throw new WeightsError(`cannot write model.onnx: ${problem}`);
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

/** The metadata_props of a model.onnx file (for checks and the lab's own reading). */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const m = ModelProto.decode(bytes);
  return Object.fromEntries(m.metadataProps.map((e) => [e.key ?? '', e.value ?? '']));
}
