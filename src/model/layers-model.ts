// The lab's ResNet as a standard Keras/tfjs Layers model: the JSON topology and the weight names that
// `tf.loadLayersModel` (stock @tensorflow/tfjs-layers, no lab code) reads, built from a ResNetSpec.
// Standard layers only: Conv2D (HWIO kernels), BatchNormalization (running statistics, the protocol's
// epsilon), Activation('relu'), Add, ZeroPadding2D, GlobalAveragePooling2D, Dense. The outputs are the
// lab's own (docs/protocols.md §2): stride-2 3x3 convs get ZeroPadding2D(1) + 'valid' because Keras'
// 'same' pads only bottom/right at stride 2; option A's shortcut is a fixed 1x1 stride-2 Conv2D whose
// kernel is the identity on the input channels and zero on the appended ones.
// What this file is not: the bytes of model.json/weights.bin and their checks (weights.ts).

import { parseConfigQuery } from '../experiment/config.ts';
import { PROTOCOLS, type DataProtocol } from '../experiment/protocols.ts';
import { describeParams, blocksPerStage, type ParamKind, type ResNetSpec } from './resnet.ts';

/** A Keras inbound node reference: [layer name, node index, tensor index, kwargs]. */
type NodeRef = [string, number, number, Record<string, never>];

export interface KerasLayerJson {
  class_name: string;
  name: string;
  config: Record<string, unknown>;
  inbound_nodes: NodeRef[][];
}

export interface KerasModelTopology {
  class_name: 'Model';
  config: { name: string; layers: KerasLayerJson[]; input_layers: [string, number, number][]; output_layers: [string, number, number][] };
  keras_version: string;
  backend: string;
}

/** One weight of the Layers model: its Keras name ("layer1.0.bn1/gamma") and where its values come from. */
export interface KerasWeight {
  name: string;
  shape: number[];
  /** The lab's parameter name, or undefined for option A's fixed shortcut kernel. */
  lab?: string;
  /** Values of a fixed (non-trainable, not a lab parameter) weight. */
  fixed?: Float32Array;
}

const KERAS_SUFFIX: Record<ParamKind, string> = {
  conv: 'kernel',
  'shortcut-conv': 'kernel',
  'conv-bias': 'bias',
  linear: 'kernel',
  'linear-bias': 'bias',
  'bn-gamma': 'gamma',
  'bn-beta': 'beta',
  'bn-mean': 'moving_mean',
  'bn-var': 'moving_variance',
};

/** Name of option A's fixed shortcut layer in block `prefix` ("layer2.0"). */
function optionALayer(prefix: string): string {
  return `${prefix}.shortcut.subsample`;
}

/** [1, 1, cin, cout] kernel: output channel c < cin copies input channel c, the others are zero. */
export function optionAKernel(cin: number, cout: number): Float32Array {
  const k = new Float32Array(cin * cout);
  for (let c = 0; c < cin; c++) k[c * cout + c] = 1;
  return k;
}

interface BlockShape {
  prefix: string;
  cin: number;
  cout: number;
  stride: 1 | 2;
}

function blockShapes(spec: ResNetSpec): BlockShape[] {
  const n = blocksPerStage(spec.depth);
  const out: BlockShape[] = [];
  let cin = 16;
  [16, 32, 64].forEach((cout, s) => {
    for (let i = 0; i < n; i++) {
      out.push({ prefix: `layer${s + 1}.${i}`, cin, cout, stride: s > 0 && i === 0 ? 2 : 1 });
      cin = cout;
    }
  });
  return out;
}

/** Every weight of the Layers model, in the order weights.bin stores them. */
export function kerasWeights(spec: ResNetSpec): KerasWeight[] {
  const out: KerasWeight[] = describeParams(spec).map((p) => {
    const layer = p.name.slice(0, p.name.lastIndexOf('.'));
    return { name: `${layer}/${KERAS_SUFFIX[p.kind]}`, shape: p.shape, lab: p.name };
  });
  if (spec.shortcut === 'A') {
    for (const b of blockShapes(spec)) {
      if (b.stride === 1 && b.cin === b.cout) continue;
      out.push({ name: `${optionALayer(b.prefix)}/kernel`, shape: [1, 1, b.cin, b.cout], fixed: optionAKernel(b.cin, b.cout) });
    }
  }
  return out;
}

const ZEROS = { class_name: 'Zeros', config: {} };
const ONES = { class_name: 'Ones', config: {} };

/** The Keras functional-model topology of `spec`'s network: input [N, 32, 32, 3] normalised NHWC, output the logits [N, classes]. */
export function kerasTopology(spec: ResNetSpec, modelName = `resnet${spec.depth}`): KerasModelTopology {
  const layers: KerasLayerJson[] = [];
  const add = (class_name: string, name: string, config: Record<string, unknown>, inputs: string[]): string => {
    layers.push({
      class_name,
      name,
      config: { name, trainable: true, dtype: 'float32', ...config },
      inbound_nodes: [inputs.map((i): NodeRef => [i, 0, 0, {}])],
    });
    return name;
  };
  const conv = (from: string, name: string, k: number, filters: number, stride: 1 | 2, bias: boolean, trainable = true): string => {
    // 3x3 at stride 2: pad 1 on every side explicitly; at stride 1 'same' pads 1 on every side too.
    let input = from;
    let padding = k === 1 ? 'valid' : 'same';
    if (k === 3 && stride === 2) {
      input = add(
        'ZeroPadding2D',
        `${name}.pad`,
        {
          padding: [
            [1, 1],
            [1, 1],
          ],
          data_format: 'channels_last',
        },
        [from],
      );
      padding = 'valid';
    }
    return add(
      'Conv2D',
      name,
      {
        trainable,
        filters,
        kernel_size: [k, k],
        strides: [stride, stride],
        padding,
        data_format: 'channels_last',
        dilation_rate: [1, 1],
        activation: 'linear',
        use_bias: bias,
        kernel_initializer: ZEROS,
        bias_initializer: ZEROS,
      },
      [input],
    );
  };
  const bn = (from: string, name: string): string =>
    add(
      'BatchNormalization',
      name,
      {
        axis: -1,
        momentum: 0.9,
        epsilon: spec.bnEps,
        center: true,
        scale: true,
        beta_initializer: ZEROS,
        gamma_initializer: ONES,
        moving_mean_initializer: ZEROS,
        moving_variance_initializer: ONES,
      },
      [from],
    );
  const relu = (from: string, name: string): string => add('Activation', name, { activation: 'relu' }, [from]);

  const bnBefore = spec.block === 'relu-bnbefore' || spec.block === 'norelu-bnbefore';
  const reluAfter = spec.block === 'relu-bnbefore' || spec.block === 'relu-bnafter';
  const input = 'input';
  layers.push({
    class_name: 'InputLayer',
    name: input,
    config: { batch_input_shape: [null, 32, 32, 3], dtype: 'float32', sparse: false, name: input },
    inbound_nodes: [],
  });
  let h = relu(bn(conv(input, 'conv1', 3, 16, 1, spec.convBias), 'bn1'), 'bn1.relu');
  for (const b of blockShapes(spec)) {
    const p = b.prefix;
    let r = relu(bn(conv(h, `${p}.conv1`, 3, b.cout, b.stride, spec.convBias), `${p}.bn1`), `${p}.bn1.relu`);
    r = conv(r, `${p}.conv2`, 3, b.cout, 1, spec.convBias);
    if (bnBefore) r = bn(r, `${p}.bn2`);
    let s = h;
    if (b.stride !== 1 || b.cin !== b.cout) {
      if (spec.shortcut === 'A') s = conv(h, optionALayer(p), 1, b.cout, b.stride, false, false);
      else if (spec.shortcut === 'B') s = bn(conv(h, `${p}.shortcut.0`, 1, b.cout, b.stride, spec.convBias), `${p}.shortcut.1`);
      else s = conv(h, `${p}.shortcut.0`, 1, b.cout, b.stride, false);
    }
    let out = add('Add', `${p}.add`, {}, [r, s]);
    if (!bnBefore) out = bn(out, `${p}.bn2`);
    if (reluAfter) out = relu(out, `${p}.relu`);
    h = out;
  }
  h = add('GlobalAveragePooling2D', 'avgpool', { data_format: 'channels_last' }, [h]);
  h = add(
    'Dense',
    'linear',
    { units: spec.numClasses, activation: 'linear', use_bias: spec.linearBias, kernel_initializer: ZEROS, bias_initializer: ZEROS },
    [h],
  );
  if (spec.logitBN) h = bn(h, 'linear_bn');
  return {
    class_name: 'Model',
    config: { name: modelName, layers, input_layers: [[input, 0, 0]], output_layers: [[h, 0, 0]] },
    keras_version: 'tfjs-layers 4.22.0',
    backend: 'tensor_flow.js',
  };
}

/** The normalisation each protocol applies before the network (docs/protocols.md §3.5), in words and numbers. */
const INPUT_BY_PREPROCESS: Record<DataProtocol['preprocess'], { mean: string; std: string }> = {
  'pixel-mean': { mean: "the training set's per-pixel mean image (32x32x3)", std: '1 (the 0-255 scale is kept)' },
  'pixel-mean-global-std': {
    mean: "the training set's per-pixel mean image (32x32x3)",
    std: 'the standard deviation of every value of the raw training set, n-1 denominator (64.150 for CIFAR-10)',
  },
  'channel-mean': { mean: 'the training set channel means R 125.307, G 122.950, B 113.865', std: '1 (the 0-255 scale is kept)' },
};

/** model.json's userDefinedMetadata: what the input and output are, for the protocol in `config`. */
export function layersMetadata(config: string): Record<string, unknown> {
  const parsed = config ? parseConfigQuery(config) : undefined;
  const preprocess = parsed && parsed.issues.length === 0 ? PROTOCOLS[parsed.config.protocol].data.preprocess : undefined;
  return {
    resnetLab: {
      input: {
        shape: [null, 32, 32, 3],
        layout: 'NHWC, channels R, G, B; float32',
        formula: 'x = (pixel - mean) / std, with pixel on the 0-255 scale',
        preprocess: preprocess ?? 'unknown (the file does not say which protocol trained it)',
        ...(preprocess ? INPUT_BY_PREPROCESS[preprocess] : {}),
        protocol: preprocess ? parsed!.config.protocol : undefined,
      },
      output:
        'logits [N, 10] for the CIFAR-10 classes airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck; softmax them for probabilities',
    },
  };
}
