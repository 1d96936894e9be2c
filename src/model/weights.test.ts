// Weights files: both formats round-trip exactly, the PyTorch file has PyTorch's layouts, and bad or
// mismatched files are refused with a message that says what is wrong.

import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { modelSpec } from '../train/experiment.ts';
import { ResNet } from './resnet.ts';
import {
  decodeSafetensors,
  decodeTfjs,
  encodeSafetensors,
  encodeTfjs,
  parseSafetensors,
  parseTfjsModelJson,
  readModelValues,
  valuesToTensors,
  WeightsError,
  type WeightsBundle,
} from './weights.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const specB = modelSpec({ protocol: 'gcr', depth: 8, block: 'relu-bnbefore', shortcut: 'B' });

async function bundleOf(m: ResNet): Promise<WeightsBundle> {
  return { config: 'protocol=gcr&depth=8&shortcut=B', steps: 123, values: await readModelValues(m) };
}

describe('safetensors (PyTorch names and layouts)', () => {
  it('round-trips every value exactly and stores PyTorch layouts', async () => {
    const m = ResNet.create(specB, 1);
    const bundle = await bundleOf(m);
    const bytes = encodeSafetensors(specB, bundle);
    const { metadata, tensors, counters } = parseSafetensors('m.safetensors', bytes);
    expect(metadata).toMatchObject({ format: 'pt', resnet_lab_config: bundle.config });
    expect(tensors.get('conv1.weight')!.shape).toEqual([16, 3, 3, 3]); // [out, in, kh, kw]
    expect(tensors.get('layer2.0.shortcut.0.weight')!.shape).toEqual([32, 16, 1, 1]);
    expect(tensors.get('linear.weight')!.shape).toEqual([10, 64]); // [out, in]
    expect(counters.get('bn1.num_batches_tracked')).toBe(123);
    // Element [o, i, h, w] of the PyTorch tensor is element [h, w, i, o] of ours.
    const hwio = m.params['layer1.0.conv2.weight'].arraySync() as number[][][][];
    const oihw = tensors.get('layer1.0.conv2.weight')!.values;
    const at = (o: number, i: number, h: number, w: number) => oihw[((o * 16 + i) * 3 + h) * 3 + w];
    expect(at(5, 7, 2, 1)).toBe(Math.fround(hwio[2][1][7][5]));
    expect(at(15, 0, 0, 2)).toBe(Math.fround(hwio[0][2][0][15]));
    const lin = m.params['linear.weight'].arraySync() as number[][];
    expect(tensors.get('linear.weight')!.values[3 * 64 + 17]).toBe(Math.fround(lin[17][3]));
    // The header is 8-byte aligned JSON.
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);

    const back = decodeSafetensors(specB, 'm.safetensors', bytes);
    expect(back.config).toBe(bundle.config);
    expect(back.steps).toBe(123);
    for (const [name, v] of Object.entries(bundle.values)) expect(Array.from(back.values[name]), name).toEqual(Array.from(v));
    m.dispose();
  });

  it('refuses another architecture, naming what does not fit', async () => {
    const m = ResNet.create(specB, 1);
    const bytes = encodeSafetensors(specB, await bundleOf(m));
    const deeper = modelSpec({ protocol: 'gcr', depth: 14, block: 'relu-bnbefore', shortcut: 'B' });
    expect(() => decodeSafetensors(deeper, 'm.safetensors', bytes)).toThrow(WeightsError);
    expect(() => decodeSafetensors(deeper, 'm.safetensors', bytes)).toThrow(/missing layer1\.1\.conv1\.weight/);
    const optionA = modelSpec({ protocol: 'gcr', depth: 8, block: 'relu-bnbefore', shortcut: 'A' });
    expect(() => decodeSafetensors(optionA, 'm.safetensors', bytes)).toThrow(/unexpected layer2\.0\.shortcut\.0\.weight/);
    m.dispose();
  });

  it.each([
    ['empty', new Uint8Array(0), /only 0 bytes/],
    ['absurd header size', Uint8Array.from([255, 255, 255, 255, 255, 255, 255, 127, 123, 125]), /header claims/],
    [
      'header not JSON',
      (() => {
        const b = new Uint8Array(16);
        b[0] = 8;
        b.set(new TextEncoder().encode('notjson!'), 8);
        return b;
      })(),
      /not JSON/,
    ],
  ])('a %s file gets a clear error', (_what, bytes, why) => {
    expect(() => parseSafetensors('x.safetensors', bytes)).toThrow(WeightsError);
    expect(() => parseSafetensors('x.safetensors', bytes)).toThrow(why);
  });

  it('a truncated file is refused, not half-loaded', async () => {
    const m = ResNet.create(specB, 1);
    const bytes = encodeSafetensors(specB, await bundleOf(m));
    expect(() => decodeSafetensors(specB, 'm.safetensors', bytes.subarray(0, bytes.length - 100))).toThrow(/outside the file/);
    m.dispose();
  });
});

describe('TF.js format', () => {
  it('round-trips and is readable by tf.io.decodeWeights', async () => {
    const m = ResNet.create(specB, 2);
    const bundle = await bundleOf(m);
    const { modelJson, weightsBin } = encodeTfjs(specB, bundle);
    const parsed = parseTfjsModelJson('model.json', JSON.stringify(modelJson));
    const back = decodeTfjs(specB, parsed, weightsBin);
    for (const [name, v] of Object.entries(bundle.values)) expect(Array.from(back.values[name]), name).toEqual(Array.from(v));
    // Plain tfjs reads it too, under Keras names (layers-model.test.ts loads it as a Layers model).
    const named = tf.io.decodeWeights(weightsBin.buffer as ArrayBuffer, modelJson.weightsManifest[0].weights);
    expect(Array.from(named['layer3.0.bn2/moving_variance'].dataSync())).toEqual(Array.from(bundle.values['layer3.0.bn2.running_var']));
    tf.dispose(Object.values(named));
    // A network rebuilt from the file computes the same logits.
    const tensors = valuesToTensors(specB, back.values);
    const m2 = ResNet.fromValues(specB, tensors);
    tf.dispose(Object.values(tensors));
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const [a, b] = tf.tidy(() => [m.forward(x, false), m2.forward(x, false)]);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b, x]);
    m.dispose();
    m2.dispose();
  });

  it('refuses non-JSON, a manifest-less JSON, and a weights.bin of the wrong size', async () => {
    expect(() => parseTfjsModelJson('model.json', '{"a":')).toThrow(/not JSON/);
    expect(() => parseTfjsModelJson('model.json', '{"modelTopology":{}}')).toThrow(/weightsManifest/);
    const m = ResNet.create(specB, 2);
    const { modelJson, weightsBin } = encodeTfjs(specB, await bundleOf(m));
    expect(() => decodeTfjs(specB, modelJson, weightsBin.subarray(0, 1000))).toThrow(/truncated/);
    m.dispose();
  });
});
