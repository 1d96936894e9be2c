// A run bundle: everything one training run produced (the configuration as a share-URL query, run
// metadata, the per-step and per-evaluation series as typed columns (run-series.ts), and the final
// weights as .safetensors bytes), its checks, and the lab's first container for it, the .rlab file.
// The lab writes bundles as zip files (bundle-zip.ts) and reads .rlab files as well as those.
// Pure (bytes in, bytes out; no tfjs, no DOM), so the page, the worker and the CLI share it.
// A small binary container rather than JSON: the weights go in verbatim (base64 would add a third), the
// series as float columns (a 200-epoch run has 78,000 steps), float32 losses bit-exact. The JSON header
// comes first, so `head -c 2000 run.rlab` shows the configuration and result. Layout: BUNDLE_MAGIC.

import { RUN_STATUSES, type RunStatus } from '../storage/run-status.ts';
import { parseConfigQuery } from '../experiment/config.ts';
import { summariseTests, type RunOutcome, type StepSeries, type TestSeries } from './run-series.ts';

// Layout, all little-endian:
//   0   8 bytes  magic "RNLABRUN"
//   8   u32      format version (1)
//   12  u32      0 (reserved)
//   16  u64      header length H
//   24  H bytes  UTF-8 JSON header, space-padded so the data starts on a multiple of 8
//   24+H         data: columns and weights at the header's offsets (each 8-byte aligned), nothing after
// Header: { format, version, config, meta, result, columns: [{series, name, dtype, offset, length}],
//           weights: {offset, byteLength} | null }.
// `result` (final and best test error) is derived from the test series by the encoder and checked
// again by the decoder, so a bundle's claimed numbers always match its curves.
export const BUNDLE_MAGIC = 'RNLABRUN';
export const BUNDLE_VERSION = 1;
export const BUNDLE_EXTENSION = '.rlab';
const PREFIX_BYTES = 24;
/** Bounds that no real run reaches; anything above is a damaged or hostile file. */
export const BUNDLE_LIMITS = {
  headerBytes: 16 * 1024 * 1024,
  seriesLength: 10_000_000,
  weightsBytes: 1024 * 1024 * 1024,
  configChars: 2000,
  textChars: 500,
} as const;

/** The run statuses are the run history's (src/storage/run-status.ts), so runs export and import as they are. */
export type { RunStatus };

export interface RunMeta {
  name: string;
  seed: number;
  /** Backend it trained on (webgpu, webgl, wasm, cpu). */
  backend: string;
  /** ISO 8601 times. */
  startedAt: string;
  endedAt: string | null;
  status: RunStatus;
  /** Training images per epoch (50,000 for CIFAR-10; fewer for the demo sample). */
  trainImages: number;
  /** The run was cut at this many steps (CLI --max-steps, the page's run options). */
  maxSteps: number | null;
  /** Test images per evaluation when not the whole test set. */
  evalLimit: number | null;
  /** Training images per second over the run (evaluations excluded). */
  imagesPerSecond: number | null;
  trainSeconds: number | null;
  divergedAt: { step: number; lr: number; loss: number } | null;
  /** What wrote the bundle, e.g. "resnet-lab cli". */
  producer: string;
}

export interface RunBundle {
  /** Share-URL query of the run's configuration. */
  config: string;
  meta: RunMeta;
  steps: StepSeries;
  tests: TestSeries;
  /** The final weights as a .safetensors file, or null. */
  weights: Uint8Array | null;
}

export interface DecodedBundle extends RunBundle {
  result: RunOutcome;
}

export type BundleErrorCode = 'not-a-bundle' | 'truncated' | 'version' | 'too-large' | 'malformed' | 'mismatched-series' | 'inconsistent';

export class BundleError extends Error {
  override readonly name = 'BundleError';
  constructor(
    readonly code: BundleErrorCode,
    message: string,
  ) {
    super(message);
  }
}

// ---- columns -----------------------------------------------------------------------------------

type Dtype = 'u32' | 'f32' | 'f64';
type SeriesName = 'steps' | 'tests';
interface ColumnSpec {
  series: SeriesName;
  name: string;
  dtype: Dtype;
  required: boolean;
}

const COLUMNS: readonly ColumnSpec[] = [
  { series: 'steps', name: 'step', dtype: 'u32', required: true },
  { series: 'steps', name: 'epoch', dtype: 'f64', required: true },
  { series: 'steps', name: 'lr', dtype: 'f64', required: true },
  { series: 'steps', name: 'loss', dtype: 'f32', required: true },
  { series: 'steps', name: 'trainError', dtype: 'f32', required: true },
  { series: 'steps', name: 'ms', dtype: 'f64', required: false },
  { series: 'tests', name: 'step', dtype: 'u32', required: true },
  { series: 'tests', name: 'epoch', dtype: 'f64', required: true },
  { series: 'tests', name: 'testError', dtype: 'f64', required: true },
  { series: 'tests', name: 'evaluated', dtype: 'u32', required: true },
];

const BYTES: Record<Dtype, number> = { u32: 4, f32: 4, f64: 8 };
type Column = Uint32Array | Float32Array | Float64Array;
const CTOR: Record<Dtype, { new (buffer: ArrayBuffer, offset: number, length: number): Column; new (length: number): Column }> = {
  u32: Uint32Array,
  f32: Float32Array,
  f64: Float64Array,
};

interface HeaderColumn {
  series: SeriesName;
  name: string;
  dtype: Dtype;
  offset: number;
  length: number;
}

interface Header {
  format: 'resnet-lab-run';
  version: number;
  config: string;
  meta: RunMeta;
  result: RunOutcome;
  columns: HeaderColumn[];
  weights: { offset: number; byteLength: number } | null;
}

function seriesColumns(bundle: Pick<RunBundle, 'steps' | 'tests'>): { spec: ColumnSpec; data: Column }[] {
  const out: { spec: ColumnSpec; data: Column }[] = [];
  for (const spec of COLUMNS) {
    const data = (bundle[spec.series] as unknown as Record<string, Column | undefined>)[spec.name];
    if (data !== undefined) out.push({ spec, data });
  }
  return out;
}

/** Checks the series of a bundle: every column present and of the right type, equal lengths, values sane. */
function checkSeries(bundle: Pick<RunBundle, 'steps' | 'tests'>, where: string): void {
  const lengths: Record<SeriesName, { name: string; length: number }[]> = { steps: [], tests: [] };
  for (const spec of COLUMNS) {
    const data = (bundle[spec.series] as unknown as Record<string, unknown> | undefined)?.[spec.name];
    if (data === undefined) {
      if (spec.required) throw new BundleError('malformed', `${where}: the ${spec.series} series has no "${spec.name}" column`);
      continue;
    }
    if (!(data instanceof CTOR[spec.dtype])) {
      throw new BundleError('malformed', `${where}: ${spec.series}.${spec.name} must be a ${CTOR[spec.dtype].name}`);
    }
    if (data.length > BUNDLE_LIMITS.seriesLength) {
      throw new BundleError(
        'too-large',
        `${where}: ${spec.series}.${spec.name} has ${data.length} values (at most ${BUNDLE_LIMITS.seriesLength})`,
      );
    }
    lengths[spec.series].push({ name: spec.name, length: data.length });
  }
  for (const series of ['steps', 'tests'] as const) {
    const ls = lengths[series];
    const bad = ls.find((l) => l.length !== ls[0]!.length);
    if (bad) {
      throw new BundleError(
        'mismatched-series',
        `${where}: the ${series} series has columns of different lengths (${ls.map((l) => `${l.name} ${l.length}`).join(', ')})`,
      );
    }
  }
  const nondecreasing = (a: ArrayLike<number>, what: string, strict: boolean) => {
    for (let i = 1; i < a.length; i++) {
      if (strict ? a[i]! <= a[i - 1]! : a[i]! < a[i - 1]!) {
        throw new BundleError('malformed', `${where}: ${what} goes from ${a[i - 1]} to ${a[i]} at position ${i}`);
      }
    }
  };
  nondecreasing(bundle.steps.step, 'steps.step', true);
  nondecreasing(bundle.tests.step, 'tests.step', false);
  const te = bundle.tests.testError;
  for (let i = 0; i < te.length; i++) {
    if (!(te[i]! >= 0 && te[i]! <= 1))
      throw new BundleError('malformed', `${where}: tests.testError[${i}] is ${te[i]}, not a fraction in [0, 1]`);
  }
}

// ---- metadata ----------------------------------------------------------------------------------

function checkMeta(meta: unknown, config: string, where: string): RunMeta {
  const fail = (field: string, why: string) => new BundleError('malformed', `${where}: meta.${field} ${why}`);
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta))
    throw new BundleError('malformed', `${where}: meta is not an object`);
  const m = meta as Record<string, unknown>;
  const text = (k: string, nullable = false) => {
    const v = m[k];
    if (nullable && v === null) return;
    if (typeof v !== 'string') throw fail(k, 'must be a string');
    if (v.length > BUNDLE_LIMITS.textChars) throw fail(k, `is too long (${v.length} characters)`);
  };
  const count = (k: string, nullable: boolean, min = 0) => {
    const v = m[k];
    if (nullable && v === null) return;
    if (!(typeof v === 'number' && Number.isSafeInteger(v) && v >= min))
      throw fail(k, `must be a whole number >= ${min}${nullable ? ' or null' : ''}`);
  };
  const positive = (k: string) => {
    const v = m[k];
    if (v === null) return;
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw fail(k, 'must be a finite number >= 0 or null');
  };
  text('name');
  text('backend');
  text('producer');
  text('startedAt');
  text('endedAt', true);
  for (const k of ['startedAt', 'endedAt']) {
    if (typeof m[k] === 'string' && Number.isNaN(Date.parse(m[k] as string)))
      throw fail(k, `is not a date (${JSON.stringify((m[k] as string).slice(0, 40))})`);
  }
  count('seed', false);
  count('trainImages', false, 1);
  count('maxSteps', true, 1);
  count('evalLimit', true, 1);
  positive('imagesPerSecond');
  positive('trainSeconds');
  if (!RUN_STATUSES.includes(m.status as RunStatus)) throw fail('status', `must be one of ${RUN_STATUSES.join(', ')}`);
  const d = m.divergedAt;
  if (d !== null) {
    const o = d as Record<string, unknown>;
    if (
      typeof d !== 'object' ||
      typeof o.step !== 'number' ||
      typeof o.lr !== 'number' ||
      (typeof o.loss !== 'number' && o.loss !== null)
    ) {
      throw fail('divergedAt', 'must be {step, lr, loss} or null');
    }
  }
  const seed = new URLSearchParams(config).get('seed');
  if (seed !== null && Number(seed) !== m.seed) {
    throw new BundleError('inconsistent', `${where}: meta.seed is ${String(m.seed)} but the configuration says seed=${seed}`);
  }
  return {
    name: m.name as string,
    seed: m.seed as number,
    backend: m.backend as string,
    startedAt: m.startedAt as string,
    endedAt: m.endedAt as string | null,
    status: m.status as RunStatus,
    trainImages: m.trainImages as number,
    maxSteps: m.maxSteps as number | null,
    evalLimit: m.evalLimit as number | null,
    imagesPerSecond: m.imagesPerSecond as number | null,
    trainSeconds: m.trainSeconds as number | null,
    // JSON writes a NaN or infinite loss as null: read it back as NaN.
    divergedAt:
      d === null
        ? null
        : { step: (d as { step: number }).step, lr: (d as { lr: number }).lr, loss: (d as { loss: number | null }).loss ?? NaN },
    producer: m.producer as string,
  };
}

function checkConfig(config: unknown, where: string): string {
  if (typeof config !== 'string') throw new BundleError('malformed', `${where}: config must be a share-URL query string`);
  if (config.length > BUNDLE_LIMITS.configChars) throw new BundleError('too-large', `${where}: config is ${config.length} characters long`);
  const { issues } = parseConfigQuery(config);
  if (issues.length > 0)
    throw new BundleError('malformed', `${where}: its configuration is not valid here: ${issues.map((i) => i.problem).join('; ')}`);
  return config;
}

/** The `resnet_lab_config` a .safetensors file carries ('' if none), after checking its header frame. */
function safetensorsLabConfig(bytes: Uint8Array, where: string): string {
  const bad = (why: string) => new BundleError('malformed', `${where}: its weights are not a .safetensors file (${why})`);
  if (bytes.byteLength < 8) throw bad(`${bytes.byteLength} bytes`);
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (len > BigInt(bytes.byteLength - 8)) throw bad(`header of ${len} bytes in ${bytes.byteLength}`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + Number(len))));
  } catch {
    throw bad('header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('header is not an object');
  const meta = (header as Record<string, unknown>).__metadata__;
  const c = meta && typeof meta === 'object' ? (meta as Record<string, unknown>).resnet_lab_config : undefined;
  return typeof c === 'string' ? c : '';
}

// ---- encode ------------------------------------------------------------------------------------

const align8 = (n: number) => Math.ceil(n / 8) * 8;

/**
 * Checks a bundle as both containers need it (this one and the zip, bundle-zip.ts): its configuration,
 * series, metadata and the weights' configuration. Returns the checked metadata; a BundleError's
 * message starts with `where`.
 */
export function checkRunBundle(bundle: RunBundle, where: string): RunMeta {
  const config = checkConfig(bundle.config, where);
  checkSeries(bundle, where);
  const meta = checkMeta(bundle.meta, config, where);
  if (bundle.weights !== null) {
    if (bundle.weights.byteLength > BUNDLE_LIMITS.weightsBytes)
      throw new BundleError('too-large', `${where}: weights of ${bundle.weights.byteLength} bytes`);
    const wc = safetensorsLabConfig(bundle.weights, where);
    if (wc !== '' && wc !== config) throw new BundleError('inconsistent', `${where}: the weights belong to another configuration (${wc})`);
  }
  return meta;
}

/** The bundle's bytes. Throws a BundleError if the bundle is inconsistent (it would not decode). */
export function encodeRunBundle(bundle: RunBundle): Uint8Array {
  const where = 'cannot write the run bundle';
  const meta = checkRunBundle(bundle, where);
  const config = bundle.config;
  const columns: HeaderColumn[] = [];
  const parts: { offset: number; bytes: Uint8Array }[] = [];
  let offset = 0;
  for (const { spec, data } of seriesColumns(bundle)) {
    columns.push({ series: spec.series, name: spec.name, dtype: spec.dtype, offset, length: data.length });
    parts.push({ offset, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    offset = align8(offset + data.byteLength);
  }
  let weights: Header['weights'] = null;
  if (bundle.weights !== null) {
    weights = { offset, byteLength: bundle.weights.byteLength };
    parts.push({ offset, bytes: bundle.weights });
    offset += bundle.weights.byteLength;
  }
  const header: Header = {
    format: 'resnet-lab-run',
    version: BUNDLE_VERSION,
    config,
    meta,
    result: summariseTests(bundle.tests),
    columns,
    weights,
  };
  const json = JSON.stringify(header);
  let headerBytes = new TextEncoder().encode(json);
  const pad = align8(PREFIX_BYTES + headerBytes.byteLength) - PREFIX_BYTES - headerBytes.byteLength;
  if (pad > 0) headerBytes = new TextEncoder().encode(json + ' '.repeat(pad));
  const dataStart = PREFIX_BYTES + headerBytes.byteLength;
  const dataEnd = parts.reduce((end, p) => Math.max(end, p.offset + p.bytes.byteLength), 0); // no padding after the last part
  const out = new Uint8Array(dataStart + dataEnd);
  out.set(new TextEncoder().encode(BUNDLE_MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, BUNDLE_VERSION, true);
  view.setUint32(12, 0, true);
  view.setBigUint64(16, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, PREFIX_BYTES);
  for (const p of parts) out.set(p.bytes, dataStart + p.offset);
  return out;
}

// ---- decode ------------------------------------------------------------------------------------

function sameOutcome(a: RunOutcome, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Read a bundle, checking everything before returning: a BundleError (with `code`) names the problem
 * and the file. Column arrays and weights are copies, independent of `bytes`.
 */
export function decodeRunBundle(bytes: Uint8Array, fileName = 'the file'): DecodedBundle {
  const where = fileName;
  const magic = new TextEncoder().encode(BUNDLE_MAGIC);
  const startsLikeBundle = magic.every((b, i) => i >= bytes.byteLength || bytes[i] === b);
  if (!startsLikeBundle || bytes.byteLength === 0) {
    const head = new TextDecoder().decode(bytes.subarray(0, 16)).trimStart();
    const hint = head.startsWith('{')
      ? ' (it looks like JSON: a curves export or a TF.js model.json, not a bundle)'
      : bytes.byteLength >= 9 && bytes[8] === 0x7b
        ? ' (it looks like a .safetensors weights file: load it with "Load weights" instead)'
        : '';
    throw new BundleError(
      'not-a-bundle',
      `${where} is not a ResNet Lab run bundle${hint}. Choose a ${BUNDLE_EXTENSION} file exported by the lab.`,
    );
  }
  if (bytes.byteLength < PREFIX_BYTES) {
    throw new BundleError(
      'truncated',
      `${where} is truncated: ${bytes.byteLength} bytes, not even the ${PREFIX_BYTES}-byte start of a bundle`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== BUNDLE_VERSION) {
    throw new BundleError(
      'version',
      `${where} is a run bundle of format version ${version}; this lab reads version ${BUNDLE_VERSION}` +
        (version > BUNDLE_VERSION ? ' (it was made by a newer lab: update this one)' : ''),
    );
  }
  const headerLen = view.getBigUint64(16, true);
  if (headerLen > BigInt(BUNDLE_LIMITS.headerBytes)) {
    throw new BundleError(
      'too-large',
      `${where} claims a header of ${headerLen} bytes (at most ${BUNDLE_LIMITS.headerBytes}): the file is damaged`,
    );
  }
  const hl = Number(headerLen);
  if (PREFIX_BYTES + hl > bytes.byteLength) {
    throw new BundleError(
      'truncated',
      `${where} is truncated: its header needs ${PREFIX_BYTES + hl} bytes, the file has ${bytes.byteLength}`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + hl)));
  } catch {
    throw new BundleError('malformed', `${where}: its header is not JSON (the file is damaged)`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new BundleError('malformed', `${where}: its header is not a JSON object`);
  const h = raw as Partial<Header>;
  if (h.format !== 'resnet-lab-run' || h.version !== version) {
    throw new BundleError('malformed', `${where}: its header does not describe a version ${version} run bundle`);
  }
  const config = checkConfig(h.config, where);
  const dataStart = PREFIX_BYTES + hl;
  const dataLen = bytes.byteLength - dataStart;
  let dataEnd = 0;
  const region = (what: string, offset: unknown, byteLength: number) => {
    if (!(typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 0 && offset % 8 === 0)) {
      throw new BundleError('malformed', `${where}: ${what} has an invalid offset (${String(offset)})`);
    }
    if (offset + byteLength > dataLen) {
      throw new BundleError(
        'truncated',
        `${where} is truncated: it ends at byte ${bytes.byteLength} but ${what} ends at byte ${dataStart + offset + byteLength}`,
      );
    }
    dataEnd = Math.max(dataEnd, offset + byteLength);
    return bytes.slice(dataStart + offset, dataStart + offset + byteLength); // aligned copy
  };

  if (!Array.isArray(h.columns)) throw new BundleError('malformed', `${where}: its header lists no columns`);
  const series: { steps: Record<string, Column>; tests: Record<string, Column> } = { steps: {}, tests: {} };
  for (const c of h.columns as unknown[]) {
    const col = c as Partial<HeaderColumn>;
    const spec = COLUMNS.find((s) => s.series === col?.series && s.name === col?.name);
    const label = `column ${String(col?.series).slice(0, 20)}.${String(col?.name).slice(0, 40)}`;
    if (!col || typeof col !== 'object' || !(col.dtype! in BYTES)) throw new BundleError('malformed', `${where}: ${label} is malformed`);
    if (!(typeof col.length === 'number' && Number.isSafeInteger(col.length) && col.length >= 0)) {
      throw new BundleError('malformed', `${where}: ${label} has an invalid length (${String(col.length)})`);
    }
    if (col.length > BUNDLE_LIMITS.seriesLength) {
      throw new BundleError(
        'too-large',
        `${where}: ${label} claims ${col.length} values (at most ${BUNDLE_LIMITS.seriesLength}): the file is damaged`,
      );
    }
    const data = region(label, col.offset, col.length * BYTES[col.dtype as Dtype]);
    if (!spec) continue; // a column this lab does not know: skipped
    if (spec.dtype !== col.dtype) throw new BundleError('malformed', `${where}: ${label} is ${col.dtype}, expected ${spec.dtype}`);
    if (series[spec.series][spec.name]) throw new BundleError('malformed', `${where}: ${label} appears twice`);
    series[spec.series][spec.name] = new CTOR[spec.dtype](data.buffer, 0, col.length);
  }
  const decodedSeries = { steps: series.steps as unknown as StepSeries, tests: series.tests as unknown as TestSeries };
  checkSeries(decodedSeries, where);
  const meta = checkMeta(h.meta, config, where);

  let weights: Uint8Array | null = null;
  if (h.weights !== null && h.weights !== undefined) {
    const w = h.weights as Partial<NonNullable<Header['weights']>>;
    if (!(typeof w.byteLength === 'number' && Number.isSafeInteger(w.byteLength) && w.byteLength >= 0)) {
      throw new BundleError('malformed', `${where}: its weights entry is malformed`);
    }
    if (w.byteLength > BUNDLE_LIMITS.weightsBytes)
      throw new BundleError('too-large', `${where} claims ${w.byteLength} bytes of weights: the file is damaged`);
    weights = region('the weights section', w.offset, w.byteLength);
    const wc = safetensorsLabConfig(weights, where);
    if (wc !== '' && wc !== config) {
      throw new BundleError('inconsistent', `${where}: its weights belong to another configuration (${wc}) than the run (${config})`);
    }
  }
  if (dataEnd < dataLen) throw new BundleError('malformed', `${where} has ${dataLen - dataEnd} unexpected bytes after its data`);

  const result = summariseTests(decodedSeries.tests);
  if (!sameOutcome(result, h.result)) {
    throw new BundleError('inconsistent', `${where}: its stated final/best test error does not match its test-error series`);
  }
  return { config, meta, steps: decodedSeries.steps, tests: decodedSeries.tests, weights, result };
}

/** Whether bytes start like a bundle (for a file picker that takes bundles and weights alike). */
export function looksLikeRunBundle(bytes: Uint8Array): boolean {
  const magic = new TextEncoder().encode(BUNDLE_MAGIC);
  return bytes.byteLength >= magic.length && magic.every((b, i) => bytes[i] === b);
}

/** A file name for a bundle: the run's name with anything but letters, digits, '.', '_' and '-' replaced. */
export function bundleFileName(name: string): string {
  const base =
    name
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^[-.]+|-+$/g, '')
      .slice(0, 100) || 'run';
  return `${base}${BUNDLE_EXTENSION}`;
}
