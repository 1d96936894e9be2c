// `npm run lab -- inspect --weights FILE`: look inside trained weights on the test set: test error,
// per-class error and the 10x10 confusion matrix; with --recalibrate also the error after BN
// recalibration over the training set (src/train/recalibrate.ts). FILE is a .safetensors file, a
// model.json (with its weights.bin) or a run bundle (.zip or the older .rlab, e.g. from `lab queue`).

import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseConfigQueryStrict, formatConfigQuery, type ExperimentConfig } from '../experiment/config.ts';
import { decodeRunFile, looksLikeRunFile } from '../state/bundle-zip.ts';
import { decodeSafetensors, WeightsError } from '../model/weights.ts';
import type { ResNet } from '../model/resnet.ts';
import { describeExperiment, modelSpec, resolveExperiment } from '../train/experiment.ts';
import { computeStats } from '../data/batches.ts';
import { CLASS_NAMES } from '../data/cifar.ts';
import { initBackend } from '../backend/setup.ts';
import { analyseModel, perClassError } from '../train/analysis.ts';
import { recalibrateBatchNorm } from '../train/recalibrate.ts';
import { backendArg, positiveInt, UsageError } from './args.ts';
import { buildModel, loadData, loadWeightsFile } from './train.ts';

async function loadAny(file: string): Promise<{ config: ExperimentConfig; model: ResNet }> {
  let head: Uint8Array;
  try {
    head = new Uint8Array(await readFile(file));
  } catch {
    throw new UsageError(`cannot read --weights ${file}: no such file`);
  }
  if (!looksLikeRunFile(head)) return loadWeightsFile(file);
  const name = basename(file);
  const bundle = decodeRunFile(head, name);
  if (!bundle.weights) throw new WeightsError(`${name} is a run bundle without weights: there is nothing to inspect`);
  const config = parseConfigQueryStrict(bundle.config);
  const spec = modelSpec(config);
  return { config, model: buildModel(spec, decodeSafetensors(spec, name, bundle.weights).values) };
}

export async function inspect(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      weights: { type: 'string' },
      data: { type: 'string' },
      limit: { type: 'string' },
      'train-limit': { type: 'string' },
      recalibrate: { type: 'boolean' },
      backend: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  if (!values.weights) throw new UsageError('inspect needs --weights FILE (.safetensors, model.json or a .zip or .rlab run bundle)');
  const limit = positiveInt('limit', values.limit);
  const trainLimit = positiveInt('train-limit', values['train-limit']);
  if (trainLimit !== undefined && !values.recalibrate) throw new UsageError('--train-limit only makes sense with --recalibrate');
  const backend = await initBackend(backendArg(values.backend));
  const { config, model } = await loadAny(values.weights);
  const data = await loadData(values.data);
  const experiment = resolveExperiment(config);
  const stats = computeStats(data.train, experiment.data);
  let shown = 0;
  const progress = (what: string) => (done: number, total: number) => {
    const now = performance.now();
    if (done < total && now - shown < 500) return;
    shown = now;
    process.stderr.write(`\r${what} ${done}/${total}`);
  };

  const a = await analyseModel(model, data.test, stats, experiment.data, { limit, onProgress: progress('testing') });
  process.stderr.write('\n');
  let recalibrated: { testError: number; batches: number; images: number } | undefined;
  if (values.recalibrate) {
    const r = await recalibrateBatchNorm(model, data.train, stats, experiment.data, {
      batch: config.batch,
      limit: trainLimit,
      onProgress: progress('recalibrating BN over training images'),
    });
    process.stderr.write('\n');
    const after = await analyseModel(model, data.test, stats, experiment.data, { limit, onProgress: progress('testing') });
    process.stderr.write('\n');
    recalibrated = { testError: after.error, batches: r.batches, images: r.images };
  }
  model.dispose();

  const classes = perClassError(a.confusion);
  const result = {
    config: formatConfigQuery(config),
    backend: backend.backend,
    images: a.n,
    testError: a.error,
    perClass: classes.map((c) => ({ name: CLASS_NAMES[c.cls], count: c.count, wrong: c.wrong, error: c.error })),
    confusion: Array.from({ length: a.classes }, (_, t) => Array.from(a.confusion.subarray(t * a.classes, (t + 1) * a.classes))),
    ...(recalibrated ? { recalibrated } : {}),
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const out: string[] = [`${describeExperiment(config)}`, `test error ${pct(a.error)} on ${a.n} test images`];
  if (recalibrated) {
    out.push(
      `after BN recalibration over ${recalibrated.images} training images (${recalibrated.batches} batches): ${pct(recalibrated.testError)}`,
    );
  }
  out.push('', 'class        images  wrong   error');
  for (const c of result.perClass)
    out.push(
      `${c.name!.padEnd(12)} ${String(c.count).padStart(6)} ${String(c.wrong).padStart(6)} ${Number.isNaN(c.error) ? '     -' : pct(c.error).padStart(7)}`,
    );
  out.push(
    '',
    `confusion matrix (rows: true class, columns: predicted)`,
    `${''.padEnd(12)}${CLASS_NAMES.map((n) => n.slice(0, 5).padStart(6)).join('')}`,
  );
  result.confusion.forEach((row, t) => out.push(`${CLASS_NAMES[t]!.padEnd(12)}${row.map((v) => String(v).padStart(6)).join('')}`));
  process.stdout.write(`${out.join('\n')}\n`);
}
