// `npm run lab -- queue FILE --out DIR`: run a list of experiments one after another, headless, with
// exactly the code of `lab train`, and write one run bundle per run that the page can import.
//
// FILE: one share-URL query string per line (a whole share URL works too: the part after "?"), each
// may carry seed=; "#" starts a comment; blank lines are skipped. Run i (1-based, counting runs, not
// lines) goes to DIR/NNN-<short>/ (train's log.jsonl, result.json, config.txt, weights/) plus the
// bundle DIR/NNN-<short>/NNN-<short>.zip (bundle-zip.ts), written last and atomically (temporary file
// + rename). A run whose bundle exists already (that zip, or the .rlab an older lab wrote) is
// skipped, so a killed queue is resumed by running it again, and --from I --to J picks runs I..J so
// several machines can share one file (README "Headless sweeps").

import { parseArgs } from 'node:util';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  changedFromProtocol,
  CONFIG_KEYS,
  configFromQuery,
  formatConfigQuery,
  formatConfigValue,
  parseConfigQuery,
  type ExperimentConfig,
} from '../experiment/config.ts';
import { BundleError, bundleFileName, type DecodedBundle, type RunBundle, type RunStatus } from '../state/bundle.ts';
import { decodeRunFile, encodeRunZip, runZipFileName } from '../state/bundle-zip.ts';
import { SeriesBuilder } from '../state/run-series.ts';
import { formatMeanStd, groupRepeats } from '../state/compare.ts';
import { positiveInt, UsageError } from './args.ts';
import { train } from './train.ts';

export class QueueError extends Error {
  override readonly name = 'QueueError';
}

export interface QueueEntry {
  /** 1-based position among the file's runs. */
  index: number;
  /** 1-based line in the file. */
  line: number;
  config: ExperimentConfig;
  /** "NNN-<short>": the run's folder and bundle name. */
  name: string;
}

const ENUM_KEYS = new Set(['block', 'shortcut', 'solver', 'schedule', 'warmup']);

/** A short, file-safe description of a configuration: protocol, depth, what differs from the protocol, seed. */
export function shortName(config: ExperimentConfig): string {
  const changed = changedFromProtocol(config);
  const parts = [config.protocol, `d${config.depth}`];
  for (const k of CONFIG_KEYS) {
    if (!changed.has(k) || k === 'depth') continue;
    const v = formatConfigValue(config, k);
    parts.push(ENUM_KEYS.has(k) ? v : `${k}${v}`);
  }
  const body = parts
    .join('-')
    .replace(/[^A-Za-z0-9.]+/g, '-')
    .slice(0, 60)
    .replace(/-+$/, '');
  return `${body}-s${config.seed}`;
}

/** The runs of a queue file; every problem (with its line number) in one QueueError. */
export function parseQueueFile(text: string, fileName: string): QueueEntry[] {
  const entries: QueueEntry[] = [];
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const hash = raw.indexOf('#');
    let q = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (q === '') return;
    const mark = q.indexOf('?');
    if (mark >= 0) q = q.slice(mark + 1);
    const { config, issues } = parseConfigQuery(q);
    if (issues.length > 0) {
      problems.push(`line ${i + 1}: ${issues.map((x) => x.problem).join('; ')}`);
      return;
    }
    entries.push({ index: entries.length + 1, line: i + 1, config, name: '' });
  });
  if (problems.length > 0) {
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    throw new QueueError(`${fileName}: ${problems.slice(0, 5).join(' | ')}${more}`);
  }
  if (entries.length === 0) throw new QueueError(`${fileName} lists no runs (one share-URL query per line; # starts a comment)`);
  const width = Math.max(3, String(entries.length).length);
  for (const e of entries) e.name = `${String(e.index).padStart(width, '0')}-${shortName(e.config)}`;
  return entries;
}

interface RunLine {
  index: number;
  name: string;
  skipped: boolean;
  status: RunStatus;
  config: string;
  finalTestError: number | null;
  bestTestError: number | null;
  bestEpoch: number | null;
  imagesPerSecond: number | null;
  bundle: string;
}

function lineOf(
  index: number,
  name: string,
  path: string,
  b: Pick<DecodedBundle, 'config' | 'meta' | 'result'>,
  skipped: boolean,
): RunLine {
  return {
    index,
    name,
    skipped,
    status: b.meta.status,
    config: b.config,
    finalTestError: b.result.final?.testError ?? null,
    bestTestError: b.result.best?.testError ?? null,
    bestEpoch: b.result.best?.epoch ?? null,
    imagesPerSecond: b.meta.imagesPerSecond,
    bundle: path,
  };
}

const pct = (x: number | null | undefined) => (x == null ? '-' : `${(100 * x).toFixed(2)}%`);

/** One run with `lab train`'s own code; returns its bundle (not yet written). */
async function runOne(
  entry: QueueEntry,
  dir: string,
  passThrough: string[],
  options: { maxSteps: number | null; evalLimit: number | null },
): Promise<RunBundle> {
  const series = new SeriesBuilder();
  let t0 = 0;
  let lastMark = 0;
  let evalMs = 0; // evaluation time, kept out of the step times
  let trainMs = 0;
  let trainImages = 50_000;
  let testImages = 10_000;
  const startedAt = new Date().toISOString();
  const outcome = await train(['--config', formatConfigQuery(entry.config), '--out', dir, ...passThrough], {
    quiet: true,
    onStart: (info) => {
      trainImages = info.trainImages;
      testImages = info.testImages;
      t0 = lastMark = performance.now();
    },
    onStep: (e) => {
      const now = performance.now();
      trainMs = now - t0 - evalMs;
      lastMark = now;
      series.pushStep({ step: e.step, epoch: e.epochFloat, lr: e.lr, loss: e.loss, trainError: e.trainError, ms: trainMs });
    },
    onEpoch: (e) => {
      // An evaluation runs between the last step event (or the start) and this one.
      const now = performance.now();
      evalMs += now - lastMark;
      lastMark = now;
      series.pushTest({ step: e.step, epoch: e.epoch, testError: e.testError, evaluated: testImages });
    },
  });
  const weights = new Uint8Array(await readFile(join(dir, 'weights', 'model.safetensors')));
  const { steps, tests } = series.build();
  const images = steps.step.length > 0 ? steps.step[steps.step.length - 1]! * outcome.config.batch : 0;
  const div = outcome.result.divergedAt;
  return {
    config: formatConfigQuery(outcome.config),
    meta: {
      name: entry.name,
      seed: outcome.config.seed,
      backend: outcome.backend,
      startedAt,
      endedAt: new Date().toISOString(),
      status: outcome.result.end,
      trainImages,
      maxSteps: options.maxSteps,
      evalLimit: options.evalLimit,
      imagesPerSecond: trainMs > 0 ? images / (trainMs / 1000) : null,
      trainSeconds: trainMs / 1000,
      divergedAt: div ? { step: div.step, lr: div.lr, loss: div.loss } : null,
      producer: 'resnet-lab cli queue',
    },
    steps,
    tests,
    weights,
  };
}

export async function queue(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      epochs: { type: 'string' },
      'max-steps': { type: 'string' },
      'eval-limit': { type: 'string' },
      backend: { type: 'string' },
      threads: { type: 'string' },
      data: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1)
    throw new UsageError(`queue needs exactly one FILE (a list of share-URL queries), got ${positionals.length}`);
  if (!values.out) throw new UsageError('queue needs --out DIR (each run gets a folder and a bundle there)');
  const file = positionals[0]!;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new UsageError(`cannot read the queue file ${file}`);
  }
  const entries = parseQueueFile(text, file);
  const from = positiveInt('from', values.from) ?? 1;
  const to = positiveInt('to', values.to) ?? entries.length;
  if (from > to || to > entries.length) {
    throw new UsageError(`--from ${from} --to ${to} is not a range of runs in ${file}, which lists runs 1..${entries.length}`);
  }
  const epochs = positiveInt('epochs', values.epochs);
  const maxSteps = positiveInt('max-steps', values['max-steps']) ?? null;
  const evalLimit = positiveInt('eval-limit', values['eval-limit']) ?? null;
  const passThrough: string[] = [];
  for (const k of ['epochs', 'max-steps', 'eval-limit', 'backend', 'threads', 'data'] as const) {
    if (values[k] !== undefined) passThrough.push(`--${k}`, values[k]!);
  }
  const out = resolve(values.out);
  const lines: RunLine[] = [];
  process.stderr.write(`queue ${file}: runs ${from}..${to} of ${entries.length}, into ${out}\n`);

  for (const entry of entries.slice(from - 1, to)) {
    const dir = join(out, entry.name);
    const bundlePath = join(dir, runZipFileName(entry.name));
    const config = { ...entry.config, ...(epochs !== undefined ? { epochs } : {}) };
    const expected = formatConfigQuery(config);
    const tag = `[${entry.index}/${entries.length}] ${entry.name}`;

    let existing: DecodedBundle | null = null;
    let existingPath = bundlePath;
    for (const path of [bundlePath, join(dir, bundleFileName(entry.name))]) {
      try {
        existing = decodeRunFile(new Uint8Array(await readFile(path)), path);
        existingPath = path;
        break;
      } catch (e) {
        if (e instanceof BundleError) process.stderr.write(`${tag}: ${e.message}; running it again\n`);
        else if ((e as { code?: string }).code !== 'ENOENT') throw e;
      }
    }
    if (existing) {
      if (existing.config !== expected || existing.meta.maxSteps !== maxSteps || existing.meta.evalLimit !== evalLimit) {
        throw new QueueError(
          `${existingPath} holds a run of another configuration or options (${existing.config}, max steps ${existing.meta.maxSteps ?? 'none'}, ` +
            `eval limit ${existing.meta.evalLimit ?? 'none'}) than line ${entry.line} asks for: use another --out, or delete that folder`,
        );
      }
      process.stderr.write(`${tag}: done already (${pct(existing.result.final?.testError)}), skipped\n`);
      lines.push(lineOf(entry.index, entry.name, existingPath, existing, true));
      continue;
    }

    process.stderr.write(`${tag}: ${expected}\n`);
    const bundle = await runOne(entry, dir, passThrough, { maxSteps, evalLimit });
    const bytes = encodeRunZip(bundle);
    const partial = `${bundlePath}.partial`;
    await writeFile(partial, bytes);
    await rename(partial, bundlePath); // a killed queue never leaves a bundle that looks finished
    const decoded = decodeRunFile(bytes, bundlePath);
    const best = decoded.result.best;
    process.stderr.write(
      `${tag}: ${decoded.meta.status}, final test error ${pct(decoded.result.final?.testError)}` +
        (best ? ` (best ${pct(best.testError)} at epoch ${Number(best.epoch.toFixed(2))}, chosen on the test set)` : '') +
        `, ${decoded.meta.imagesPerSecond?.toFixed(0) ?? '?'} images/s -> ${bundlePath}\n`,
    );
    lines.push(lineOf(entry.index, entry.name, bundlePath, decoded, false));
  }

  for (const l of lines) process.stdout.write(`${JSON.stringify({ type: 'run', ...l })}\n`);
  for (const g of groupRepeats(lines, (l) => ({ config: configFromQuery(l.config), final: l.finalTestError, best: l.bestTestError }))) {
    if (g.runs.length < 2) continue;
    const repeats = { type: 'repeats', config: g.key, seeds: g.seeds, final: g.final, best: g.best };
    process.stdout.write(`${JSON.stringify(repeats)}\n`);
    if (g.final) process.stderr.write(`seeds ${g.seeds.join(', ')} of ${g.key}: final test error ${formatMeanStd(g.final)}\n`);
  }
}
