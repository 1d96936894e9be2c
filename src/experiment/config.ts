// The experiment configuration: how a protocol profile fills it in, and its URL form (its types are in
// types.ts, re-exported here). One table (FIELDS) both parses and serialises every share-URL key, as
// tensorflow/playground's state.ts does. Pure functions of strings and plain objects, shared by the
// CLI, the worker, the page and the tests. Values a user did not give come from the protocol profile
// (protocols.ts); a value given explicitly always wins over the profile.

import { PROTOCOLS, solverDefaultsFor } from './protocols.ts';
import { formatScheduleSpec, parseScheduleSpec } from './schedules.ts';
import { SOLVER_NAMES, type SolverName } from './solvers.ts';
import { CLAIM_KEYS } from './claim.ts';
import {
  BLOCK_VARIANTS,
  ConfigError,
  PROTOCOL_NAMES,
  SHORTCUTS,
  WARMUPS,
  type ConfigIssue,
  type ConfigKey,
  type ExperimentConfig,
  type ProtocolName,
} from './types.ts';

export * from './types.ts';
export { SOLVER_NAMES };

export function depthToN(depth: number): number {
  return (depth - 2) / 6;
}

export function isValidDepth(depth: number): boolean {
  return Number.isInteger(depth) && depth >= 8 && (depth - 2) % 6 === 0;
}

/** The profile's full configuration for a protocol (and, for solver-dependent values, a solver). */
export function protocolDefaults(protocol: ProtocolName, solver?: SolverName): ExperimentConfig {
  const p = PROTOCOLS[protocol];
  const s = solver ?? p.choices.solver;
  return { ...p.choices, ...solverDefaultsFor(protocol, s), solver: s, protocol, seed: 1 };
}

export const DEFAULT_PROTOCOL: ProtocolName = 'gcr';
export const DEFAULT_CONFIG: ExperimentConfig = protocolDefaults(DEFAULT_PROTOCOL);

// ---- the one table: URL key -> parse / format ---------------------------------------------------

interface Field<K extends ConfigKey> {
  key: K;
  parse(raw: string): ExperimentConfig[K]; // throws Error with a person-readable message
  format(v: ExperimentConfig[K]): string;
}

const MAX_URL_VALUE = 200;

function num(min: number, max: number, what: string, integer = false) {
  return (raw: string): number => {
    const t = raw.trim();
    // Number('') is 0 and Number('0x10') is 16: accept only plain decimal notation.
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) throw new Error(`${what} must be a number`);
    const v = Number(t);
    if (!Number.isFinite(v)) throw new Error(`${what} must be a finite number`);
    if (integer && !Number.isInteger(v)) throw new Error(`${what} must be a whole number`);
    if (v < min || v > max) throw new Error(`${what} must be between ${min} and ${max}`);
    return v === 0 ? 0 : v; // "-0" is 0: the URL writes it as "0" (found by src/state/url-fuzz.test.ts)
  };
}

function oneOf<T extends string>(values: readonly T[], what: string) {
  return (raw: string): T => {
    const v = values.find((x) => x === raw.trim());
    if (v === undefined) throw new Error(`${what} must be one of ${values.join(', ')}`);
    return v;
  };
}

const fmtNum = (v: number) => String(v);

const FIELDS: { [K in ConfigKey]: Field<K> } = {
  protocol: { key: 'protocol', parse: oneOf(PROTOCOL_NAMES, 'protocol'), format: String },
  depth: {
    key: 'depth',
    parse: (raw) => {
      const d = num(8, 10_000, 'depth', true)(raw);
      if (!isValidDepth(d)) throw new Error(`depth must be 6n+2 (20, 32, 44, 56, 110, ...); ${d} is not`);
      return d;
    },
    format: fmtNum,
  },
  block: { key: 'block', parse: oneOf(BLOCK_VARIANTS, 'block'), format: String },
  shortcut: { key: 'shortcut', parse: oneOf(SHORTCUTS, 'shortcut'), format: String },
  solver: { key: 'solver', parse: oneOf(SOLVER_NAMES, 'solver'), format: String },
  lr: { key: 'lr', parse: num(0, 10, 'lr'), format: fmtNum },
  rho: {
    key: 'rho',
    parse: (raw) => {
      const v = num(0, 1, 'rho')(raw);
      if (v >= 1) throw new Error('rho must be below 1');
      return v;
    },
    format: fmtNum,
  },
  wd: { key: 'wd', parse: num(0, 1, 'wd'), format: fmtNum },
  bnm: {
    key: 'bnm',
    parse: (raw) => (raw.trim() === 'dynamic' ? 'dynamic' : num(0, 1, 'bnm (BN momentum, Torch convention, or "dynamic")')(raw)),
    format: (v) => String(v),
  },
  epochs: { key: 'epochs', parse: num(1, 10_000, 'epochs', true), format: fmtNum },
  batch: { key: 'batch', parse: num(2, 4096, 'batch', true), format: fmtNum },
  seed: { key: 'seed', parse: num(0, 2 ** 32 - 1, 'seed', true), format: fmtNum },
  schedule: { key: 'schedule', parse: parseScheduleSpec, format: formatScheduleSpec },
  warmup: { key: 'warmup', parse: oneOf(WARMUPS, 'warmup'), format: String },
};

/** URL keys in the order they are written. */
export const CONFIG_KEYS: readonly ConfigKey[] = [
  'protocol',
  'depth',
  'block',
  'shortcut',
  'solver',
  'lr',
  'rho',
  'wd',
  'bnm',
  'epochs',
  'batch',
  'seed',
  'schedule',
  'warmup',
];

export interface ParsedConfig {
  config: ExperimentConfig;
  /** Keys that were present and valid in the input (the user's explicit choices). */
  given: Set<ConfigKey>;
  /** Unknown keys and invalid values; each was replaced by the profile's value. */
  issues: ConfigIssue[];
}

/** Shorten what a user typed before it goes into a message; never interpreted, only quoted. */
function quote(s: string): string {
  const t = s.length > 40 ? `${s.slice(0, 40)}…` : s;
  return JSON.stringify(t);
}

function issue(key: string, value: string, problem: string, action: string): ConfigIssue {
  return { key, value, problem, message: `${problem}; ${action}` };
}

/**
 * Parse a share-URL query string ("depth=56&solver=rmsprop&..." with or without a leading "?").
 * Never throws: unknown keys and invalid values are reported in `issues` and replaced by the profile's
 * defaults (first the protocol, then the solver's defaults under that protocol).
 */
export function parseConfigQuery(query: string): ParsedConfig {
  const issues: ConfigIssue[] = [];
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
  } catch {
    params = new URLSearchParams();
    issues.push(issue('', query, 'the query string could not be read', 'defaults used'));
  }
  const raw = new Map<ConfigKey, string>();
  for (const [k, v] of params) {
    if ((CLAIM_KEYS as readonly string[]).includes(k)) continue; // a finished run's summary: parsed by claim.ts
    if (!(CONFIG_KEYS as readonly string[]).includes(k)) {
      issues.push(issue(k, v, `unknown key ${quote(k)} (known: ${CONFIG_KEYS.join(', ')})`, 'ignored'));
      continue;
    }
    if (raw.has(k as ConfigKey)) {
      issues.push(issue(k, v, `key ${k} given twice`, 'the first value is used'));
      continue;
    }
    raw.set(k as ConfigKey, v);
  }
  const values: Partial<Record<ConfigKey, unknown>> = {};
  const given = new Set<ConfigKey>();
  for (const [k, v] of raw) {
    if (v.length > MAX_URL_VALUE) {
      issues.push(issue(k, v.slice(0, 40), `${k} is too long (${v.length} characters)`, 'default used'));
      continue;
    }
    try {
      values[k] = (FIELDS[k] as Field<ConfigKey>).parse(v);
      given.add(k);
    } catch (e) {
      issues.push(issue(k, v, `${k}=${quote(v)} is invalid: ${(e as Error).message}`, 'default used'));
    }
  }
  const protocol = (values.protocol as ProtocolName | undefined) ?? DEFAULT_PROTOCOL;
  const solver = (values.solver as SolverName | undefined) ?? PROTOCOLS[protocol].choices.solver;
  const config = { ...protocolDefaults(protocol, solver), ...values } as ExperimentConfig;
  return { config, given, issues };
}

/** Like parseConfigQuery, but any issue is an error (the CLI's strict mode). */
export function parseConfigQueryStrict(query: string): ExperimentConfig {
  const { config, issues } = parseConfigQuery(query);
  if (issues.length > 0) throw new ConfigError(issues);
  return config;
}

/** The full query string of a configuration, every key written, in CONFIG_KEYS order. */
export function formatConfigQuery(config: ExperimentConfig): string {
  const params = new URLSearchParams();
  for (const k of CONFIG_KEYS) params.set(k, (FIELDS[k] as Field<ConfigKey>).format(config[k]));
  return params.toString();
}

/**
 * The identity string of a configuration (its canonical query): two configurations are equal exactly
 * when their keys are. For maps and equality inside the program, and for stored records and checkpoints.
 */
export function configKey(config: ExperimentConfig): string {
  return formatConfigQuery(config);
}

/**
 * A configuration built elsewhere (sent by the page, made in code), checked by the URL's rules and
 * returned as a fresh canonical copy. Throws ConfigError, as parseConfigQueryStrict does.
 */
export function checkedConfig(config: ExperimentConfig): ExperimentConfig {
  return parseConfigQueryStrict(formatConfigQuery(config));
}

/** Whether two configurations are the same experiment (every key, seed included). */
export function sameConfig(a: ExperimentConfig, b: ExperimentConfig): boolean {
  return configKey(a) === configKey(b);
}

/** One key's value as the URL writes it ("0.1", "step:32000,48000", "dynamic"). */
export function formatConfigValue(config: ExperimentConfig, key: ConfigKey): string {
  return (FIELDS[key] as Field<ConfigKey>).format(config[key]);
}

/**
 * The configuration of a query string read from an edge (a stored record, a bundle, a saved queue):
 * parsed leniently, as the page reads it, with whatever is invalid replaced by the profile's values.
 */
export function configFromQuery(query: string): ExperimentConfig {
  return parseConfigQuery(query).config;
}

/** Check a configuration built in code (not parsed): same rules as the URL. */
export function validateConfig(config: ExperimentConfig): ConfigIssue[] {
  const { issues } = parseConfigQuery(formatConfigQuery(config));
  return issues;
}

/**
 * Switch protocol: the profile's values replace everything except what the user changed
 * (`changed`), which keeps its value. Returns the new configuration.
 */
export function applyProtocol(config: ExperimentConfig, protocol: ProtocolName, changed: ReadonlySet<ConfigKey>): ExperimentConfig {
  const solver = changed.has('solver') ? config.solver : PROTOCOLS[protocol].choices.solver;
  const next: ExperimentConfig = { ...protocolDefaults(protocol, solver), seed: config.seed };
  for (const k of changed) if (k !== 'protocol') (next as unknown as Record<string, unknown>)[k] = config[k];
  return next;
}

/** The keys whose values differ from the protocol's defaults (what the page marks as changed). */
export function changedFromProtocol(config: ExperimentConfig): Set<ConfigKey> {
  const base = protocolDefaults(config.protocol, config.solver);
  const out = new Set<ConfigKey>();
  for (const k of CONFIG_KEYS) {
    if (k === 'seed' || k === 'protocol') continue;
    if ((FIELDS[k] as Field<ConfigKey>).format(config[k]) !== (FIELDS[k] as Field<ConfigKey>).format(base[k])) out.add(k);
  }
  if (config.solver !== PROTOCOLS[config.protocol].choices.solver) out.add('solver');
  return out;
}
