// Comparing runs: mean +- std over repeated seeds of one configuration, which configuration keys
// differ between the runs of a summary table, and the rows of the Compare view's summary table (final
// and best test error after training started, differences to a pinned baseline). Pure functions over
// configurations and numbers.

import { CONFIG_KEYS, configKey, formatConfigValue, type ConfigKey, type ExperimentConfig } from '../experiment/config.ts';

export interface MeanStd {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1 denominator); NaN for a single run. */
  std: number;
  min: number;
  max: number;
}

/** Mean and sample std of the finite values (NaN/missing runs are left out and not counted). */
export function meanStd(values: readonly (number | null | undefined)[]): MeanStd | null {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (v.length === 0) return null;
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const ss = v.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { n: v.length, mean, std: v.length > 1 ? Math.sqrt(ss / (v.length - 1)) : NaN, min: Math.min(...v), max: Math.max(...v) };
}

/** "6.61 ± 0.16 (n = 5)" from fractions, in percent as the tables write them. */
export function formatMeanStd(s: MeanStd, digits = 2): string {
  const pct = (x: number) => (100 * x).toFixed(digits);
  return s.n > 1 ? `${pct(s.mean)} ± ${pct(s.std)} (n = ${s.n})` : `${pct(s.mean)} (n = 1)`;
}

/** The canonical query of a configuration with its seed left out: equal for repeats of one experiment. */
export function configWithoutSeed(config: ExperimentConfig): string {
  const params = new URLSearchParams(configKey(config));
  params.delete('seed');
  return params.toString();
}

export interface RepeatGroup<T> {
  /** configWithoutSeed of the group's runs (and '#' + their variant, when given). */
  key: string;
  runs: T[];
  seeds: number[];
  final: MeanStd | null;
  best: MeanStd | null;
}

/**
 * Runs grouped by configuration apart from the seed, in first-seen order, with mean +- std of their
 * errors. `variant` (optional) splits groups further by what the configuration does not hold (the step
 * limit or test images of a run: a 15-step run is no repeat of a full one).
 */
export function groupRepeats<T>(
  runs: readonly T[],
  get: (run: T) => { config: ExperimentConfig; final?: number | null; best?: number | null; variant?: string },
): RepeatGroup<T>[] {
  const groups = new Map<string, T[]>();
  for (const r of runs) {
    const { config, variant } = get(r);
    const key = variant ? `${configWithoutSeed(config)}#${variant}` : configWithoutSeed(config);
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  return [...groups].map(([key, rs]) => ({
    key,
    runs: rs,
    seeds: rs.map((r) => get(r).config.seed),
    final: meanStd(rs.map((r) => get(r).final)),
    best: meanStd(rs.map((r) => get(r).best)),
  }));
}

/** Configuration keys whose values are not the same in all the given runs (for highlighting). */
export function configDifferences(configs: readonly ExperimentConfig[]): ConfigKey[] {
  if (configs.length < 2) return [];
  return CONFIG_KEYS.filter((k) => configs.some((c) => formatConfigValue(c, k) !== formatConfigValue(configs[0]!, k)));
}

// ---- the Compare view's summary table --------------------------------------------------------------

/** What the summary table needs of a run: its stored metadata and, once loaded, its evaluations. */
export interface CompareRunInfo {
  id: string;
  name: string;
  config: ExperimentConfig;
  backend: string;
  status: string;
  lastStep: number;
  imagesPerSec?: number;
  elapsedMs?: number;
  /** Used when the evaluations are not loaded yet. */
  finalTestError?: number;
  tests?: readonly { step: number; epoch: number; testError: number; evaluated?: number }[];
}

export interface TestResult {
  testError: number;
  epoch?: number;
  /** Test images of that evaluation, when known. */
  evaluated?: number;
}

export interface SummaryRow {
  id: string;
  name: string;
  baseline: boolean;
  seed: number;
  status: string;
  steps: number;
  /** Each differing configuration key's value in this run, as its share link writes it. */
  values: Partial<Record<ConfigKey, string>>;
  /** The differing keys whose value is not the baseline's (highlighted). */
  differsFromBaseline: ConfigKey[];
  /** Test error at the last evaluation after training started: the number papers report. */
  final?: TestResult;
  /** final minus the baseline's final (fraction); undefined for the baseline itself or without both. */
  finalDiff?: number;
  /** The lowest test error after training started: chosen on the test set, so optimistic. */
  best?: TestResult;
  trainSeconds?: number;
  backend: string;
  imagesPerSec?: number;
}

export interface CompareSummary {
  /** Configuration keys whose values differ between the selected runs, in URL order. */
  differing: ConfigKey[];
  /** The keys all runs share, with their value. */
  common: [ConfigKey, string][];
  rows: SummaryRow[];
  baselineId?: string;
}

/** Final and best test error after training started (the evaluation at step 0 is not a result). */
export function finalAndBestOf(run: CompareRunInfo): { final?: TestResult; best?: TestResult } {
  const trained = (run.tests ?? []).filter((t) => t.step > 0 && Number.isFinite(t.testError));
  if (trained.length === 0) return run.finalTestError === undefined ? {} : { final: { testError: run.finalTestError } };
  let best = trained[0]!;
  for (const t of trained) if (t.testError < best.testError) best = t;
  const last = trained[trained.length - 1]!;
  const r = (t: typeof best): TestResult => ({ testError: t.testError, epoch: t.epoch, evaluated: t.evaluated });
  return { final: r(last), best: r(best) };
}

/**
 * The rows of the summary table, in the order given; the baseline is `baselineId` when it is one of
 * the runs, else the first. Differences are between all the runs; each cell that is not the
 * baseline's value is flagged.
 */
export function compareSummary(runs: readonly CompareRunInfo[], baselineId?: string): CompareSummary {
  const baseline = runs.find((r) => r.id === baselineId) ?? runs[0];
  const params = runs.map((r) => new URLSearchParams(configKey(r.config)));
  const differing = configDifferences(runs.map((r) => r.config));
  const common: [ConfigKey, string][] =
    params.length === 0 ? [] : CONFIG_KEYS.filter((k) => !differing.includes(k)).map((k) => [k, params[0]!.get(k) ?? '']);
  const baseIndex = baseline ? runs.indexOf(baseline) : -1;
  const baseFinal = baseline ? finalAndBestOf(baseline).final : undefined;
  const rows = runs.map((r, i): SummaryRow => {
    const p = params[i]!;
    const values: Partial<Record<ConfigKey, string>> = {};
    for (const k of differing) values[k] = p.get(k) ?? '';
    const { final, best } = finalAndBestOf(r);
    const isBase = i === baseIndex;
    return {
      id: r.id,
      name: r.name,
      baseline: isBase,
      seed: r.config.seed,
      status: r.status,
      steps: r.lastStep,
      values,
      differsFromBaseline: isBase ? [] : differing.filter((k) => p.get(k) !== params[baseIndex]?.get(k)),
      final,
      finalDiff: !isBase && final && baseFinal ? final.testError - baseFinal.testError : undefined,
      best,
      trainSeconds: r.elapsedMs === undefined ? undefined : r.elapsedMs / 1000,
      backend: r.backend,
      imagesPerSec: r.imagesPerSec,
    };
  });
  return { differing, common, rows, baselineId: baseline?.id };
}

/** A difference in test error as percentage points with its sign: "+0.42", "−0.30", "±0.00". */
export function formatPointsDiff(diff: number, digits = 2): string {
  const v = (100 * diff).toFixed(digits);
  if (Number(v) === 0) return `±${(0).toFixed(digits)}`;
  return diff > 0 ? `+${v}` : `−${v.slice(1)}`;
}
