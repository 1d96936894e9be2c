// The CLI's summary, train and eval commands, and what they share with inspect and queue: reading
// CIFAR-10 from a folder (once per process), writing and reading weights files, rebuilding a model.
// The flags are parsed in args.ts; the command dispatch is main.ts.

import { parseArgs } from 'node:util';
import { mkdir, readFile, writeFile, appendFile, access } from 'node:fs/promises';
import { dirname, join, resolve, basename } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { formatConfigQuery, parseConfigQueryStrict, type ExperimentConfig } from '../experiment/config.ts';
import { describeExperiment, modelSpec, resolveExperiment } from '../train/experiment.ts';
import { blocksPerStage, countLayers, countTrainableParams, describeParams, ResNet } from '../model/resnet.ts';
import { Trainer, type RunResult, type TrainData, type TrainerCallbacks } from '../train/trainer.ts';
import {
  decodeSafetensors,
  decodeTfjs,
  encodeSafetensors,
  encodeTfjs,
  parseTfjsModelJson,
  readModelValues,
  safetensorsConfig,
  TFJS_WEIGHTS_FILE,
  valuesToTensors,
  WeightsError,
} from '../model/weights.ts';
import { encodeOnnx, ONNX_FILE } from '../model/onnx-model.ts';
import { describeBackend, initBackend, type BackendName } from '../backend/setup.ts';
import { loadCifarDir } from '../data/node-files.ts';
import { computeStats } from '../data/batches.ts';
import { UsageError, positiveInt, backendArg, threadsArg, strictQuery } from './args.ts';

const DEFAULT_DATA = 'public/data/cifar-10-batches-bin';

/** Loaded data sets by folder: a queue of runs in one process reads the files once. */
const dataCache = new Map<string, Promise<TrainData>>();

export async function loadData(dir: string | undefined): Promise<TrainData> {
  const d = resolve(dir ?? DEFAULT_DATA);
  try {
    await access(d);
  } catch {
    throw new UsageError(
      `no CIFAR-10 data at ${d}: run \`npm run data\` first, or pass --data DIR (the folder with data_batch_1.bin ... test_batch.bin)`,
    );
  }
  let p = dataCache.get(d);
  if (!p) {
    p = loadCifarDir(d);
    dataCache.set(d, p);
    p.catch(() => dataCache.delete(d));
  }
  return p;
}

export async function summary(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { depth: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } },
    strict: true,
  });
  const query = new URLSearchParams(values.config ?? '');
  if (values.depth !== undefined) query.set('depth', values.depth);
  const config = strictQuery(query.toString());
  const spec = modelSpec(config);
  const params = countTrainableParams(spec);
  const info = describeParams(spec);
  const result = {
    depth: config.depth,
    n: blocksPerStage(config.depth),
    layers: countLayers(spec),
    trainableParams: params,
    withoutConvBias: countTrainableParams({ ...spec, convBias: false }),
    buffers: info.filter((p) => !p.trainable).reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0),
    tensors: info.length,
    description: describeExperiment(config),
    config: formatConfigQuery(config),
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  process.stdout.write(
    `${result.description}\n` +
      `layers: ${result.layers} (n = ${result.n}: 6n convolutions in the blocks + first conv + fully connected)\n` +
      `trainable parameters: ${params.toLocaleString('en-US')}` +
      (spec.convBias ? ` (${result.withoutConvBias.toLocaleString('en-US')} without the conv biases, as the paper's Table 6 counts)` : '') +
      '\n' +
      `BN running statistics: ${result.buffers.toLocaleString('en-US')} values (not trained)\n`,
  );
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
}

async function writeWeights(dir: string, trainer: Trainer): Promise<void> {
  const spec = trainer.experiment.spec;
  const bundle = {
    config: formatConfigQuery(trainer.experiment.config),
    steps: trainer.iteration,
    values: await readModelValues(trainer.model),
  };
  await mkdir(dir, { recursive: true });
  const { modelJson, weightsBin } = encodeTfjs(spec, bundle);
  await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson, null, 1));
  await writeFile(join(dir, TFJS_WEIGHTS_FILE), weightsBin);
  await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(spec, bundle));
  await writeFile(join(dir, ONNX_FILE), encodeOnnx(spec, bundle));
}

/** What one `train` did (the queue turns it into a bundle). */
export interface TrainOutcome {
  out: string;
  config: ExperimentConfig;
  result: RunResult;
  backend: BackendName;
  /** Wall-clock seconds of trainer.run, evaluations included. */
  seconds: number;
  /** Training images per epoch and test images per evaluation. */
  trainImages: number;
  testImages: number;
}

/** For callers that run `train` in-process (the queue): see every event; `quiet` keeps stdout free. */
export interface TrainHooks extends Pick<TrainerCallbacks, 'onStep' | 'onEpoch'> {
  onStart?(info: { trainer: Trainer; trainImages: number; testImages: number }): void;
  quiet?: boolean;
}

export async function train(argv: string[], hooks: TrainHooks = {}): Promise<TrainOutcome> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      epochs: { type: 'string' },
      'max-steps': { type: 'string' },
      backend: { type: 'string' },
      threads: { type: 'string' },
      out: { type: 'string' },
      data: { type: 'string' },
      'eval-limit': { type: 'string' },
    },
    strict: true,
  });
  if (!values.out) throw new UsageError('train needs --out DIR (where log.jsonl and weights/ are written)');
  const config = strictQuery(values.config);
  const epochs = positiveInt('epochs', values.epochs);
  if (epochs !== undefined) config.epochs = epochs;
  const maxSteps = positiveInt('max-steps', values['max-steps']);
  const evalLimit = positiveInt('eval-limit', values['eval-limit']);
  const backend = await initBackend(backendArg(values.backend), threadsArg(values.threads));
  const data = await loadData(values.data);
  const out = resolve(values.out);
  await mkdir(out, { recursive: true });
  const logPath = join(out, 'log.jsonl');
  await writeFile(logPath, '');
  await writeFile(join(out, 'config.txt'), `${formatConfigQuery(config)}\n`);

  const experiment = resolveExperiment(config);
  const trainer = new Trainer(experiment, data, { maxSteps, evalLimit });
  process.stderr.write(
    `${describeExperiment(config)}\nbackend ${backend.backend} (${describeBackend(backend)}), ` +
      `${trainer.stepsPerEpoch} iterations per epoch, ${trainer.totalSteps} in all; writing ${out}\n`,
  );

  let lines: string[] = [];
  const flushLog = async () => {
    if (lines.length) await appendFile(logPath, lines.join(''));
    lines = [];
  };
  const testImages = Math.min(evalLimit ?? data.test.n, data.test.n);
  hooks.onStart?.({ trainer, trainImages: data.train.n, testImages });
  const t0 = performance.now();
  let lastPrint = 0;
  const result = await trainer.run({
    onStep: (e) => {
      hooks.onStep?.(e);
      lines.push(`${JSON.stringify({ step: e.step, epoch: e.epoch, lr: e.lr, loss: e.loss, trainError: e.trainError })}\n`);
      const now = performance.now();
      if (now - lastPrint > 2000 || e.step === trainer.totalSteps) {
        lastPrint = now;
        const secs = (now - t0) / 1000;
        const ips = (e.step * config.batch) / secs;
        const eta = ((trainer.totalSteps - e.step) * secs) / e.step;
        process.stderr.write(
          `step ${e.step}/${trainer.totalSteps} epoch ${e.epochFloat.toFixed(2)} lr ${e.lr} loss ${e.loss.toFixed(4)} ` +
            `${ips.toFixed(0)} img/s ETA ${fmtTime(eta)}\n`,
        );
      }
    },
    onEpoch: (e) => {
      hooks.onEpoch?.(e);
      lines.push(`${JSON.stringify({ epoch: e.epoch, step: e.step, testError: e.testError })}\n`);
      process.stderr.write(`epoch ${e.epoch}: test error ${(100 * e.testError).toFixed(2)}%\n`);
    },
    between: async () => {
      if (lines.length > 200) await flushLog();
      return false;
    },
  });
  await flushLog();
  await writeWeights(join(out, 'weights'), trainer);
  const summaryLine = { ...result, seconds: (performance.now() - t0) / 1000, backend: backend.backend, config: formatConfigQuery(config) };
  await writeFile(join(out, 'result.json'), `${JSON.stringify(summaryLine, null, 1)}\n`);
  trainer.dispose();
  if (result.end === 'diverged') {
    process.stderr.write(
      `diverged at step ${result.divergedAt!.step} (lr ${result.divergedAt!.lr}, loss ${result.divergedAt!.loss}); history and weights kept in ${out}\n`,
    );
  }
  if (!hooks.quiet) process.stdout.write(`${JSON.stringify(summaryLine)}\n`);
  return { out, config, result, backend: backend.backend, seconds: summaryLine.seconds, trainImages: data.train.n, testImages };
}

export async function loadWeightsFile(file: string): Promise<{ config: ExperimentConfig; model: ResNet; steps: number }> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch {
    throw new UsageError(`cannot read --weights ${file}: no such file`);
  }
  const name = basename(file);
  if (name.endsWith('.json')) {
    const mj = parseTfjsModelJson(name, new TextDecoder().decode(bytes));
    const binPath = join(dirname(file), mj.weightsManifest[0]?.paths[0] ?? TFJS_WEIGHTS_FILE);
    let bin: Uint8Array;
    try {
      bin = new Uint8Array(await readFile(binPath));
    } catch {
      throw new UsageError(`${name} refers to ${binPath}, which cannot be read: keep model.json and ${TFJS_WEIGHTS_FILE} together`);
    }
    const config = configOf(name, mj.resnetLab?.config);
    const spec = modelSpec(config);
    const bundle = decodeTfjs(spec, mj, bin);
    return { config, steps: bundle.steps, model: buildModel(spec, bundle.values) };
  }
  const config = configOf(name, safetensorsConfig(name, bytes));
  const spec = modelSpec(config);
  const bundle = decodeSafetensors(spec, name, bytes);
  return { config, steps: bundle.steps, model: buildModel(spec, bundle.values) };
}

function configOf(fileName: string, query: string | undefined): ExperimentConfig {
  if (!query)
    throw new WeightsError(`${fileName} does not say which network it belongs to (no resnet_lab_config): it was not saved by the lab`);
  try {
    return parseConfigQueryStrict(query);
  } catch (e) {
    throw new WeightsError(`${fileName} carries an unreadable configuration: ${(e as Error).message}`);
  }
}

export function buildModel(spec: ReturnType<typeof modelSpec>, values: Record<string, Float32Array>): ResNet {
  const tensors = valuesToTensors(spec, values);
  const model = ResNet.fromValues(spec, tensors);
  tf.dispose(Object.values(tensors));
  return model;
}

export async function evaluate(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      weights: { type: 'string' },
      data: { type: 'string' },
      limit: { type: 'string' },
      backend: { type: 'string' },
      threads: { type: 'string' },
      json: { type: 'boolean' },
      onnx: { type: 'string' },
    },
    strict: true,
  });
  if (!values.weights) throw new UsageError('eval needs --weights FILE (a .safetensors file or a model.json saved by the lab)');
  if (values.onnx !== undefined && !values.onnx.endsWith('.onnx')) {
    throw new UsageError(`--onnx names the model.onnx file to write, ending in .onnx; got "${values.onnx}"`);
  }
  const limit = positiveInt('limit', values.limit);
  const backend = await initBackend(backendArg(values.backend), threadsArg(values.threads));
  const { config, model, steps } = await loadWeightsFile(values.weights);
  if (values.onnx !== undefined) {
    // The weights as an ONNX graph, written before the evaluation so a conversion needs no data.
    const bundle = { config: formatConfigQuery(config), steps, values: await readModelValues(model) };
    await mkdir(dirname(resolve(values.onnx)), { recursive: true });
    await writeFile(values.onnx, encodeOnnx(modelSpec(config), bundle));
    process.stderr.write(`wrote ${values.onnx}\n`);
  }
  const data = await loadData(values.data);
  const experiment = resolveExperiment(config);
  const { evaluateModel } = await import('../train/evaluate.ts');
  const t0 = performance.now();
  const testError = await evaluateModel(model, data.test, computeStats(data.train, experiment.data), experiment.data, {
    limit,
    onProgress: (done, total) => process.stderr.write(`\revaluating ${done}/${total}`),
  });
  process.stderr.write('\n');
  const result = {
    testError,
    images: Math.min(limit ?? data.test.n, data.test.n),
    steps,
    backend: backend.backend,
    seconds: (performance.now() - t0) / 1000,
    config: formatConfigQuery(config),
  };
  model.dispose();
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(`test error ${(100 * testError).toFixed(2)}% on ${result.images} images (${describeExperiment(config)})\n`);
}
