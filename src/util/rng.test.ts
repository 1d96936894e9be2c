// Tests for the seedable generator: determinism, state round trip, and rough distribution checks.
import { describe, expect, it } from 'vitest';
import { createRng, rngFromState } from './rng.ts';

function take(n: number, f: () => number): number[] {
  return Array.from({ length: n }, f);
}

describe('createRng', () => {
  it('gives the same sequence for the same seed and different ones for different seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const sa = take(100, () => a.nextUint32());
    expect(take(100, () => b.nextUint32())).toEqual(sa);
    expect(take(100, () => c.nextUint32())).not.toEqual(sa);
    // Seeds beyond 32 bits are not folded onto small ones.
    expect(createRng(2 ** 32 + 42).nextUint32()).not.toBe(createRng(42).nextUint32());
  });

  it('resumes bit-exactly from getState(), including a cached normal', () => {
    const r = createRng(7);
    for (let i = 0; i < 1000; i++) r.nextFloat();
    r.nextNormal(); // leaves the second Box-Muller value cached
    const state = JSON.parse(JSON.stringify(r.getState())) as number[];
    const mixed = (g: ReturnType<typeof createRng>) => [g.nextNormal(), g.nextInt(10), g.nextFloat(), g.nextNormal(), g.nextUint32()];
    const expected = mixed(r);
    expect(mixed(rngFromState(state))).toEqual(expected);
    const s = createRng(1);
    s.setState(state);
    expect(mixed(s)).toEqual(expected);
  });

  it('rejects malformed states', () => {
    const r = createRng(1);
    expect(() => r.setState([1, 2, 3])).toThrow(/getState/);
    expect(() => r.setState([1, 2, 3, 2 ** 32, 0, 0])).toThrow(RangeError);
    expect(() => r.setState([1, 2, 3, 4, 2, 0])).toThrow(RangeError);
  });

  it('nextFloat is in [0,1) with mean 1/2; nextInt covers [0,n) evenly', () => {
    const r = createRng(3);
    const xs = take(100_000, () => r.nextFloat());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(Math.abs(xs.reduce((s, x) => s + x, 0) / xs.length - 0.5)).toBeLessThan(0.005);
    const counts = new Array<number>(9).fill(0);
    for (let i = 0; i < 90_000; i++) counts[r.nextInt(9)]++;
    // Expected 10,000 each; sd ~95, so 500 is > 5 sd.
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
    expect(() => r.nextInt(0)).toThrow(RangeError);
    expect(() => r.nextInt(1.5)).toThrow(RangeError);
    expect(r.nextInt(1)).toBe(0);
  });

  it('nextNormal has mean 0 and variance 1', () => {
    const r = createRng(11);
    const n = 200_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const z = r.nextNormal();
      s += z;
      s2 += z * z;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.01);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.02);
  });
});
