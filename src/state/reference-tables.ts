// The published tables as the page lays them out (paper Table 6; gcr's depth, block-variant, solver and
// BN-momentum tables; neon's table with its GPU memory and seconds per epoch), what "Run this" sets
// for a row, and a run's result beside the row it reproduces: the final-epoch test error (the
// headline, as gcr and neon reported it) with its difference from the published number, and the best
// epoch, flagged as chosen on the test set. Pure data and functions over references.ts; no DOM.

import type { ExperimentConfig } from '../experiment/config.ts';
import { BLOCK_VARIANT_ROWS, BN_MOMENTUM_ROWS, DEPTH_ROWS, SOLVER_ROWS, rowConfig, rowMatches, type ReferenceRow } from './references.ts';

/** neon's README (NervanaSystems/ModelZoo cifar10_msra): GPU memory and time per epoch on a 2015 Titan X. */
export const NEON_COSTS: Readonly<Record<number, { gpuMiB: number; secondsPerEpoch: number }>> = {
  20: { gpuMiB: 521, secondsPerEpoch: 11 },
  32: { gpuMiB: 636, secondsPerEpoch: 18 },
  56: { gpuMiB: 860, secondsPerEpoch: 30 },
  110: { gpuMiB: 1277, secondsPerEpoch: 60 },
};

export interface ReferenceTable {
  id: string;
  title: string;
  /** Where the numbers come from and how they were measured. */
  caption: string;
  rows: readonly ReferenceRow[];
  /** neon's table adds GPU memory and seconds per epoch. */
  costs?: boolean;
}

export const REFERENCE_TABLES: readonly ReferenceTable[] = [
  {
    id: 'paper',
    title: 'He et al. 2015, Table 6',
    caption:
      'SGD, momentum 0.9, weight decay 1e-4, batch 128, lr 0.1 divided by 10 at 32k and 48k iterations, stopped at 64k; ' +
      '110 layers (and 1202) warm up at 0.01 until the training error is below 80%. ResNet-110: best of 5 runs.',
    rows: DEPTH_ROWS.filter((r) => r.source === 'paper'),
  },
  {
    id: 'gcr-depth',
    title: 'gcr (Torch): depth',
    caption:
      'gcr/torch-residual-networks: SGD + Nesterov, 200 epochs, lr 0.1, x0.1 at epochs 80 and 120; final-epoch error. ' +
      "110 layers use the 'fancy' warm-up (0.001 for 400 iterations).",
    rows: DEPTH_ROWS.filter((r) => r.source === 'gcr'),
  },
  {
    id: 'gcr-block',
    title: 'gcr: building-block variants',
    caption: 'Where the BN and the final ReLU of each block sit; gcr protocol, no warm-up at 110 layers.',
    rows: BLOCK_VARIANT_ROWS,
  },
  {
    id: 'gcr-solver',
    title: 'gcr: solvers',
    caption: 'Adaptive solvers ran without weight decay; RMSprop alpha 0.9, Adadelta rho 0.3 (no learning rate).',
    rows: SOLVER_ROWS,
  },
  {
    id: 'gcr-bnm',
    title: 'gcr: BN momentum',
    caption: "Torch convention (running = 0.9 old + 0.1 batch for 0.1); 'dynamic' is 1/(1+k), k reset every epoch. 20 layers.",
    rows: BN_MOMENTUM_ROWS,
  },
  {
    id: 'neon',
    title: 'neon (Nervana)',
    caption:
      'NervanaSystems ModelZoo cifar10_msra: classic momentum, 180 epochs, x0.1 at 90 and 135; GPU memory and time per epoch on a ' +
      '2015 Titan X (ResNet-56: 180 epochs in about 90 minutes).',
    rows: DEPTH_ROWS.filter((r) => r.source === 'neon'),
    costs: true,
  },
];

/**
 * The configuration "Run this" selects for a row: exactly the row's (protocol, depth, variant,
 * solver, rates, BN momentum, schedule, warm-up), keeping the seed the user chose (the published
 * numbers do not depend on one seed; repeats vary it).
 */
export function runThisConfig(row: ReferenceRow, current: Pick<ExperimentConfig, 'seed'>): ExperimentConfig {
  return { ...rowConfig(row), seed: current.seed };
}

/** A row's configuration in a few words for the table ("SGD+Nesterov 0.1, warm-up fancy, 200 epochs"). */
export function rowSettings(row: ReferenceRow): string {
  const c = rowConfig(row);
  const solver =
    c.solver === 'adadelta' ? `Adadelta rho ${c.rho}` : `${c.solver} ${c.lr}${c.solver === 'rmsprop' ? ` alpha ${c.rho}` : ''}`;
  const parts = [solver, c.wd > 0 ? `wd ${c.wd}` : 'no wd', `BN ${c.bnm}`];
  if (c.warmup !== 'none') parts.push(`warm-up ${c.warmup}`);
  parts.push(`${c.epochs} epochs`);
  return parts.join(', ');
}

// ---- a run's result beside a row ----------------------------------------------------------------

export interface TestPointLike {
  epoch: number;
  step: number;
  /** Fraction. */
  testError: number;
  evaluated: number;
}

/** What a run (the current one, or an imported bundle) shows beside the published rows. */
export interface RunResult {
  /** "your run", or the imported file's name. */
  label: string;
  /** The run's configuration. */
  config: ExperimentConfig;
  /** Evaluations after training started (epoch 0, before training, is left out). */
  tests: readonly TestPointLike[];
  /** The run finished every planned epoch (not stopped, cut by max steps, or diverged). */
  complete: boolean;
}

export interface ResultBesideRow {
  label: string;
  /** The last evaluation: the headline. */
  final: TestPointLike;
  /** final - published, in percentage points. */
  diffPoints: number;
  /** The lowest error of the run: chosen by looking at the test set, so not a fair result. */
  best: TestPointLike & { chosenOnTestSet: true };
  complete: boolean;
  /** Epochs the configuration plans (the row's). */
  plannedEpochs: number;
  /** Test images of the whole test set (10,000); the final evaluation used fewer when lower. */
  fullTestSet: number;
}

export const FULL_TEST_SET = 10_000;

/**
 * The last evaluation and the lowest one (the earliest on ties), among those after training started:
 * the evaluation before training (step 0) is never a run's result.
 */
export function finalAndBest(
  tests: readonly TestPointLike[],
): { final: TestPointLike; best: TestPointLike & { chosenOnTestSet: true } } | undefined {
  const trained = tests.filter((t) => t.step > 0);
  if (trained.length === 0) return undefined;
  let best = trained[0]!;
  for (const t of trained) if (t.testError < best.testError) best = t;
  return { final: trained[trained.length - 1]!, best: { ...best, chosenOnTestSet: true } };
}

/** The result of `run` beside `row`, when the run's configuration is exactly the row's (seed aside). */
export function resultBeside(row: ReferenceRow, run: RunResult): ResultBesideRow | undefined {
  const { config } = run;
  if (!rowMatches(row, config)) return undefined;
  const fb = finalAndBest(run.tests);
  if (!fb) return undefined;
  const { final, best } = fb;
  return {
    label: run.label,
    final,
    diffPoints: 100 * final.testError - row.error,
    best,
    complete: run.complete,
    plannedEpochs: config.epochs,
    fullTestSet: FULL_TEST_SET,
  };
}

/** "+0.42" / "−0.15" / "±0.00" percentage points. */
export function formatDiff(points: number): string {
  const r = Math.round(points * 100) / 100;
  if (r === 0) return '±0.00';
  return `${r > 0 ? '+' : '−'}${Math.abs(r).toFixed(2)}`;
}
