// Comparing runs: mean +- std over repeated seeds of one configuration, and which configuration keys
// differ between the runs of a summary table. Pure functions over share-URL queries and numbers.

import { CONFIG_KEYS, formatConfigQuery, parseConfigQuery, type ConfigKey } from './config.ts';

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
export function configWithoutSeed(query: string): string {
  const params = new URLSearchParams(formatConfigQuery(parseConfigQuery(query).config));
  params.delete('seed');
  return params.toString();
}

export interface RepeatGroup<T> {
  /** configWithoutSeed of the group's runs. */
  key: string;
  runs: T[];
  seeds: number[];
  final: MeanStd | null;
  best: MeanStd | null;
}

/** Runs grouped by configuration apart from the seed, in first-seen order, with mean +- std of their errors. */
export function groupRepeats<T>(runs: readonly T[], get: (run: T) => { config: string; final?: number | null; best?: number | null }): RepeatGroup<T>[] {
  const groups = new Map<string, T[]>();
  for (const r of runs) {
    const key = configWithoutSeed(get(r).config);
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  return [...groups].map(([key, rs]) => ({
    key,
    runs: rs,
    seeds: rs.map((r) => parseConfigQuery(get(r).config).config.seed),
    final: meanStd(rs.map((r) => get(r).final)),
    best: meanStd(rs.map((r) => get(r).best)),
  }));
}

/** Configuration keys whose values are not the same in all the given runs (for highlighting). */
export function configDifferences(queries: readonly string[]): ConfigKey[] {
  if (queries.length < 2) return [];
  const params = queries.map((q) => new URLSearchParams(formatConfigQuery(parseConfigQuery(q).config)));
  return CONFIG_KEYS.filter((k) => params.some((p) => p.get(k) !== params[0]!.get(k)));
}
