// A run bundle as a zip file, the container the lab exports: `unzip` or any zip tool opens it, and
// Python reads it with the csv/json modules and safetensors (docs/lab.md, "Run bundles"). Entries:
//   run.json                   format, version, configuration (share-URL query and its settings), run
//                              metadata, result (final and best test error), and each entry's size and SHA-256
//   steps.csv                  step,epoch,lr,loss,train_error[,ms]: one row per training step
//   tests.csv                  step,epoch,test_error,evaluated: one row per test-set evaluation
//   weights/model.safetensors  the final weights (PyTorch names), when the run has them; beside them,
//   weights/model.json, weights/weights.bin, weights/model.onnx   the same weights as a TF.js Layers
//                              model and as ONNX (docs/weights.md), written from the safetensors file
// Numbers in the CSVs round-trip exactly (float32 columns in their shortest exact form). Reading
// checks everything the .rlab reader checks (bundle.ts), plus the checksums; the TF.js and ONNX files
// are for other tools and are not read back. decodeRunFile reads this and the older .rlab files.
// Not here: the .rlab container (bundle.ts), the mapping to and from the run store (bundle-io.ts).

import { strFromU8, strToU8, unzipSync, zipSync, type Zippable } from 'fflate';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { parseConfigQuery } from '../experiment/config.ts';
import { encodeOnnx, ONNX_FILE } from '../model/onnx-model.ts';
import { decodeSafetensors, encodeTfjs, TFJS_WEIGHTS_FILE, WeightsError } from '../model/weights.ts';
import { modelSpec } from '../train/experiment.ts';
import {
  BUNDLE_EXTENSION,
  BUNDLE_LIMITS,
  BundleError,
  bundleFileName,
  checkRunBundle,
  decodeRunBundle,
  looksLikeRunBundle,
  type DecodedBundle,
  type RunBundle,
} from './bundle.ts';
import { float32String } from './curves.ts';
import { summariseTests, type StepSeries, type TestSeries } from './run-series.ts';

export const RUN_ZIP_FORMAT = 'resnet-lab-run-zip';
export const RUN_ZIP_VERSION = 1;
export const RUN_ZIP_EXTENSION = '.zip';
const RUN_JSON = 'run.json';
const STEPS_CSV = 'steps.csv';
const TESTS_CSV = 'tests.csv';
const SAFETENSORS = 'weights/model.safetensors';
/** Largest entry read back: the weights' limit, and that of a 10-million-step CSV. */
const MAX_ENTRY_BYTES = BUNDLE_LIMITS.weightsBytes;

interface RunJson {
  format: typeof RUN_ZIP_FORMAT;
  version: number;
  config: string;
  settings: Record<string, unknown>;
  meta: RunBundle['meta'];
  result: DecodedBundle['result'];
  files: Record<string, { bytes: number; sha256: string }>;
}

// ---- CSV -----------------------------------------------------------------------------------------

const STEP_HEADER = ['step', 'epoch', 'lr', 'loss', 'train_error'];
const TEST_HEADER = ['step', 'epoch', 'test_error', 'evaluated'];

function stepsCsv(s: StepSeries): string {
  const lines = [[...STEP_HEADER, ...(s.ms ? ['ms'] : [])].join(',')];
  for (let i = 0; i < s.step.length; i++) {
    const row = [s.step[i], s.epoch[i], s.lr[i], float32String(s.loss[i]!), float32String(s.trainError[i]!)];
    if (s.ms) row.push(s.ms[i]);
    lines.push(row.join(','));
  }
  return `${lines.join('\n')}\n`;
}

function testsCsv(t: TestSeries): string {
  const lines = [TEST_HEADER.join(',')];
  for (let i = 0; i < t.step.length; i++) lines.push([t.step[i], t.epoch[i], t.testError[i], t.evaluated[i]].join(','));
  return `${lines.join('\n')}\n`;
}

/** The columns of a CSV written by stepsCsv/testsCsv, as numbers; `optional` header names may be absent. */
function parseCsv(text: string, file: string, header: string[], optional: string[], where: string): Map<string, Float64Array> {
  const bad = (why: string) => new BundleError('malformed', `${where}: ${file} ${why}`);
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  const names = (lines[0] ?? '').split(',');
  const expected = [...header, ...optional.filter((o) => names.includes(o))];
  if (names.join(',') !== expected.join(','))
    throw bad(`has the columns "${names.join(',')}", expected "${[...header, ...optional].join(',')}"`);
  if (lines.length - 1 > BUNDLE_LIMITS.seriesLength) throw new BundleError('too-large', `${where}: ${file} has ${lines.length - 1} rows`);
  const cols = names.map(() => new Float64Array(lines.length - 1));
  for (let r = 1; r < lines.length; r++) {
    const fields = lines[r]!.split(',');
    if (fields.length !== names.length) throw bad(`line ${r + 1} has ${fields.length} fields, expected ${names.length}`);
    for (let c = 0; c < fields.length; c++) {
      const f = fields[c]!;
      const v = Number(f);
      if (f.trim() === '' || (Number.isNaN(v) && f !== 'NaN')) throw bad(`line ${r + 1}: ${names[c]} is "${f.slice(0, 30)}", not a number`);
      cols[c]![r - 1] = v;
    }
  }
  return new Map(names.map((n, i) => [n, cols[i]!]));
}

function wholeNumbers(v: Float64Array, what: string, where: string): Uint32Array {
  const out = new Uint32Array(v.length);
  for (let i = 0; i < v.length; i++) {
    if (!(Number.isInteger(v[i]) && v[i]! >= 0 && v[i]! <= 0xffffffff)) {
      throw new BundleError('malformed', `${where}: ${what} has ${v[i]} on data row ${i + 1}, not a whole number`);
    }
    out[i] = v[i]!;
  }
  return out;
}

// ---- encode ----------------------------------------------------------------------------------------

/** The TF.js and ONNX files of a run's .safetensors weights (they must fit the run's configuration). */
function derivedWeightFiles(config: string, safetensors: Uint8Array, where: string): Record<string, Uint8Array> {
  try {
    const spec = modelSpec(parseConfigQuery(config).config);
    const weights = decodeSafetensors(spec, 'the weights', safetensors);
    const { modelJson, weightsBin } = encodeTfjs(spec, weights);
    return {
      'weights/model.json': strToU8(JSON.stringify(modelJson)),
      [`weights/${TFJS_WEIGHTS_FILE}`]: weightsBin,
      [`weights/${ONNX_FILE}`]: encodeOnnx(spec, weights),
    };
  } catch (e) {
    if (e instanceof WeightsError) throw new BundleError('inconsistent', `${where}: ${e.message}`);
    throw e;
  }
}

/** The run as a zip file's bytes. Throws a BundleError if the bundle is inconsistent (it would not decode). */
export function encodeRunZip(bundle: RunBundle): Uint8Array {
  const where = 'cannot write the run bundle';
  const meta = checkRunBundle(bundle, where);
  const entries: Record<string, Uint8Array> = {
    [STEPS_CSV]: strToU8(stepsCsv(bundle.steps)),
    [TESTS_CSV]: strToU8(testsCsv(bundle.tests)),
  };
  if (bundle.weights) {
    entries[SAFETENSORS] = bundle.weights;
    Object.assign(entries, derivedWeightFiles(bundle.config, bundle.weights, where));
  }
  const files: RunJson['files'] = {};
  for (const [name, bytes] of Object.entries(entries)) files[name] = { bytes: bytes.byteLength, sha256: bytesToHex(sha256(bytes)) };
  const run: RunJson = {
    format: RUN_ZIP_FORMAT,
    version: RUN_ZIP_VERSION,
    config: bundle.config,
    settings: parseConfigQuery(bundle.config).config as unknown as Record<string, unknown>,
    meta,
    result: summariseTests(bundle.tests),
    files,
  };
  // The entries' dates: when the run ended (or started), so the same run gives the same bytes.
  const mtime = new Date(meta.endedAt ?? meta.startedAt);
  const zippable: Zippable = { [RUN_JSON]: [strToU8(`${JSON.stringify(run, null, 1)}\n`), { mtime }] };
  for (const [name, bytes] of Object.entries(entries)) zippable[name] = [bytes, { mtime }];
  return zipSync(zippable, { level: 6 });
}

/** "resnet20-gcr-seed1-20261120-0825.zip": the run's name, made safe as bundleFileName makes it. */
export function runZipFileName(name: string): string {
  return `${bundleFileName(name).slice(0, -BUNDLE_EXTENSION.length)}${RUN_ZIP_EXTENSION}`;
}

// ---- decode ----------------------------------------------------------------------------------------

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

/** Whether bytes start like a zip file (a local file header). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && ZIP_MAGIC.every((b, i) => bytes[i] === b);
}

/**
 * Read a zip run bundle, checking everything before returning: a BundleError (with `code`) names the
 * file and the problem, and says what to do. Arrays are the bundle's own (independent of `bytes`).
 */
export function decodeRunZip(bytes: Uint8Array, fileName = 'the file'): DecodedBundle {
  const where = fileName;
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, {
      filter: (f) => {
        if (f.originalSize > MAX_ENTRY_BYTES) {
          throw new BundleError('too-large', `${where}: its entry ${f.name} claims ${f.originalSize} bytes: the file is damaged`);
        }
        return !f.name.endsWith('/');
      },
    });
  } catch (e) {
    if (e instanceof BundleError) throw e;
    throw new BundleError(
      'truncated',
      `${where} is a damaged zip file (${(e as Error).message}): it was cut short or changed after the lab wrote it. ` +
        'Download or copy it again, or export the run again from the lab that has it.',
    );
  }
  // A bundle that was unzipped and zipped again as a folder has its entries under that folder.
  let prefix = '';
  if (!entries[RUN_JSON]) {
    const nested = Object.keys(entries).filter((n) => n.endsWith(`/${RUN_JSON}`));
    if (nested.length === 1) prefix = nested[0]!.slice(0, -RUN_JSON.length);
  }
  const entry = (name: string) => entries[prefix + name];
  const runBytes = entry(RUN_JSON);
  if (!runBytes) {
    throw new BundleError(
      'not-a-bundle',
      `${where} is a zip file but not a ResNet Lab run bundle (it has no ${RUN_JSON}). Choose a .zip exported by the lab's "Export run" or the Runs list.`,
    );
  }
  let run: Partial<RunJson>;
  try {
    run = JSON.parse(strFromU8(runBytes)) as Partial<RunJson>;
  } catch {
    throw new BundleError('malformed', `${where}: its ${RUN_JSON} is not JSON (the file is damaged)`);
  }
  if (typeof run !== 'object' || run === null || run.format !== RUN_ZIP_FORMAT) {
    throw new BundleError(
      'not-a-bundle',
      `${where}: its ${RUN_JSON} is not a ResNet Lab run description (format ${JSON.stringify(run?.format)})`,
    );
  }
  if (run.version !== RUN_ZIP_VERSION) {
    throw new BundleError(
      'version',
      `${where} is a run bundle of zip format version ${String(run.version)}; this lab reads version ${RUN_ZIP_VERSION}` +
        (typeof run.version === 'number' && run.version > RUN_ZIP_VERSION ? ' (it was made by a newer lab: update this one)' : ''),
    );
  }
  const files = run.files && typeof run.files === 'object' ? run.files : {};
  const read = (name: string, required: boolean): Uint8Array | null => {
    const b = entry(name);
    const listed = files[name];
    if (!b) {
      if (required || listed)
        throw new BundleError('truncated', `${where} lacks ${name}, which a run bundle ${required ? 'always has' : 'lists in run.json'}`);
      return null;
    }
    if (!listed || listed.bytes !== b.byteLength || listed.sha256 !== bytesToHex(sha256(b))) {
      throw new BundleError(
        'inconsistent',
        `${where}: ${name} does not match its size and checksum in ${RUN_JSON}: it was changed or damaged after the lab wrote it. Export the run again.`,
      );
    }
    return b;
  };
  const stepsCols = parseCsv(strFromU8(read(STEPS_CSV, true)!), STEPS_CSV, STEP_HEADER, ['ms'], where);
  const testsCols = parseCsv(strFromU8(read(TESTS_CSV, true)!), TESTS_CSV, TEST_HEADER, [], where);
  const steps: StepSeries = {
    step: wholeNumbers(stepsCols.get('step')!, `${STEPS_CSV} step`, where),
    epoch: stepsCols.get('epoch')!,
    lr: stepsCols.get('lr')!,
    loss: Float32Array.from(stepsCols.get('loss')!),
    trainError: Float32Array.from(stepsCols.get('train_error')!),
  };
  const ms = stepsCols.get('ms');
  if (ms) steps.ms = ms;
  const tests: TestSeries = {
    step: wholeNumbers(testsCols.get('step')!, `${TESTS_CSV} step`, where),
    epoch: testsCols.get('epoch')!,
    testError: testsCols.get('test_error')!,
    evaluated: wholeNumbers(testsCols.get('evaluated')!, `${TESTS_CSV} evaluated`, where),
  };
  const weights = read(SAFETENSORS, false);
  const bundle: RunBundle = {
    config: run.config as string,
    meta: run.meta as RunBundle['meta'],
    steps,
    tests,
    weights: weights && weights.slice(),
  };
  const meta = checkRunBundle(bundle, where);
  const result = summariseTests(tests);
  if (JSON.stringify(result) !== JSON.stringify(run.result)) {
    throw new BundleError('inconsistent', `${where}: the final/best test error in ${RUN_JSON} does not match ${TESTS_CSV}`);
  }
  return { ...bundle, meta, result };
}

/**
 * Read a run bundle of either container: the zip the lab exports, or an older .rlab file. Anything
 * else gets a BundleError saying what the file looks like and what to choose instead.
 */
export function decodeRunFile(bytes: Uint8Array, fileName = 'the file'): DecodedBundle {
  if (looksLikeZip(bytes)) return decodeRunZip(bytes, fileName);
  if (looksLikeRunBundle(bytes)) return decodeRunBundle(bytes, fileName);
  const head = new TextDecoder().decode(bytes.subarray(0, 16)).trimStart();
  const hint = head.startsWith('{')
    ? ' (it looks like JSON: a curves export or a TF.js model.json, not a bundle)'
    : bytes.byteLength >= 9 && bytes[8] === 0x7b
      ? ' (it looks like a .safetensors weights file: load it with "Load weights" instead)'
      : bytes.byteLength === 0
        ? ' (it is empty)'
        : '';
  throw new BundleError(
    'not-a-bundle',
    `${fileName} is not a ResNet Lab run bundle${hint}. Choose a ${RUN_ZIP_EXTENSION} run bundle (or an older ${BUNDLE_EXTENSION} file) exported by the lab.`,
  );
}

/** Whether bytes start like a run bundle of either container (for pickers that take bundles and weights). */
export function looksLikeRunFile(bytes: Uint8Array): boolean {
  return looksLikeZip(bytes) || looksLikeRunBundle(bytes);
}
