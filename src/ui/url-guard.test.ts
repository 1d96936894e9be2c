// The address-bar guard: queries tfjs-core would choke on (malformed %-escapes) or take flags from
// (tfjsflags) are replaced by strictly decodable ones that keep every other key and value as the
// browser reads them; safe queries are left alone.
import { describe, expect, it } from 'vitest';
import { safeQuery } from './url-guard.ts';

/** What tfjs-core does with the query when it loads (Environment.getQueryParams). */
function tfjsReads(query: string): Record<string, string> {
  const out: Record<string, string> = {};
  query.replace(/[?&]([^=?&]+)(?:=([^&]*))?/g, (s, k: string, v: string) => {
    out[decodeURIComponent(k)] = decodeURIComponent(v || '');
    return s;
  });
  return out;
}

describe('safeQuery', () => {
  it('leaves a well-formed query alone', () => {
    expect(safeQuery('?protocol=gcr&depth=56&schedule=80%3A0.01%2C120%3A0.001')).toBeUndefined();
    expect(safeQuery('')).toBeUndefined();
  });

  it('re-encodes malformed escapes so tfjs can read the query, keeping what the browser reads', () => {
    for (const bad of ['?depth=5%E0%A4%A&solver=%ZZ&lr=%00', '?a=%', '?%E0=1&seed=7', '?x=%C3%28', '?seed=3&depth=%F0%9F%98']) {
      expect(() => tfjsReads(bad)).toThrow(URIError);
      const safe = safeQuery(bad)!;
      expect(safe).toBeDefined();
      expect(() => tfjsReads(`?${safe}`)).not.toThrow();
      expect([...new URLSearchParams(safe)]).toEqual([...new URLSearchParams(bad.slice(1))]);
    }
  });

  it('drops tfjsflags (a shared link must not set the page tfjs flags)', () => {
    expect(safeQuery('?depth=20&tfjsflags=DEBUG:true&seed=1')).toBe('depth=20&seed=1');
  });
});
