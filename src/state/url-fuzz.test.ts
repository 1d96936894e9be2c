// Fuzzing the share URL: thousands of seeded random queries built from every configuration and claim
// key with random, truncated, oversized, mixed-type and script-injection values (plus unknown and
// prototype-polluting keys, repeated keys, broken percent-encoding and truncated whole queries).
// Whatever comes in, parseConfigQuery and parseClaim never throw, the configuration is always valid
// and round-trips through its own URL, every bad key or value is named in an issue of bounded length,
// and nothing from the input reaches the configuration unvalidated.

import { describe, expect, it } from 'vitest';
import { createRng, type Rng } from '../util/rng.ts';
import { CLAIM_KEYS, parseClaim } from '../experiment/claim.ts';
import { CONFIG_KEYS, DEFAULT_CONFIG, formatConfigQuery, parseConfigQuery, validateConfig } from '../experiment/config.ts';

const KEYS: readonly string[] = [...CONFIG_KEYS, ...CLAIM_KEYS];
const UNKNOWN_KEYS = [
  'bogus',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'DEPTH',
  ' depth',
  'depth ',
  'dépth',
  '',
  '<script>',
];

const INJECTIONS = [
  '<script>window.__pwned=1</script>',
  '"><img src=x onerror="window.__pwned=1">',
  'javascript:window.__pwned=1',
  '${window.__pwned=1}',
  '{{constructor.constructor("window.__pwned=1")()}}',
  "'; DROP TABLE runs; --",
  '<svg onload=alert(1)>',
  '</textarea><iframe src=//evil.example>',
  '\u202egnp.exe',
  '%3Cscript%3E',
];
const MIXED = [
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '-0',
  '0x10',
  '0b11',
  '1_000',
  ' 20 ',
  '20.0',
  '2e1',
  '+20',
  '[]',
  '[20]',
  '{"depth":20}',
  'null',
  'undefined',
  'true',
  'false',
  '',
  ' ',
  '\t',
  '\u0000',
  '20\u0000',
  '２０',
  '٢٠',
  '1,000',
  '0.1.2',
  '--1',
  'dynamic',
  'gcr',
  'A',
  'sgd',
  'fancy',
  '80:0.01,120:0.001',
  '80:',
  ':0.1',
  '80:0.01,,',
];
const VALID: Record<string, string[]> = {
  protocol: ['paper', 'gcr', 'neon'],
  depth: ['8', '20', '56', '110', '1202'],
  block: ['relu-bnbefore', 'norelu-bnafter'],
  shortcut: ['A', 'B', 'neon'],
  solver: ['sgd-nesterov', 'sgd', 'rmsprop', 'adagrad', 'adadelta', 'adam'],
  lr: ['0.1', '0.01', '1e-3'],
  rho: ['0.9', '0.95'],
  wd: ['0.0001', '0'],
  bnm: ['0.1', 'dynamic', '1'],
  epochs: ['1', '164', '200'],
  batch: ['16', '128'],
  seed: ['0', '42', '4294967295'],
  schedule: ['gcr', 'neon', 'paper', 'constant', '80:0.01,120:0.001'],
  warmup: ['none', 'fancy', 'paper'],
  claim_err: ['8.29', '6.97'],
  claim_epochs: ['200', '1.5'],
  claim_backend: ['wasm', 'webgpu'],
  claim_tested: ['1000', '10000'],
};

const pick = <T>(rng: Rng, list: readonly T[]): T => list[rng.nextInt(list.length)];

function randomText(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rng.nextFloat();
    s +=
      r < 0.7
        ? String.fromCharCode(32 + rng.nextInt(95))
        : r < 0.9
          ? String.fromCharCode(rng.nextInt(0x3000))
          : pick(rng, ['&', '=', '%', '#', '?', '+', '<', '>', '"', "'"]);
  }
  return s;
}

/** One value for `key`: valid, truncated, oversized, mixed-type, injected or random. */
function value(rng: Rng, key: string): string {
  const valid = Object.hasOwn(VALID, key) ? VALID[key] : ['x'];
  switch (rng.nextInt(7)) {
    case 0:
      return pick(rng, valid);
    case 1: {
      const v = pick(rng, valid);
      return v.slice(0, rng.nextInt(v.length + 1)); // truncated
    }
    case 2:
      return pick(rng, valid).repeat(50 + rng.nextInt(5000)); // oversized
    case 3:
      return pick(rng, MIXED);
    case 4:
      return pick(rng, INJECTIONS);
    case 5:
      return VALID[pick(rng, Object.keys(VALID))][0]; // another key's value
    default:
      return randomText(rng, rng.nextInt(60));
  }
}

/** A query: some keys (valid, unknown, repeated) with values, encoded properly or not at all. */
function randomQuery(rng: Rng): { query: string; pairs: [string, string][] } {
  const pairs: [string, string][] = [];
  const n = rng.nextInt(KEYS.length + 4);
  for (let i = 0; i < n; i++) {
    const key = rng.nextFloat() < 0.85 ? pick(rng, KEYS) : pick(rng, UNKNOWN_KEYS);
    pairs.push([key, value(rng, key)]);
  }
  const r = rng.nextFloat();
  let query: string;
  if (r < 0.6) query = new URLSearchParams(pairs).toString();
  else if (r < 0.8)
    query = pairs.map(([k, v]) => `${k}=${v}`).join('&'); // unencoded, as typed into an address bar
  else if (r < 0.9) {
    const full = new URLSearchParams(pairs).toString();
    query = full.slice(0, rng.nextInt(full.length + 1)); // truncated mid-way (broken %-escapes included)
  } else query = randomText(rng, rng.nextInt(300)) + pick(rng, ['%', '%E0%A4%A', '%ZZ', '%00', '&&==&', '?']);
  return { query: (rng.nextFloat() < 0.3 ? '?' : '') + query, pairs };
}

/** The keys and values the parser actually saw (what URLSearchParams makes of the query). */
function seen(query: string): [string, string][] {
  return [...new URLSearchParams(query.startsWith('?') ? query.slice(1) : query)];
}

/** Every string and number inside a value (the configuration's leaves), as text. */
function leaves(v: unknown): string[] {
  if (v === null || typeof v !== 'object') return [String(v)];
  return Object.values(v as Record<string, unknown>).flatMap(leaves);
}

describe('share-URL fuzz', () => {
  it('3,000 random queries: never throws, always a valid configuration plus issues naming what was wrong', () => {
    const rng = createRng(20260101);
    let withIssues = 0;
    for (let i = 0; i < 3000; i++) {
      const { query } = randomQuery(rng);
      let parsed: ReturnType<typeof parseConfigQuery>;
      try {
        parsed = parseConfigQuery(query);
        parseClaim(query);
      } catch (e) {
        throw new Error(`query #${i} threw ${String(e)}: ${JSON.stringify(query.slice(0, 200))}`, { cause: e });
      }
      const { config, issues, given } = parsed;
      // A valid configuration: what the page would use, exactly reproduced by its own URL.
      expect(validateConfig(config), `query #${i}`).toEqual([]);
      const again = parseConfigQuery(formatConfigQuery(config));
      expect(again.issues).toEqual([]);
      expect(again.config).toEqual(config);
      expect(Object.keys(config).sort()).toEqual(Object.keys(DEFAULT_CONFIG).sort());
      // Nothing injected reaches the configuration, and no prototype was touched.
      for (const leaf of leaves(config)) expect(leaf).not.toMatch(/[<>"'&=%]|script|__pwned|onerror|onload/i);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      // Every issue is a bounded, plain sentence; every unknown key and every rejected known one is named.
      for (const issue of issues) {
        expect(typeof issue.message).toBe('string');
        expect(issue.message.length).toBeLessThan(600);
      }
      const pairs = seen(query);
      for (const [k] of pairs) {
        if (!KEYS.includes(k))
          expect(
            issues.some((x) => x.key === k),
            `unknown key ${JSON.stringify(k)} in #${i}`,
          ).toBe(true);
      }
      for (const k of CONFIG_KEYS) {
        const first = pairs.find(([key]) => key === k);
        if (first && !given.has(k))
          expect(
            issues.some((x) => x.key === k),
            `rejected ${k} in #${i}`,
          ).toBe(true);
      }
      if (issues.length) withIssues++;
    }
    // The generator does produce bad input most of the time (and good input sometimes).
    expect(withIssues).toBeGreaterThan(2000);
    expect(withIssues).toBeLessThan(3000);
  });

  it('each key alone with each kind of bad value: named in an issue, default used', () => {
    for (const key of CONFIG_KEYS) {
      for (const bad of [...INJECTIONS, 'NaN', '1e309', '0x10', '', '[20]', 'x'.repeat(100_000)]) {
        const { config, issues } = parseConfigQuery(new URLSearchParams({ [key]: bad }).toString());
        expect(
          issues.map((x) => x.key),
          `${key}=${bad.slice(0, 20)}`,
        ).toEqual([key]);
        expect(config[key]).toEqual(DEFAULT_CONFIG[key]);
        expect(issues[0].message.length).toBeLessThan(600);
      }
    }
  });

  it('claims: never thrown, and a bad claim never becomes one', () => {
    const rng = createRng(7);
    for (let i = 0; i < 1000; i++) {
      const { query } = randomQuery(rng);
      const { claim } = parseClaim(query);
      if (claim) {
        expect(Number.isFinite(claim.testError) && claim.testError >= 0 && claim.testError <= 1).toBe(true);
        expect(Number.isFinite(claim.epochs)).toBe(true);
      }
    }
  });
});
