// Between the run store and run bundles (bundle.ts, the .rlab file): a stored run as a RunBundle to
// encode and download, and a decoded bundle as an ImportedRun for RunStore.importRun. Pure mappings of
// plain data, not the codec; types only from bundle.ts and the store, so it pulls in nothing else.
//
//   export: encodeRunBundle(runToBundle(await store.getRun(id), safetensorsBytesOrNull))
//   import: await store.importRun(bundleToImport(decodeRunBundle(bytes, fileName)))

import type { RunBundle } from './bundle.ts';
import type { StepSeries as BundleSteps } from './run-series.ts';
import type { ImportedRun, RunDetail } from '../storage/run-store.ts';

/** CIFAR-10's sizes: what a run that did not record them used. */
const CIFAR_TRAIN_IMAGES = 50_000;
const CIFAR_TEST_IMAGES = 10_000;

const iso = (ms: number) => new Date(ms).toISOString();
const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

/**
 * A stored run as a bundle. `weights`: the final weights as .safetensors bytes (RunStore keeps them
 * in that form when the worker saves them so), or null. Columns the run did not record: the training
 * time per step is left out; test images per evaluation default to the run's evalLimit, else 10,000.
 */
export function runToBundle(detail: RunDetail, weights: Uint8Array | null, producer = 'resnet-lab web'): RunBundle {
  const { meta, steps, epochs } = detail;
  const bundleSteps: BundleSteps = { step: steps.step, epoch: steps.epoch, lr: steps.lr, loss: steps.loss, trainError: steps.trainError };
  if (steps.ms.length > 0 && steps.ms.every((v) => Number.isFinite(v))) bundleSteps.ms = steps.ms;
  const evaluatedDefault = meta.evalLimit ?? CIFAR_TEST_IMAGES;
  return {
    config: meta.config,
    meta: {
      name: meta.name,
      seed: meta.seed,
      backend: meta.backend,
      startedAt: iso(meta.startedAt),
      endedAt: meta.endedAt === undefined ? null : iso(meta.endedAt),
      status: meta.status,
      trainImages: meta.trainImages ?? CIFAR_TRAIN_IMAGES,
      maxSteps: orNull(meta.maxSteps),
      evalLimit: orNull(meta.evalLimit),
      imagesPerSecond: orNull(meta.imagesPerSec),
      trainSeconds: meta.elapsedMs === undefined ? null : meta.elapsedMs / 1000,
      divergedAt: meta.divergedAt ? { ...meta.divergedAt } : null,
      producer: meta.producer ?? producer,
    },
    steps: bundleSteps,
    tests: {
      step: Uint32Array.from(epochs, (e) => e.step),
      epoch: Float64Array.from(epochs, (e) => e.epoch),
      testError: Float64Array.from(epochs, (e) => e.testError),
      evaluated: Uint32Array.from(epochs, (e) => e.evaluated ?? evaluatedDefault),
    },
    weights,
  };
}

/** A decoded bundle as a run to store (a new id; 'running'/'paused' become 'stopped' in importRun). */
export function bundleToImport(bundle: RunBundle): ImportedRun {
  const { meta, steps, tests } = bundle;
  const ms = (s: string | null) => (s === null ? undefined : Date.parse(s));
  return {
    run: {
      name: meta.name,
      config: bundle.config,
      seed: meta.seed,
      backend: meta.backend,
      startedAt: ms(meta.startedAt),
      endedAt: ms(meta.endedAt),
      status: meta.status,
      trainImages: meta.trainImages,
      maxSteps: meta.maxSteps ?? undefined,
      evalLimit: meta.evalLimit ?? undefined,
      imagesPerSec: meta.imagesPerSecond ?? undefined,
      elapsedMs: meta.trainSeconds === null ? undefined : meta.trainSeconds * 1000,
      divergedAt: meta.divergedAt ?? undefined,
      producer: meta.producer,
    },
    steps: { step: steps.step, loss: steps.loss, lr: steps.lr, epoch: steps.epoch, trainError: steps.trainError, ms: steps.ms },
    epochs: Array.from(tests.step, (step, i) => ({
      step,
      epoch: tests.epoch[i],
      testError: tests.testError[i],
      evaluated: tests.evaluated[i],
    })),
    weights: bundle.weights ? { format: 'safetensors', bytes: bundle.weights } : undefined,
  };
}
