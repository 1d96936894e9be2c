// Run bundles as zip files (bundle-zip.ts): a run with real ResNet-8 weights round-trips through the
// zip bit for bit and through an older .rlab file, both read by decodeRunFile and imported into a run
// store; `unzip` and Python's zipfile/csv read the zip; its model.onnx runs in onnxruntime-node and its
// TF.js files decode to the same weights; damaged and foreign files get errors that say what is wrong.

import 'fake-indexeddb/auto';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import * as ort from 'onnxruntime-node';
import { initBackend } from '../backend/setup.ts';
import { formatConfigQuery, parseConfigQueryStrict } from '../experiment/config.ts';
import { readOnnxMetadata } from '../model/onnx-model.ts';
import { ResNet } from '../model/resnet.ts';
import { decodeTfjs, encodeSafetensors, parseTfjsModelJson, readModelValues } from '../model/weights.ts';
import { openRunStore } from '../storage/run-store.ts';
import { modelSpec } from '../train/experiment.ts';
import { BundleError, encodeRunBundle, type RunBundle } from './bundle.ts';
import { bundleToImport } from './bundle-io.ts';
import { decodeRunFile, decodeRunZip, encodeRunZip, runZipFileName } from './bundle-zip.ts';

const CONFIG = formatConfigQuery(parseConfigQueryStrict('protocol=neon&depth=8&seed=4&shortcut=A&block=norelu-bnafter'));
let bundle: RunBundle;
let values: Record<string, Float32Array>;

beforeAll(async () => {
  await initBackend('cpu');
  const spec = modelSpec(parseConfigQueryStrict(CONFIG));
  const model = ResNet.create(spec, 4);
  values = await readModelValues(model);
  model.dispose();
  const n = 300;
  bundle = {
    config: CONFIG,
    meta: {
      name: 'resnet8 neon, "A" run',
      seed: 4,
      backend: 'wasm',
      startedAt: '2026-11-20T08:25:00.000Z',
      endedAt: '2026-11-20T08:40:00.000Z',
      status: 'diverged',
      trainImages: 50000,
      maxSteps: null,
      evalLimit: 500,
      imagesPerSecond: 812.25,
      trainSeconds: 47.5,
      divergedAt: { step: 300, lr: 0.1, loss: NaN },
      producer: 'resnet-lab web',
    },
    steps: {
      step: Uint32Array.from({ length: n }, (_, i) => i + 1),
      epoch: Float64Array.from({ length: n }, (_, i) => ((i + 1) * 128) / 50000),
      lr: Float64Array.from({ length: n }, (_, i) => (i < 200 ? 0.1 : 0.01 / 3)),
      loss: Float32Array.from({ length: n }, (_, i) => (i === n - 1 ? NaN : 2.3 * Math.exp(-i / 97) + 1e-7 * i)),
      trainError: Float32Array.from({ length: n }, (_, i) => 0.9 * Math.exp(-i / 300)),
      ms: Float64Array.from({ length: n }, (_, i) => (i + 1) * 158.3333),
    },
    tests: {
      step: Uint32Array.from([0, 150, 299]),
      epoch: Float64Array.from([0, 0.384, 0.76544]),
      testError: Float64Array.from([0.9, 0.612, 0.55]),
      evaluated: Uint32Array.from([500, 500, 500]),
    },
    weights: encodeSafetensors(spec, { config: CONFIG, steps: 300, values }),
  };
});

function expectSameBundle(got: RunBundle, want: RunBundle): void {
  expect(got.config).toBe(want.config);
  expect({ ...got.meta, divergedAt: null }).toEqual({ ...want.meta, divergedAt: null });
  expect(got.meta.divergedAt).toEqual(want.meta.divergedAt); // NaN loss included
  for (const k of ['step', 'epoch', 'lr', 'loss', 'trainError', 'ms'] as const) {
    expect(got.steps[k]?.constructor).toBe(want.steps[k]?.constructor);
    expect(Array.from(got.steps[k]!), k).toEqual(Array.from(want.steps[k]!)); // bit-exact, NaN included
  }
  for (const k of ['step', 'epoch', 'testError', 'evaluated'] as const)
    expect(Array.from(got.tests[k]), k).toEqual(Array.from(want.tests[k]));
  expect(sameBytes(got.weights, want.weights)).toBe(true);
}

/** Byte equality (expect's toEqual walks large typed arrays element by element, slowly). */
function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a === null || b === null ? a === b : Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

describe('run bundles as zip files', () => {
  it('round-trip bit for bit, as do older .rlab files, and import into a run store', async () => {
    const zip = encodeRunZip(bundle);
    const fromZip = decodeRunFile(zip, 'run.zip');
    expectSameBundle(fromZip, bundle);
    expect(fromZip.result.final).toMatchObject({ step: 299, testError: 0.55 });
    expect(sameBytes(encodeRunZip(fromZip), zip)).toBe(true); // the same run gives the same bytes

    const rlab = encodeRunBundle(bundle);
    const fromRlab = decodeRunFile(rlab, 'old.rlab');
    expectSameBundle(fromRlab, bundle);
    expect(fromRlab.result).toEqual(fromZip.result);

    const store = await openRunStore('bundle-zip', { estimate: async () => undefined });
    for (const decoded of [fromZip, fromRlab]) {
      const run = await store.importRun(bundleToImport(decoded));
      const back = await store.getRun(run.id);
      expect(Array.from(back.steps.loss)).toEqual(Array.from(bundle.steps.loss));
      expect(back.epochs.map((e) => e.testError)).toEqual([0.9, 0.612, 0.55]);
      const stored = await store.loadFinalWeights(run.id);
      expect(stored?.format).toBe('safetensors');
      expect(sameBytes(stored?.format === 'safetensors' ? stored.bytes : null, bundle.weights)).toBe(true);
    }
    store.close();
    expect(runZipFileName(bundle.meta.name)).toBe('resnet8-neon-A-run.zip');
  });

  it('holds JSON, CSV, safetensors, a TF.js model and model.onnx that other tools read', async () => {
    const zip = encodeRunZip(bundle);
    const entries = unzipSync(zip);
    expect(Object.keys(entries).sort()).toEqual([
      'run.json',
      'steps.csv',
      'tests.csv',
      'weights/model.json',
      'weights/model.onnx',
      'weights/model.safetensors',
      'weights/weights.bin',
    ]);
    const run = JSON.parse(strFromU8(entries['run.json']));
    expect(run).toMatchObject({ format: 'resnet-lab-run-zip', config: CONFIG, settings: { protocol: 'neon', depth: 8, shortcut: 'A' } });
    expect(run.result.final.testError).toBe(0.55);
    expect(strFromU8(entries['steps.csv']).split('\n').slice(0, 2)).toEqual([
      'step,epoch,lr,loss,train_error,ms',
      '1,0.00256,0.1,2.3,0.9,158.3333',
    ]);
    expect(strFromU8(entries['tests.csv']).split('\n')[1]).toBe('0,0,0.9,500');
    // The TF.js model decodes to the run's weights; model.onnx runs and names its input's preprocessing.
    const spec = modelSpec(parseConfigQueryStrict(CONFIG));
    const tfjs = decodeTfjs(
      spec,
      parseTfjsModelJson('model.json', strFromU8(entries['weights/model.json'])),
      entries['weights/weights.bin'],
    );
    for (const [name, v] of Object.entries(values)) expect(Array.from(tfjs.values[name]), name).toEqual(Array.from(v));
    expect(readOnnxMetadata(entries['weights/model.onnx'])).toMatchObject({ preprocess: 'channel-mean', resnet_lab_config: CONFIG });
    const session = await ort.InferenceSession.create(entries['weights/model.onnx']);
    const out = await session.run({ input: new ort.Tensor('float32', new Float32Array(2 * 3072), [2, 3, 32, 32]) });
    expect(out.logits.dims).toEqual([2, 10]);
    await session.release();

    const dir = mkdtempSync(join(tmpdir(), 'run-zip-'));
    const file = join(dir, 'run.zip');
    writeFileSync(file, zip);
    if (spawnSync('unzip', ['-v']).status === 0) {
      expect(execFileSync('unzip', ['-t', file], { encoding: 'utf8' })).toMatch(/No errors detected/);
    } else console.info('unzip is not installed: the unzip check is skipped');
    // Python's standard library (and numpy, where present) reads the curves and the weights.
    const py = `
import csv, json, struct, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
run = json.loads(z.read("run.json"))
steps = list(csv.DictReader(z.read("steps.csv").decode().splitlines()))
st = z.read("weights/model.safetensors")
n = struct.unpack("<Q", st[:8])[0]
header = json.loads(st[8:8 + n])
a, b = header["linear.weight"]["data_offsets"]
print(json.dumps({"config": run["config"], "rows": len(steps), "loss0": float(steps[0]["loss"]), "linear": header["linear.weight"]["shape"], "bytes": b - a}))
`;
    const r = spawnSync('python3', ['-c', py, file], { encoding: 'utf8' });
    if (r.error) console.info('python3 is not installed: the Python check is skipped');
    else {
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ config: CONFIG, rows: 300, loss0: 2.3, linear: [10, 64], bytes: 2560 });
    }
  });

  it('refuses damaged, altered and foreign files, saying what is wrong and what to do', () => {
    const zip = encodeRunZip(bundle);
    const fail = (bytes: Uint8Array, name: string) => {
      try {
        decodeRunFile(bytes, name);
      } catch (e) {
        expect(e).toBeInstanceOf(BundleError);
        return e as BundleError;
      }
      throw new Error(`${name} was accepted`);
    };
    const cut = fail(zip.subarray(0, Math.floor(zip.byteLength / 2)), 'cut.zip');
    expect(cut.code).toBe('truncated');
    expect(cut.message).toMatch(/^cut\.zip is a damaged zip file \(.+\): it was cut short or changed .* Download or copy it again/);

    // A CSV edited after export: the checksums in run.json catch it.
    const entries = unzipSync(zip);
    const edited = zipSync({ ...entries, 'steps.csv': strToU8(strFromU8(entries['steps.csv']).replace('\n1,', '\n2,')) });
    expect(fail(edited, 'edited.zip').message).toMatch(/edited\.zip: steps\.csv does not match its size and checksum in run\.json/);

    // Bytes flipped inside the stored data: a deflate error or a checksum mismatch, never a silent import.
    const flipped = zip.slice();
    for (let i = 2000; i < 2010; i++) flipped[i] ^= 0xff;
    expect(['truncated', 'inconsistent', 'malformed']).toContain(fail(flipped, 'flipped.zip').code);

    const foreign = zipSync({ 'notes.txt': strToU8('hello') });
    expect(fail(foreign, 'photos.zip')).toMatchObject({
      code: 'not-a-bundle',
      message: expect.stringMatching(/photos\.zip is a zip file but not a ResNet Lab run bundle/),
    });
    expect(fail(strToU8('{"format":"layers-model"}'), 'model.json').message).toMatch(
      /looks like JSON.*Choose a \.zip run bundle \(or an older \.rlab file\)/,
    );
    expect(fail(new Uint8Array(0), 'empty.zip').message).toMatch(/empty\.zip is not a ResNet Lab run bundle \(it is empty\)/);

    // Unzipped and zipped again as a folder: still read.
    const nested = zipSync(Object.fromEntries(Object.entries(entries).map(([k, v]) => [`my-run/${k}`, v])));
    expectSameBundle(decodeRunZip(nested, 'nested.zip'), bundle);
  });
});
