// Run bundles: a bit-exact round trip (series, metadata, the weights of a real ResNet), and every kind
// of bad file (empty, another format, truncated anywhere, other version, absurd sizes, mismatched
// series, tampered numbers, random corruption) ends in a BundleError naming the problem.

import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/setup.ts';
import { ResNet } from '../model/resnet.ts';
import { decodeSafetensors, encodeSafetensors, readModelValues } from '../model/weights.ts';
import { modelSpec } from '../train/experiment.ts';
import { formatConfigQuery, parseConfigQueryStrict } from '../experiment/config.ts';
import {
  BUNDLE_LIMITS,
  BundleError,
  bundleFileName,
  decodeRunBundle,
  encodeRunBundle,
  looksLikeRunBundle,
  type BundleErrorCode,
  type RunBundle,
} from './bundle.ts';
import { SeriesBuilder, summariseTests } from './run-series.ts';

const config = formatConfigQuery(parseConfigQueryStrict('protocol=gcr&depth=8&batch=16&seed=7'));
let weights: Uint8Array;
let model: ResNet;

beforeAll(async () => {
  await initBackend('cpu');
  const spec = modelSpec(parseConfigQueryStrict(config));
  model = ResNet.create(spec, 1);
  weights = encodeSafetensors(spec, { config, steps: 5, values: await readModelValues(model) });
});

function makeBundle(withMs = true, steps = 5): RunBundle {
  const b = new SeriesBuilder();
  b.pushTest({ step: 0, epoch: 0, testError: 0.9, evaluated: 50 });
  for (let s = 1; s <= steps; s++) {
    b.pushStep({
      step: s,
      epoch: (s * 16) / 50_000,
      lr: 0.1,
      loss: Math.fround(2.3 - s / 10 + 1e-7 * s),
      trainError: Math.fround(s / 16),
      ...(withMs ? { ms: 100.25 * s } : {}),
    });
    if (s === 2 || s === steps) b.pushTest({ step: s, epoch: (s * 16) / 50_000, testError: s === 2 ? 0.74 : 0.78, evaluated: 50 });
  }
  return {
    config,
    meta: {
      name: '001-gcr-d8-s7',
      seed: 7,
      backend: 'wasm',
      startedAt: '2026-11-24T08:00:00.000Z',
      endedAt: '2026-11-24T08:00:03.500Z',
      status: 'max-steps',
      trainImages: 50_000,
      maxSteps: steps,
      evalLimit: 50,
      imagesPerSecond: 160.5,
      trainSeconds: 0.5,
      divergedAt: null,
      producer: 'resnet-lab test',
    },
    ...b.build(),
    weights,
  };
}

function code(f: () => unknown): BundleErrorCode | string {
  try {
    f();
  } catch (e) {
    if (e instanceof BundleError) return e.code;
    return `not a BundleError: ${String(e)}`;
  }
  return 'no error';
}

function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

/** The bundle with its header JSON changed by `edit` (data bytes kept). */
function rewriteHeader(bytes: Uint8Array, edit: (h: Record<string, any>) => void): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hl = Number(view.getBigUint64(16, true));
  const h = JSON.parse(new TextDecoder().decode(bytes.subarray(24, 24 + hl)));
  edit(h);
  let json = JSON.stringify(h);
  json += ' '.repeat(Math.ceil((24 + json.length) / 8) * 8 - 24 - json.length);
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(24 + hb.length + (bytes.length - 24 - hl));
  out.set(bytes.subarray(0, 24));
  new DataView(out.buffer).setBigUint64(16, BigInt(hb.length), true);
  out.set(hb, 24);
  out.set(bytes.subarray(24 + hl), 24 + hb.length);
  return out;
}

describe('run bundle round trip', () => {
  it('gives back the configuration, metadata, every series value bit-exactly and the weights', () => {
    const b = makeBundle();
    const bytes = encodeRunBundle(b);
    expect(looksLikeRunBundle(bytes)).toBe(true);
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe('RNLABRUN');
    const d = decodeRunBundle(bytes, 'run.rlab');
    expect(d.config).toBe(config);
    expect(d.meta).toEqual(b.meta);
    for (const k of ['step', 'epoch', 'lr', 'loss', 'trainError', 'ms'] as const) expect(d.steps[k], k).toEqual(b.steps[k]);
    for (const k of ['step', 'epoch', 'testError', 'evaluated'] as const) expect(d.tests[k], k).toEqual(b.tests[k]);
    expect(d.weights).toEqual(weights);
    // The headline is the last evaluation; the best is flagged as chosen on the test set.
    expect(d.result.final).toEqual({ step: 5, epoch: (5 * 16) / 50_000, testError: 0.78, evaluated: 50 });
    expect(d.result.best).toEqual({ step: 2, epoch: (2 * 16) / 50_000, testError: 0.74, evaluated: 50, chosenOnTestSet: true });
    // The weights inside load into the network they came from.
    const spec = modelSpec(parseConfigQueryStrict(config));
    const w = decodeSafetensors(spec, 'inside', d.weights!);
    expect(w.config).toBe(config);
    expect(w.steps).toBe(5);
  });

  it('works without step times or weights, from an unaligned view, and with a diverged run', () => {
    const b = { ...makeBundle(false), weights: null };
    b.meta = { ...b.meta, status: 'diverged', divergedAt: { step: 5, lr: 0.1, loss: NaN } };
    const bytes = encodeRunBundle(b);
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const d = decodeRunBundle(shifted.subarray(3));
    expect(d.steps.ms).toBeUndefined();
    expect(d.weights).toBeNull();
    expect(d.steps.loss).toEqual(b.steps.loss);
    expect(d.meta.divergedAt!.step).toBe(5);
    expect(d.meta.divergedAt!.loss).toBeNaN();
  });

  it('summarises a run with no evaluations as no result', () => {
    const s = summariseTests(new SeriesBuilder().build().tests);
    expect(s).toEqual({ final: null, best: null });
    const b = makeBundle();
    b.tests = new SeriesBuilder().build().tests;
    expect(decodeRunBundle(encodeRunBundle(b)).result.final).toBeNull();
  });

  it('names files after the run', () => {
    expect(bundleFileName('003-gcr-d20 lr=0.1/seed 2')).toBe('003-gcr-d20-lr-0.1-seed-2.rlab');
    expect(bundleFileName('../..')).toBe('run.rlab');
  });
});

describe('bad bundles', () => {
  const good = () => encodeRunBundle(makeBundle());

  it('another kind of file is "not a bundle", with a hint', () => {
    expect(code(() => decodeRunBundle(new Uint8Array(0)))).toBe('not-a-bundle');
    expect(message(() => decodeRunBundle(weights, 'model.safetensors'))).toMatch(
      /model\.safetensors is not a ResNet Lab run bundle \(it looks like a \.safetensors/,
    );
    expect(message(() => decodeRunBundle(new TextEncoder().encode('{"steps": []}'), 'curves.json'))).toMatch(/looks like JSON/);
    expect(code(() => decodeRunBundle(new TextEncoder().encode('PK\u0003\u0004 a zip file, not ours')))).toBe('not-a-bundle');
  });

  it('a file cut anywhere is "truncated"', () => {
    const bytes = good();
    const cuts = new Set<number>([1, 7, 8, 23, 24, 25, 100, bytes.length - 1]);
    for (let c = 1; c < bytes.length; c += 97) cuts.add(c);
    for (const c of cuts)
      expect(
        code(() => decodeRunBundle(bytes.subarray(0, c))),
        `cut at ${c}`,
      ).toBe('truncated');
    expect(message(() => decodeRunBundle(bytes.subarray(0, bytes.length - 1), 'x.rlab'))).toMatch(
      /^x\.rlab is truncated: it ends at byte \d+ but the weights section ends at byte \d+$/,
    );
  });

  it('another format version, with what to do', () => {
    const bytes = good();
    new DataView(bytes.buffer).setUint32(8, 2, true);
    expect(code(() => decodeRunBundle(bytes))).toBe('version');
    expect(message(() => decodeRunBundle(bytes))).toMatch(/format version 2; this lab reads version 1 \(it was made by a newer lab/);
  });

  it('absurd sizes are refused before anything is allocated', () => {
    const bytes = good();
    new DataView(bytes.buffer).setBigUint64(16, 2n ** 50n, true);
    expect(code(() => decodeRunBundle(bytes))).toBe('too-large');
    const longer = good();
    new DataView(longer.buffer).setBigUint64(16, BigInt(longer.length), true);
    expect(code(() => decodeRunBundle(longer))).toBe('truncated');
    const huge = rewriteHeader(good(), (h) => (h.columns[0].length = 1e12));
    expect(code(() => decodeRunBundle(huge))).toBe('too-large');
    const hugeWeights = rewriteHeader(good(), (h) => (h.weights.byteLength = BUNDLE_LIMITS.weightsBytes + 8));
    expect(code(() => decodeRunBundle(hugeWeights))).toBe('too-large');
    const negative = rewriteHeader(good(), (h) => (h.columns[1].length = -3));
    expect(code(() => decodeRunBundle(negative))).toBe('malformed');
  });

  it('series of mismatched lengths, on decode and on encode', () => {
    const bytes = rewriteHeader(good(), (h) => {
      const loss = h.columns.find((c: { series: string; name: string }) => c.series === 'steps' && c.name === 'loss');
      loss.length -= 1;
    });
    expect(code(() => decodeRunBundle(bytes))).toBe('mismatched-series');
    expect(message(() => decodeRunBundle(bytes))).toMatch(/steps series has columns of different lengths \(step 5, epoch 5, lr 5, loss 4/);
    const b = makeBundle();
    b.tests.evaluated = b.tests.evaluated.subarray(1);
    expect(code(() => encodeRunBundle(b))).toBe('mismatched-series');
    const missing = makeBundle();
    delete (missing.steps as Partial<RunBundle['steps']>).lr;
    expect(message(() => encodeRunBundle(missing))).toMatch(/no "lr" column/);
  });

  it('numbers that do not match the curves, the seed or the weights are "inconsistent"', () => {
    const tampered = rewriteHeader(good(), (h) => (h.result.final.testError = 0.0629));
    expect(code(() => decodeRunBundle(tampered))).toBe('inconsistent');
    const seed = rewriteHeader(good(), (h) => (h.meta.seed = 8));
    expect(message(() => decodeRunBundle(seed))).toMatch(/meta\.seed is 8 but the configuration says seed=7/);
    const other = makeBundle();
    other.config = config.replace('seed=7', 'seed=9');
    other.meta = { ...other.meta, seed: 9 };
    expect(code(() => encodeRunBundle(other))).toBe('inconsistent'); // the weights say seed=7
  });

  it('malformed headers, metadata, configuration and trailing bytes are named', () => {
    const cases: [string, (h: Record<string, any>) => void, RegExp][] = [
      ['status', (h) => (h.meta.status = 'bogus'), /meta\.status must be one of/],
      ['date', (h) => (h.meta.startedAt = 'yesterday'), /meta\.startedAt is not a date/],
      ['name', (h) => (h.meta.name = 'x'.repeat(1000)), /meta\.name is too long/],
      ['config', (h) => (h.config = 'depth=21'), /configuration is not valid here: depth/],
      ['columns', (h) => delete h.columns, /lists no columns/],
      ['dtype', (h) => (h.columns[0].dtype = 'f64'), /is f64, expected u32/],
      ['offset', (h) => (h.columns[0].offset = 3), /invalid offset/],
      ['steps', (h) => (h.columns[0].offset = h.columns[1].offset), /steps\.step goes from/],
      ['format', (h) => (h.format = 'something-else'), /does not describe a version 1 run bundle/],
    ];
    for (const [what, edit, why] of cases) {
      expect(
        message(() => decodeRunBundle(rewriteHeader(good(), edit))),
        what,
      ).toMatch(why);
    }
    const trailing = new Uint8Array([...good(), 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(message(() => decodeRunBundle(trailing))).toMatch(/8 unexpected bytes after its data/);
    const notJson = good();
    notJson[24] = 0x21; // '!' where the header's '{' was
    expect(code(() => decodeRunBundle(notJson))).toBe('malformed');
  });

  it('random corruption never escapes as anything but a BundleError', () => {
    const bytes = good();
    const hl = Number(new DataView(bytes.buffer).getBigUint64(16, true));
    let seed = 12345;
    const rand = (n: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
    let decoded = 0;
    for (let trial = 0; trial < 300; trial++) {
      const copy = bytes.slice();
      // Mostly the prefix and header, where structure lives; some anywhere.
      const flips = 1 + rand(3);
      for (let f = 0; f < flips; f++) copy[trial % 3 === 0 ? rand(copy.length) : rand(24 + hl)] = rand(256);
      try {
        decodeRunBundle(copy);
        decoded++;
      } catch (e) {
        expect(e, `trial ${trial}`).toBeInstanceOf(BundleError);
      }
    }
    expect(decoded).toBeLessThan(300);
  });
});
