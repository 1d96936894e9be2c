// The published test errors the lab compares against (docs/protocols.md §4), as typed data, and the
// function that picks the rows relevant to a configuration for the test-error chart.
//
// Sources: paper = He et al. 2015, Table 6; gcr = gcr/torch-residual-networks README tables (results of
// commit fec67c0); neon = NervanaSystems/ModelZoo cifar10_msra README. Each row also records the
// configuration that produced it, so the chart can say when the user's configuration is exactly that row
// (every share-URL key equal except the seed). Pure data and functions: no React, no DOM.

import {
  CONFIG_KEYS,
  formatConfigValue,
  protocolDefaults,
  type BlockVariant,
  type BnMomentum,
  type ExperimentConfig,
} from '../experiment/config.ts';
import type { ProtocolName } from '../experiment/protocols.ts';
import type { SolverName } from '../experiment/solvers.ts';

export type ReferenceSource = 'paper' | 'gcr' | 'neon';
export type ReferenceTable = 'depth' | 'block-variant' | 'solver' | 'bn-momentum';

export interface ReferenceRow {
  source: ReferenceSource;
  table: ReferenceTable;
  /** Short name of the row, e.g. "gcr, RMSprop lr 0.01, 20 layers". */
  name: string;
  depth: number;
  /** Test error in percent. */
  error: number;
  /** Extra facts about the number (how it was obtained). */
  note?: string;
  /** The configuration that produced the number: the protocol's defaults plus these overrides. */
  protocol: ProtocolName;
  overrides: Partial<ExperimentConfig>;
}

const SOURCE_LABEL: Record<ReferenceSource, string> = { paper: 'paper', gcr: 'gcr (Torch)', neon: 'neon' };

/** Warm-ups the deep runs used: paper's 0.01-until-80% for 110 (and, "trained as described above", 1202); gcr's fancy policy. */
function depthOverrides(source: ReferenceSource, depth: number): Partial<ExperimentConfig> {
  if (source === 'paper' && depth >= 110) return { depth, warmup: 'paper' };
  if (source === 'gcr' && depth === 110) return { depth, warmup: 'fancy' };
  return { depth };
}

function depthRow(source: ReferenceSource, depth: number, error: number, note?: string): ReferenceRow {
  return {
    source,
    table: 'depth',
    name: `${SOURCE_LABEL[source]}, ResNet-${depth}`,
    depth,
    error,
    note,
    protocol: source,
    overrides: depthOverrides(source, depth),
  };
}

/** Paper Table 6, gcr's and neon's READMEs: error by depth. */
export const DEPTH_ROWS: readonly ReferenceRow[] = [
  depthRow('paper', 20, 8.75),
  depthRow('gcr', 20, 8.29),
  depthRow('neon', 20, 8.29, '521 MiB GPU memory, 11 s per epoch on a 2015 Titan X'),
  depthRow('paper', 32, 7.51),
  depthRow('gcr', 32, 7.63),
  depthRow('neon', 32, 7.26, '636 MiB, 18 s per epoch'),
  depthRow('paper', 44, 7.17),
  depthRow('gcr', 44, 7.14),
  depthRow('paper', 56, 6.97),
  depthRow('gcr', 56, 6.94),
  depthRow('neon', 56, 6.31, '860 MiB, 30 s per epoch; 180 epochs took about 90 minutes'),
  depthRow('paper', 110, 6.43, 'best of 5 runs; mean 6.61 ± 0.16'),
  depthRow('gcr', 110, 6.73, "with the 'fancy' warm-up policy"),
  depthRow('neon', 110, 6.0, '1277 MiB, 60 s per epoch'),
  depthRow('paper', 1202, 7.93),
];

const BLOCK_LABEL: Record<BlockVariant, string> = {
  'relu-bnbefore': 'ReLU, BN before add',
  'norelu-bnbefore': 'no ReLU, BN before add',
  'relu-bnafter': 'ReLU, BN after add',
  'norelu-bnafter': 'no ReLU, BN after add',
};

function blockRows(block: BlockVariant, e20: number, e110: number): ReferenceRow[] {
  return [20, 110].map((depth, i) => ({
    source: 'gcr' as const,
    table: 'block-variant' as const,
    name: `gcr, ${BLOCK_LABEL[block]}, ${depth} layers`,
    depth,
    error: i === 0 ? e20 : e110,
    protocol: 'gcr' as const,
    overrides: { depth, block }, // 6.97 at 110 layers: not the fancy warm-up run (6.73)
  }));
}

/** gcr README: the four building-block variants, 20 and 110 layers. */
export const BLOCK_VARIANT_ROWS: readonly ReferenceRow[] = [
  ...blockRows('relu-bnbefore', 8.29, 6.97),
  ...blockRows('norelu-bnbefore', 8.62, 6.32),
  ...blockRows('relu-bnafter', 8.34, 13.56),
  ...blockRows('norelu-bnafter', 8.23, 12.3),
];

const SOLVER_LABEL: Record<SolverName, string> = {
  'sgd-nesterov': 'SGD+Nesterov',
  sgd: 'SGD',
  rmsprop: 'RMSprop',
  adagrad: 'Adagrad',
  adadelta: 'Adadelta',
  adam: 'Adam',
};

function solverRows(solver: SolverName, lr: number, e20: number | undefined, e110: number, note?: string): ReferenceRow[] {
  const what = solver === 'adadelta' ? 'Adadelta rho 0.3' : `${SOLVER_LABEL[solver]} lr ${lr}`;
  // gcr ran its adaptive solvers without weight decay (docs/protocols.md §3.1); RMSprop alpha 0.9, Adadelta rho 0.3.
  const extra: Partial<ExperimentConfig> =
    solver === 'sgd-nesterov' ? {} : solver === 'adadelta' ? { wd: 0, rho: 0.3, lr: 1 } : { wd: 0, lr, rho: 0.9 };
  const rows: ReferenceRow[] = [];
  for (const [depth, error] of [
    [20, e20],
    [110, e110],
  ] as const) {
    if (error === undefined) continue;
    rows.push({
      source: 'gcr',
      table: 'solver',
      name: `gcr, ${what}, ${depth} layers`,
      depth,
      error,
      note: depth === 20 ? note : undefined,
      protocol: 'gcr',
      overrides: { depth, solver, ...extra }, // as the block-variant table: no fancy warm-up
    });
  }
  return rows;
}

/** gcr README: solvers (no weight decay except SGD). */
export const SOLVER_ROWS: readonly ReferenceRow[] = [
  ...solverRows('sgd-nesterov', 0.1, 8.29, 6.97),
  ...solverRows('rmsprop', 1e-4, 16.77, 14.82),
  ...solverRows('rmsprop', 1e-3, 10.55, 8.21),
  ...solverRows('rmsprop', 1e-2, 9.45, 7.68),
  ...solverRows('rmsprop', 1e-1, 13.54, 10.98, 'not in its README table'),
  ...solverRows('adadelta', 1, 10.93, 8.88),
  ...solverRows('adagrad', 1e-3, 35.36, 30.22),
  ...solverRows('adagrad', 1e-2, 16.03, 13.21),
  ...solverRows('adagrad', 1e-1, 12.55, 11.45),
];

function bnRow(bnm: BnMomentum, error: number): ReferenceRow {
  return {
    source: 'gcr',
    table: 'bn-momentum',
    name: `gcr, BN momentum ${bnm === 'dynamic' ? 'dynamic 1/(1+k)' : bnm}, 20 layers`,
    depth: 20,
    error,
    protocol: 'gcr',
    overrides: { depth: 20, bnm },
  };
}

/** gcr README: BN momentum (Torch convention), 20 layers. */
export const BN_MOMENTUM_ROWS: readonly ReferenceRow[] = [bnRow(1, 8.63), bnRow(0.01, 8.35), bnRow(0.1, 8.29), bnRow('dynamic', 8.22)];

export const ALL_REFERENCE_ROWS: readonly ReferenceRow[] = [...DEPTH_ROWS, ...BLOCK_VARIANT_ROWS, ...SOLVER_ROWS, ...BN_MOMENTUM_ROWS];

/** The full configuration a row was produced with (seed excluded from comparisons). */
export function rowConfig(row: ReferenceRow): ExperimentConfig {
  const solver = row.overrides.solver;
  return { ...protocolDefaults(row.protocol, solver), ...row.overrides };
}

/** Every share-URL key except the seed equal. */
export function sameExperiment(a: ExperimentConfig, b: ExperimentConfig): boolean {
  return CONFIG_KEYS.every((k) => k === 'seed' || formatConfigValue(a, k) === formatConfigValue(b, k));
}

export function rowMatches(row: ReferenceRow, config: ExperimentConfig): boolean {
  return sameExperiment(rowConfig(row), config);
}

export interface ReferenceLine {
  row: ReferenceRow;
  /** The configuration is exactly this row's (apart from the seed). */
  matches: boolean;
  /** Text for the chart: "gcr (Torch), ResNet-20: 8.29%". */
  label: string;
}

/** Does the row vary exactly the thing this configuration varies (same depth, same table key)? */
function relevant(row: ReferenceRow, config: ExperimentConfig): boolean {
  if (row.depth !== config.depth) return false;
  switch (row.table) {
    case 'depth':
      return true;
    case 'block-variant':
      return row.overrides.block === config.block && config.block !== 'relu-bnbefore';
    case 'solver': {
      if (config.solver !== row.overrides.solver || config.solver === 'sgd-nesterov') return false;
      return config.solver === 'adadelta' || row.overrides.lr === config.lr;
    }
    case 'bn-momentum':
      return row.overrides.bnm === config.bnm && config.bnm !== 0.1;
  }
}

/**
 * The reference lines for the test-error chart: the three depth rows for the configuration's depth
 * (where published), plus the gcr block-variant, solver or BN-momentum row for the same depth when the
 * configuration uses that variant, solver (and rate) or BN momentum. A line `matches` when the
 * configuration is exactly the row's; matching lines come first.
 */
export function referencesFor(config: ExperimentConfig): ReferenceLine[] {
  const lines = ALL_REFERENCE_ROWS.filter((r) => relevant(r, config)).map((row) => ({
    row,
    matches: rowMatches(row, config),
    label: `${row.name}: ${row.error.toFixed(2)}%`,
  }));
  return lines.sort((a, b) => Number(b.matches) - Number(a.matches));
}

/** The first row the configuration is exactly (apart from the seed), if any. */
export function matchingRow(config: ExperimentConfig): ReferenceRow | undefined {
  return ALL_REFERENCE_ROWS.find((r) => rowMatches(r, config));
}
