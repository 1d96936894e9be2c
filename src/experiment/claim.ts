// The run summary a share URL can carry: a finished run's claimed result next to its configuration,
// so a shared link shows "claimed 8.29% after 200 epochs (wasm)". Keys, all optional as a group:
//   claim_err     final test error in percent, at most 2 decimals (the 10,000-image test set resolves 0.01%)
//   claim_epochs  epochs trained when that error was measured (at most 2 decimals: runs cut short)
//   claim_backend webgpu | webgl | wasm | cpu
//   claim_tested  test images the error was measured on, when not the whole test set (CLI --eval-limit)
// claim_err and claim_epochs together make a claim; the others refine it. A claim is what the sharer
// says, not something the page has checked: the page labels it so. Pure string functions; the config
// parser (config.ts) leaves exactly these keys to this file.

import type { ConfigIssue } from './types.ts';

export const CLAIM_KEYS = ['claim_err', 'claim_epochs', 'claim_backend', 'claim_tested'] as const;
export type ClaimKey = (typeof CLAIM_KEYS)[number];
export const CLAIM_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type ClaimBackend = (typeof CLAIM_BACKENDS)[number];

export interface RunClaim {
  /** Final test error as a fraction (claim_err / 100). */
  testError: number;
  epochs: number;
  backend?: ClaimBackend;
  /** Test images used, when not the whole test set. */
  tested?: number;
}

const MAX_VALUE = 20;

function issue(key: string, value: string, problem: string, action: string): ConfigIssue {
  return { key, value, problem, message: `${problem}; ${action}` };
}

function decimal(raw: string, what: string, max: number, decimals: number): number {
  const t = raw.trim();
  if (!/^\d+(\.\d+)?$/.test(t)) throw new Error(`${what} must be a plain decimal number`);
  const frac = t.split('.')[1] ?? '';
  if (frac.length > decimals) throw new Error(`${what} takes at most ${decimals} decimals`);
  const v = Number(t);
  if (!(v >= 0 && v <= max)) throw new Error(`${what} must be between 0 and ${max}`);
  return v;
}

/** The claim in a share-URL query, if any. Never throws: problems are issues and the claim is dropped. */
export function parseClaim(query: string): { claim: RunClaim | null; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  let invalid = false;
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
  } catch {
    return { claim: null, issues };
  }
  const raw = new Map<ClaimKey, string>();
  for (const [k, v] of params) {
    if (!(CLAIM_KEYS as readonly string[]).includes(k)) continue;
    if (raw.has(k as ClaimKey)) {
      issues.push(issue(k, v, `key ${k} given twice`, 'the first value is used'));
      continue;
    }
    raw.set(k as ClaimKey, v);
  }
  if (raw.size === 0) return { claim: null, issues };
  const shown = (v: string) => JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}…` : v);
  const read = <T>(key: ClaimKey, parse: (v: string) => T): T | undefined => {
    const v = raw.get(key);
    if (v === undefined) return undefined;
    if (v.length > MAX_VALUE) {
      invalid = true;
      issues.push(issue(key, v.slice(0, 20), `${key} is too long (${v.length} characters)`, 'the claim is not shown'));
      return undefined;
    }
    try {
      return parse(v);
    } catch (e) {
      invalid = true;
      issues.push(issue(key, v, `${key}=${shown(v)} is invalid: ${(e as Error).message}`, 'the claim is not shown'));
      return undefined;
    }
  };
  const err = read('claim_err', (v) => decimal(v, 'claim_err (percent)', 100, 2));
  const epochs = read('claim_epochs', (v) => decimal(v, 'claim_epochs', 10_000, 2));
  const backend = read('claim_backend', (v) => {
    const b = CLAIM_BACKENDS.find((x) => x === v.trim());
    if (!b) throw new Error(`claim_backend must be one of ${CLAIM_BACKENDS.join(', ')}`);
    return b;
  });
  const tested = read('claim_tested', (v) => {
    const n = decimal(v, 'claim_tested', 10_000, 0);
    if (n < 1) throw new Error('claim_tested must be at least 1');
    return n;
  });
  for (const [key, v] of [
    ['claim_err', err],
    ['claim_epochs', epochs],
  ] as const) {
    if (v === undefined && !raw.has(key)) {
      invalid = true;
      issues.push(issue(key, '', `a run summary needs ${key}`, 'the claim is not shown'));
    }
  }
  if (err === undefined || epochs === undefined || invalid) return { claim: null, issues };
  return {
    claim: { testError: err / 100, epochs, ...(backend ? { backend } : {}), ...(tested !== undefined ? { tested } : {}) },
    issues,
  };
}

/** Decimal with at most `d` decimals, trailing zeros dropped ("8.3", "200"). */
function fixed(v: number, d: number): string {
  return String(Number(v.toFixed(d)));
}

/** The claim's query keys ("claim_err=8.29&claim_epochs=200&claim_backend=wasm"). */
export function formatClaim(claim: RunClaim): string {
  const p = new URLSearchParams();
  p.set('claim_err', fixed(100 * claim.testError, 2));
  p.set('claim_epochs', fixed(claim.epochs, 2));
  if (claim.backend) p.set('claim_backend', claim.backend);
  if (claim.tested !== undefined) p.set('claim_tested', String(claim.tested));
  return p.toString();
}

/** A share-URL query with the claim appended (any claim already in it replaced). */
export function withClaim(query: string, claim: RunClaim | null): string {
  const p = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
  for (const k of CLAIM_KEYS) p.delete(k);
  const base = p.toString();
  if (!claim) return base;
  return base ? `${base}&${formatClaim(claim)}` : formatClaim(claim);
}

/**
 * The claim for a finished run: its final evaluation (as the published tables report), the epochs at
 * that point and the backend. `fullTestSet`: how many test images the whole set has (10,000).
 */
export function claimFromResult(
  final: { testError: number; epoch: number; evaluated: number } | null,
  backend: string,
  fullTestSet = 10_000,
): RunClaim | null {
  if (!final || !(final.testError >= 0 && final.testError <= 1)) return null;
  const b = CLAIM_BACKENDS.find((x) => x === backend);
  return {
    testError: final.testError,
    epochs: Number(final.epoch.toFixed(2)),
    ...(b ? { backend: b } : {}),
    ...(final.evaluated < fullTestSet ? { tested: final.evaluated } : {}),
  };
}

/** "claimed final test error 8.29% after 200 epochs (wasm)", for the page and the CLI. */
export function describeClaim(claim: RunClaim): string {
  const tested = claim.tested !== undefined ? ` on ${claim.tested.toLocaleString('en-US')} test images` : '';
  const backend = claim.backend ? ` (${claim.backend})` : '';
  return `claimed final test error ${fixed(100 * claim.testError, 2)}%${tested} after ${fixed(claim.epochs, 2)} epochs${backend}`;
}
