// model.onnx of freshly initialised (not trained) ResNet-8s run in onnxruntime-node's CPU runtime and
// give the lab's own logits, for every block variant, shortcut and protocol detail; the file declares
// opset 17, an NCHW input, 10 logits and the input's preprocessing, and option A's shortcut is a Slice
// and a Pad with no weights. The trained networks on real CIFAR-10 are in layers-model.test.ts, which
// runs stock tfjs and onnxruntime side by side.

import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import onnxProto from 'onnx-proto';
import { initBackend } from '../backend/setup.ts';
import { formatConfigQuery, parseConfigQueryStrict } from '../experiment/config.ts';
import { modelSpec } from '../train/experiment.ts';
import { encodeOnnx, readOnnxMetadata } from './onnx-model.ts';
import { maxAbsDiff, onnxLogits } from './onnx-test-utils.ts';
import { ResNet } from './resnet.ts';
import { readModelValues, valuesToTensors, WeightsError } from './weights.ts';

beforeAll(async () => {
  await initBackend('wasm');
});

// Every block variant, shortcut and protocol (gcr: conv biases; neon: logit BN, linear bias).
const CASES = [
  'protocol=paper&block=relu-bnbefore&shortcut=A',
  'protocol=paper&block=relu-bnafter&shortcut=B',
  'protocol=gcr&block=norelu-bnbefore&shortcut=B',
  'protocol=gcr&block=norelu-bnafter&shortcut=A',
  'protocol=neon&block=relu-bnbefore&shortcut=neon',
  'protocol=neon&block=norelu-bnafter&shortcut=A',
];

describe('model.onnx', () => {
  it.for(CASES)('%s: onnxruntime gives the lab logits', async (query) => {
    const config = parseConfigQueryStrict(`${query}&depth=8`);
    const spec = modelSpec(config);
    // Running statistics away from their initial 0 and 1 (neon's start at variance 0), as after training.
    const values = await readModelValues(ResNet.create(spec, 5));
    for (const [name, v] of Object.entries(values)) {
      if (name.endsWith('running_mean')) v.forEach((_, i) => (v[i] = 0.1 * Math.sin(i + name.length)));
      if (name.endsWith('running_var')) v.forEach((_, i) => (v[i] = 1 + 0.5 * Math.cos(i * 3 + name.length)));
    }
    const tensors = valuesToTensors(spec, values);
    const m = ResNet.fromValues(spec, tensors);
    tf.dispose(Object.values(tensors));
    const onnx = encodeOnnx(spec, { config: formatConfigQuery(config), steps: 3, values });
    const x = tf.randomNormal([3, 32, 32, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
    const lab = tf.tidy(() => m.forward(x, false));
    const got = await onnxLogits(onnx, x.dataSync() as Float32Array, 3);
    expect(got.dims).toEqual([3, 10]);
    expect(maxAbsDiff(got.logits, lab.dataSync())).toBeLessThan(1e-4);
    tf.dispose([x, lab]);
    m.dispose();
  });

  it('declares opset 17, the NCHW input, the logits and the preprocessing; option A has no weights', async () => {
    const config = parseConfigQueryStrict('protocol=gcr&depth=8&shortcut=A&block=norelu-bnafter');
    const spec = modelSpec(config);
    const m = ResNet.create(spec, 1);
    const onnx = encodeOnnx(spec, { config: formatConfigQuery(config), steps: 12, values: await readModelValues(m) });
    const { ModelProto } = onnxProto.onnx;
    const model = ModelProto.toObject(ModelProto.decode(onnx), { longs: Number }) as {
      opsetImport: { domain?: string; version: number }[];
      graph: {
        node: { opType: string; name: string; input: string[] }[];
        initializer: { name: string }[];
        input: { name: string; type: { tensorType: { shape: { dim: { dimValue?: number; dimParam?: string }[] } } } }[];
        output: { name: string }[];
      };
    };
    expect(model.opsetImport).toEqual([{ domain: '', version: 17 }]); // '': the default domain, ai.onnx
    expect(model.graph.input[0].name).toBe('input');
    expect(model.graph.input[0].type.tensorType.shape.dim).toEqual([
      { dimParam: 'N' },
      { dimValue: 3 },
      { dimValue: 32 },
      { dimValue: 32 },
    ]);
    expect(model.graph.output[0].name).toBe('logits');
    const ops = new Set(model.graph.node.map((n) => n.opType));
    expect([...ops].sort()).toEqual(['Add', 'BatchNormalization', 'Conv', 'Flatten', 'Gemm', 'GlobalAveragePool', 'Pad', 'Relu', 'Slice']);
    expect(model.graph.node.filter((n) => n.opType === 'Slice').map((n) => n.name)).toEqual([
      'layer2.0.shortcut.subsample',
      'layer3.0.shortcut.subsample',
    ]);
    // gcr: every conv has a bias.
    expect(model.graph.initializer.filter((t) => t.name.endsWith('conv1.bias')).length).toBe(4);
    const meta = readOnnxMetadata(onnx);
    expect(meta).toMatchObject({
      resnet_lab_config: formatConfigQuery(config),
      resnet_lab_steps: '12',
      input_layout: 'NCHW, channels R, G, B; float32',
      preprocess: 'pixel-mean-global-std',
      protocol: 'gcr',
    });
    expect(meta.std).toMatch(/64\.150/);
    m.dispose();
  });

  it('refuses weights that do not fit the network', async () => {
    const spec = modelSpec(parseConfigQueryStrict('depth=8'));
    const m = ResNet.create(spec, 1);
    const values = await readModelValues(m);
    delete values['layer2.0.bn1.running_var'];
    expect(() => encodeOnnx(spec, { config: '', steps: 0, values })).toThrow(WeightsError);
    expect(() => encodeOnnx(spec, { config: '', steps: 0, values })).toThrow(/layer2\.0\.bn1\.running_var/);
    m.dispose();
  });
});
