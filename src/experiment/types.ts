// The experiment's vocabulary as types: what a user chooses (ExperimentConfig) and the names of its
// choices, and how a configuration problem is reported. No values but the name lists; the profiles are
// in protocols.ts, the URL codec and defaults in config.ts.

import type { ScheduleSpec, WarmupSpec } from './schedules.ts';
import type { SolverName } from './solvers.ts';

export type ProtocolName = 'paper' | 'gcr' | 'neon';
export const PROTOCOL_NAMES: readonly ProtocolName[] = ['paper', 'gcr', 'neon'];

export type BlockVariant = 'relu-bnbefore' | 'norelu-bnbefore' | 'relu-bnafter' | 'norelu-bnafter';
export type ShortcutType = 'A' | 'B' | 'neon';
/** BN momentum in the Torch convention: running = (1 - m) * running + m * batch. 'dynamic' is gcr's 1/(1+k). */
export type BnMomentum = number | 'dynamic';

export const BLOCK_VARIANTS: readonly BlockVariant[] = ['relu-bnbefore', 'norelu-bnbefore', 'relu-bnafter', 'norelu-bnafter'];
export const SHORTCUTS: readonly ShortcutType[] = ['A', 'B', 'neon'];
export const WARMUPS: readonly WarmupSpec[] = ['none', 'fancy', 'paper'];

/** Everything a user chooses. The protocol's hidden details (preprocessing, init, BN eps, ...) are in PROTOCOLS. */
export interface ExperimentConfig {
  protocol: ProtocolName;
  depth: number; // 6n + 2
  block: BlockVariant;
  shortcut: ShortcutType;
  solver: SolverName;
  lr: number; // base learning rate (Adadelta ignores it, as gcr ran it)
  rho: number; // RMSprop alpha / Adadelta rho
  wd: number; // weight decay added to the gradient (Torch/Caffe/neon convention)
  bnm: BnMomentum;
  epochs: number;
  batch: number;
  seed: number;
  schedule: ScheduleSpec;
  warmup: WarmupSpec;
}

export type ConfigKey = keyof ExperimentConfig;

/** One problem with one key of a configuration, phrased for a person. */
export interface ConfigIssue {
  key: string;
  value: string;
  /** What is wrong, e.g. 'depth="21" is invalid: depth must be 6n+2 ...'. */
  problem: string;
  /** The problem and what the page did about it ('; default used'). */
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map((i) => i.problem).join('; '));
    this.name = 'ConfigError';
  }
}
