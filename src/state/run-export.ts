// The page's current run as files: a run bundle (a .zip: configuration, metadata, the full loss and
// test-error series, the weights; bundle-zip.ts) and its curves as CSV (one file per series) and
// JSON. Built from the run's record as the page received it (every step kept) plus what the page
// noted when it started (start time, training images, run options). Pure: plain data in, bytes and
// strings out.

import type { RunBundle, RunStatus } from './bundle.ts';
import { encodeRunZip, runZipFileName } from './bundle-zip.ts';
import { SeriesBuilder } from './run-series.ts';
import { configKey, type ExperimentConfig } from '../experiment/config.ts';
import { curvesJson, stepsCsv, testsCsv } from './curves.ts';

/** The parts of the page's run record this needs (src/state/store.ts RunRecord). */
export interface RecordLike {
  config: ExperimentConfig;
  backend: string;
  steps: readonly { step: number; epoch: number; lr: number; loss: number; trainError: number; ms: number }[];
  epochs: readonly { epoch: number; step: number; testError: number; evaluated: number }[];
}

/** What the page noted about the run besides its record. */
export interface RunNotes {
  /** Date.now() at the start and at the end (undefined while running or paused). */
  startedAt: number;
  endedAt?: number;
  status: RunStatus;
  trainImages: number;
  maxSteps?: number;
  evalLimit?: number;
}

/** "resnet20-gcr-seed1-20261120-0825" (UTC start time): the run's name and its files' base name. */
export function runName(c: ExperimentConfig, startedAt: number): string {
  const t = new Date(startedAt).toISOString();
  return `resnet${c.depth}-${c.protocol}-seed${c.seed}-${t.slice(0, 10).replace(/-/g, '')}-${t.slice(11, 16).replace(':', '')}`;
}

/** The run as a bundle; `weights` are the model's .safetensors bytes (its config must be the run's), or null. */
export function currentRunBundle(record: RecordLike, notes: RunNotes, weights: Uint8Array | null, producer = 'resnet-lab web'): RunBundle {
  const b = new SeriesBuilder();
  for (const s of record.steps) b.pushStep(s);
  for (const e of record.epochs) b.pushTest(e);
  const { steps, tests } = b.build();
  const last = record.steps[record.steps.length - 1];
  const batch = record.config.batch;
  const trainSeconds = last && last.ms > 0 ? last.ms / 1000 : null;
  const diverged = notes.status === 'diverged' ? [...record.steps].reverse().find((s) => !Number.isFinite(s.loss)) : undefined;
  return {
    config: configKey(record.config), // a bundle's config is its query string (bundles are an edge)
    meta: {
      name: runName(record.config, notes.startedAt),
      seed: record.config.seed,
      backend: record.backend,
      startedAt: new Date(notes.startedAt).toISOString(),
      endedAt: notes.endedAt === undefined ? null : new Date(notes.endedAt).toISOString(),
      status: notes.status,
      trainImages: notes.trainImages,
      maxSteps: notes.maxSteps ?? null,
      evalLimit: notes.evalLimit ?? null,
      imagesPerSecond: last && trainSeconds ? (last.step * batch) / trainSeconds : null,
      trainSeconds,
      divergedAt: diverged ? { step: diverged.step, lr: diverged.lr, loss: diverged.loss } : null,
      producer,
    },
    steps,
    tests,
    weights,
  };
}

export interface ExportFile {
  name: string;
  /** Text files are strings, binary ones bytes. */
  content: string | Uint8Array;
  type: string;
  /** What the file is, for the page. */
  what: string;
}

/** The four files of an export: the bundle (one file with everything), the curves as CSV and JSON. */
export function exportFiles(bundle: RunBundle): ExportFile[] {
  const base = runZipFileName(bundle.meta.name).replace(/\.zip$/, '');
  const run = [{ name: bundle.meta.name, bundle }];
  return [
    {
      name: `${base}.zip`,
      content: encodeRunZip(bundle),
      type: 'application/zip',
      what: bundle.weights
        ? 'run bundle (zip): configuration and result (JSON), curves (CSV), weights (safetensors, TF.js, ONNX)'
        : 'run bundle (zip): configuration and result (JSON), curves (CSV); no weights',
    },
    { name: `${base}-steps.csv`, content: stepsCsv(run), type: 'text/csv', what: 'loss per iteration (CSV)' },
    { name: `${base}-tests.csv`, content: testsCsv(run), type: 'text/csv', what: 'test error per epoch (CSV)' },
    { name: `${base}-curves.json`, content: curvesJson(bundle), type: 'application/json', what: 'both curves (JSON)' },
  ];
}

/** Bytes of a file's content (for sizes). */
export function contentBytes(content: string | Uint8Array): number {
  return typeof content === 'string' ? new TextEncoder().encode(content).byteLength : content.byteLength;
}
