// The TF.js download is a standard Layers model: stock tf.loadLayersModel (@tensorflow/tfjs-layers, no
// lab code) loads it from the bytes the lab writes and computes the lab's own logits, for every block
// variant, shortcut and protocol (a representative set, not the full product), after a few dozen
// training steps on real CIFAR-10 (skipped, saying why, without public/data); the same trained
// networks' model.onnx gives them in onnxruntime-node. The lab's "Load weights" path reads the new
// format and the older weights-only one.

import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../backend/setup.ts';
import { loadCifarDir } from '../data/node-files.ts';
import { makeNormalizer, normalizeImage } from '../data/preprocess.ts';
import { NO_DATA_NOTE, realDataPresent } from '../data/test-utils.ts';
import { formatConfigQuery, parseConfigQueryStrict } from '../experiment/config.ts';
import { modelSpec, resolveExperiment } from '../train/experiment.ts';
import { Trainer } from '../train/trainer.ts';
import { optionAKernel } from './layers-model.ts';
import { encodeOnnx } from './onnx-model.ts';
import { maxAbsDiff, onnxLogits } from './onnx-test-utils.ts';
import { ResNet, type ResNetSpec } from './resnet.ts';
import {
  decodeTfjs,
  encodeTfjs,
  parseTfjsModelJson,
  readModelValues,
  valuesToTensors,
  WeightsError,
  type WeightsBundle,
} from './weights.ts';

beforeAll(async () => {
  await initBackend('wasm');
});

/** model.json text + weights.bin as stock tfjs reads them (tf.io.http/file do the same with fetched bytes). */
function memoryHandler(modelJsonText: string, weightsBin: Uint8Array): tf.io.IOHandler {
  return {
    load: () =>
      tf.io.getModelArtifactsForJSON(JSON.parse(modelJsonText) as tf.io.ModelJSON, async (manifest) => [
        manifest.flatMap((g) => g.weights),
        weightsBin.slice().buffer,
      ]),
  };
}

async function exportAndLoad(spec: ResNetSpec, bundle: WeightsBundle): Promise<{ text: string; bin: Uint8Array; stock: tfl.LayersModel }> {
  const { modelJson, weightsBin } = encodeTfjs(spec, bundle);
  const text = JSON.stringify(modelJson);
  const stock = await tfl.loadLayersModel(memoryHandler(text, weightsBin));
  return { text, bin: weightsBin, stock };
}

/** Largest |a - b| between the lab's logits and the stock model's, and both argmaxes. */
function compare(
  model: ResNet,
  stock: tfl.LayersModel,
  x: tf.Tensor4D,
): { maxDiff: number; labLogits: Float32Array; labPred: Int32Array; stockPred: Int32Array } {
  return tf.tidy(() => {
    const a = model.forward(x, false);
    const b = stock.predict(x) as tf.Tensor2D;
    expect(b.shape).toEqual(a.shape);
    return {
      maxDiff: tf.max(tf.abs(tf.sub(a, b))).dataSync()[0],
      labLogits: a.dataSync() as Float32Array,
      labPred: tf.argMax(a, 1).dataSync() as Int32Array,
      stockPred: tf.argMax(b, 1).dataSync() as Int32Array,
    };
  });
}

/** Index of the largest value of each row of a row-major [rows, cols] array. */
function argMaxRows(v: Float32Array, cols: number): Int32Array {
  const out = new Int32Array(v.length / cols);
  for (let r = 0; r < out.length; r++) for (let c = 1; c < cols; c++) if (v[r * cols + c] > v[r * cols + out[r]]) out[r] = c;
  return out;
}

describe('TF.js Layers model, freshly initialised networks', () => {
  it('loads with stock tfjs, keeps the lab configuration, and describes its input', async () => {
    const config = parseConfigQueryStrict('protocol=gcr&depth=8&shortcut=A&block=norelu-bnafter');
    const spec = modelSpec(config);
    const m = ResNet.create(spec, 3);
    const { text, bin, stock } = await exportAndLoad(spec, {
      config: formatConfigQuery(config),
      steps: 7,
      values: await readModelValues(m),
    });
    const json = JSON.parse(text);
    expect(json.format).toBe('layers-model');
    expect(json.resnetLab).toMatchObject({ format: 'resnet-lab-layers-model', config: formatConfigQuery(config), steps: 7 });
    const meta = stock.getUserDefinedMetadata() as { resnetLab: { input: Record<string, unknown> } };
    expect(meta.resnetLab.input).toMatchObject({ shape: [null, 32, 32, 3], preprocess: 'pixel-mean-global-std', protocol: 'gcr' });
    const classes = new Set(stock.layers.map((l) => l.getClassName()));
    expect([...classes].sort()).toEqual([
      'Activation',
      'Add',
      'BatchNormalization',
      'Conv2D',
      'Dense',
      'GlobalAveragePooling2D',
      'InputLayer',
      'ZeroPadding2D',
    ]);
    // Option A's shortcut: a fixed, non-trainable 1x1 stride-2 conv, identity on the input channels.
    const sub = stock.getLayer('layer2.0.shortcut.subsample');
    expect(sub.trainable).toBe(false);
    expect(Array.from(sub.getWeights()[0].dataSync())).toEqual(Array.from(optionAKernel(16, 32)));
    const x = tf.randomNormal([4, 32, 32, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
    expect(compare(m, stock, x).maxDiff).toBeLessThan(1e-4);
    // The lab reads it back exactly.
    const back = decodeTfjs(spec, parseTfjsModelJson('model.json', text), bin);
    expect(back.config).toBe(formatConfigQuery(config));
    expect(back.steps).toBe(7);
    const orig = await readModelValues(m);
    expect(Object.keys(back.values).sort()).toEqual(Object.keys(orig).sort());
    for (const [name, v] of Object.entries(orig)) expect(Array.from(back.values[name]), name).toEqual(Array.from(v));
    tf.dispose([x]);
    stock.dispose();
    m.dispose();
  });

  it('reads the older weights-only model.json, and refuses other formats and tampered shortcuts', async () => {
    const spec = modelSpec({ protocol: 'neon', depth: 8, block: 'relu-bnbefore', shortcut: 'neon' });
    const m = ResNet.create(spec, 4);
    const values = await readModelValues(m);
    // The lab's first TF.js format, as it was written: lab names, tfjs layouts, one weights.bin.
    const legacy = {
      format: 'resnet-lab-weights',
      generatedBy: 'ResNet Lab',
      resnetLab: { version: 1, config: 'protocol=neon&depth=8&shortcut=neon', steps: 5, layout: 'tfjs' },
      weightsManifest: [{ paths: ['weights.bin'], weights: m.info.map((p) => ({ name: p.name, shape: p.shape, dtype: 'float32' })) }],
    };
    const bin = new Float32Array(m.info.flatMap((p) => Array.from(values[p.name])));
    const back = decodeTfjs(spec, parseTfjsModelJson('model.json', JSON.stringify(legacy)), new Uint8Array(bin.buffer));
    expect(back.steps).toBe(5);
    for (const [name, v] of Object.entries(values)) expect(Array.from(back.values[name]), name).toEqual(Array.from(v));
    const m2 = ResNet.fromValues(spec, valuesToTensors(spec, back.values));
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const [a, b] = tf.tidy(() => [m.forward(x, false), m2.forward(x, false)]);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(() => parseTfjsModelJson('model.json', '{"format":"graph-model","weightsManifest":[]}')).toThrow(/graph-model.*layers-model/);
    // A Layers model for option A whose fixed shortcut was altered is refused.
    const specA = modelSpec({ protocol: 'paper', depth: 8, block: 'relu-bnbefore', shortcut: 'A' });
    const mA = ResNet.create(specA, 1);
    const enc = encodeTfjs(specA, { config: '', steps: 0, values: await readModelValues(mA) });
    const f = new Float32Array(enc.weightsBin.buffer.slice(0));
    f[f.length - 1] = 0.5; // the last weight is layer3.0's fixed shortcut kernel
    expect(() => decodeTfjs(specA, enc.modelJson, new Uint8Array(f.buffer))).toThrow(WeightsError);
    expect(() => decodeTfjs(spec, enc.modelJson, enc.weightsBin)).toThrow(/do not fit ResNet-8/);
    tf.dispose([a, b, x]);
    [m, m2, mA].forEach((n) => n.dispose());
  });
});

// block x shortcut x protocol: every block variant, shortcut and protocol detail at least once.
const TRAINED_CASES = [
  'protocol=paper&block=relu-bnbefore&shortcut=A',
  'protocol=gcr&block=norelu-bnbefore&shortcut=B',
  'protocol=neon&block=relu-bnafter&shortcut=neon',
  'protocol=gcr&block=norelu-bnafter&shortcut=A',
  'protocol=neon&block=norelu-bnbefore&shortcut=B',
];
const TEST_IMAGES = 500;

describe('TF.js Layers model and model.onnx, trained ResNet-8 on real CIFAR-10', () => {
  const data = realDataPresent() ? loadCifarDir() : undefined;

  it.for(TRAINED_CASES)('%s: stock tfjs and onnxruntime give the lab logits and test error', { timeout: 120_000 }, async (query, ctx) => {
    if (!data) return ctx.skip(NO_DATA_NOTE);
    const config = parseConfigQueryStrict(`${query}&depth=8&batch=32&schedule=constant&lr=0.05&seed=2`);
    const trainer = new Trainer(resolveExperiment(config), await data, { maxSteps: 30, evalLimit: TEST_IMAGES });
    await trainer.run({});
    const spec = trainer.experiment.spec;
    const bundle = { config: formatConfigQuery(config), steps: trainer.iteration, values: await readModelValues(trainer.model) };
    const { stock } = await exportAndLoad(spec, bundle);
    const { test } = await data;
    const norm = makeNormalizer(trainer.stats, trainer.experiment.data.preprocess);
    const pixels = new Float32Array(TEST_IMAGES * 3072);
    for (let i = 0; i < TEST_IMAGES; i++) normalizeImage(test, i, norm, pixels, i * 3072);
    const x = tf.tensor4d(pixels, [TEST_IMAGES, 32, 32, 3]);
    const { maxDiff, labLogits, labPred, stockPred } = compare(trainer.model, stock, x);
    const onnx = await onnxLogits(encodeOnnx(spec, bundle), pixels, TEST_IMAGES);
    const onnxDiff = maxAbsDiff(onnx.logits, labLogits);
    const errors = (pred: ArrayLike<number>) => Array.from(pred).reduce((a, p, i) => a + (p === test.labels[i] ? 0 : 1), 0);
    console.info(
      `${query}: max |logit difference| tfjs ${maxDiff.toExponential(2)}, onnx ${onnxDiff.toExponential(2)}; test error ${errors(labPred) / TEST_IMAGES}`,
    );
    expect(maxDiff).toBeLessThan(1e-4);
    expect(onnxDiff).toBeLessThan(1e-4);
    expect(errors(stockPred)).toBe(errors(labPred));
    expect(errors(argMaxRows(onnx.logits, 10))).toBe(errors(labPred));
    x.dispose();
    stock.dispose();
    trainer.dispose();
  });
});
