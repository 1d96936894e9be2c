// The run summary in a share URL: round trip, validation of every key with a named issue, the claim
// dropped (never half-shown) when it is invalid, and the config parser accepting exactly these keys.

import { describe, expect, it } from 'vitest';
import { formatConfigQuery, parseConfigQuery, parseConfigQueryStrict } from './config.ts';
import { claimFromResult, describeClaim, formatClaim, parseClaim, withClaim } from './claim.ts';

describe('share-URL run summary', () => {
  it('round-trips through the query, next to the configuration', () => {
    const config = formatConfigQuery(parseConfigQueryStrict('protocol=gcr&depth=20'));
    const q = withClaim(config, { testError: 0.0829, epochs: 200, backend: 'wasm' });
    expect(q).toBe(`${config}&claim_err=8.29&claim_epochs=200&claim_backend=wasm`);
    const { claim, issues } = parseClaim(q);
    expect(issues).toEqual([]);
    expect(claim).toEqual({ testError: expect.closeTo(0.0829, 15), epochs: 200, backend: 'wasm' });
    expect(formatClaim(claim!)).toBe('claim_err=8.29&claim_epochs=200&claim_backend=wasm');
    // The configuration parser neither flags nor uses the claim keys.
    const parsed = parseConfigQuery(`?${q}&claim_tested=500`);
    expect(parsed.issues).toEqual([]);
    expect(formatConfigQuery(parsed.config)).toBe(config);
    // ... but a misspelt claim key is still an unknown key.
    expect(parseConfigQuery('depth=20&claim_error=8').issues[0]!.problem).toMatch(/unknown key "claim_error"/);
    // Replacing a claim, and removing it.
    expect(withClaim(q, { testError: 0.5, epochs: 0.25 })).toBe(`${config}&claim_err=50&claim_epochs=0.25`);
    expect(withClaim(q, null)).toBe(config);
    expect(parseClaim(config)).toEqual({ claim: null, issues: [] });
  });

  it.each([
    ['claim_err=abc&claim_epochs=2', /claim_err="abc" is invalid: claim_err \(percent\) must be a plain decimal/],
    ['claim_err=8.291&claim_epochs=2', /at most 2 decimals/],
    ['claim_err=101&claim_epochs=2', /between 0 and 100/],
    ['claim_err=-1&claim_epochs=2', /plain decimal/],
    ['claim_err=1e1&claim_epochs=2', /plain decimal/],
    ['claim_err=8&claim_epochs=Infinity', /claim_epochs="Infinity" is invalid/],
    ['claim_err=8&claim_epochs=2&claim_backend=tpu', /claim_backend must be one of webgpu, webgl, wasm, cpu/],
    ['claim_err=8&claim_epochs=2&claim_tested=0', /at least 1/],
    ['claim_err=8&claim_epochs=2&claim_tested=2.5', /at most 0 decimals/],
    ['claim_err=8', /a run summary needs claim_epochs/],
    ['claim_backend=wasm', /a run summary needs claim_err/],
    [`claim_err=${'9'.repeat(50)}&claim_epochs=2`, /claim_err is too long \(50 characters\)/],
    ['claim_err=<b>1</b>&claim_epochs=2', /claim_err="<b>1<\/b>" is invalid/],
  ])('%s: no claim, a named issue', (q, why) => {
    const { claim, issues } = parseClaim(q);
    expect(claim).toBeNull();
    expect(issues.map((i) => i.problem).join(' | ')).toMatch(why);
    for (const i of issues) expect(i.message).toMatch(/the claim is not shown$/);
  });

  it('keeps the first of a repeated key, with a notice', () => {
    const { claim, issues } = parseClaim('claim_err=8&claim_epochs=2&claim_err=1');
    expect(claim!.testError).toBe(0.08);
    expect(issues[0]!.problem).toBe('key claim_err given twice');
  });

  it('is made from a run result: final evaluation, epochs to 2 decimals, partial test sets said', () => {
    expect(claimFromResult({ testError: 0.0694, epoch: 200, evaluated: 10_000 }, 'webgpu')).toEqual({
      testError: 0.0694,
      epochs: 200,
      backend: 'webgpu',
    });
    const cut = claimFromResult({ testError: 0.84, epoch: 0.00064, evaluated: 50 }, 'wasm')!;
    expect(cut).toEqual({ testError: 0.84, epochs: 0, backend: 'wasm', tested: 50 });
    expect(describeClaim(cut)).toBe('claimed final test error 84% on 50 test images after 0 epochs (wasm)');
    expect(describeClaim(parseClaim(formatClaim({ testError: 0.0829, epochs: 164.5 })).claim!)).toBe(
      'claimed final test error 8.29% after 164.5 epochs',
    );
    expect(claimFromResult(null, 'wasm')).toBeNull();
    expect(claimFromResult({ testError: 0.1, epoch: 1, evaluated: 10_000 }, 'tfjs-node')).toEqual({ testError: 0.1, epochs: 1 });
  });
});
