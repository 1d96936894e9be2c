// Repeats and differences: mean +- sample std over seeds, grouping runs by configuration without the
// seed, and the configuration keys that differ between runs.

import { describe, expect, it } from 'vitest';
import { configDifferences, configWithoutSeed, formatMeanStd, groupRepeats, meanStd } from './compare.ts';

describe('meanStd', () => {
  it('uses the sample standard deviation and leaves out missing runs', () => {
    const s = meanStd([1, 2, 3, 4, null, NaN, undefined])!;
    expect(s.n).toBe(4);
    expect(s.mean).toBe(2.5);
    expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect([s.min, s.max]).toEqual([1, 4]);
    expect(meanStd([])).toBeNull();
    expect(meanStd([0.07])!.std).toBeNaN();
  });

  it('formats as the tables do, in percent', () => {
    expect(formatMeanStd({ n: 5, mean: 0.0661, std: 0.0016, min: 0, max: 0 })).toBe('6.61 ± 0.16 (n = 5)');
    expect(formatMeanStd(meanStd([0.0829])!)).toBe('8.29 (n = 1)');
  });
});

describe('repeats and differences', () => {
  it('groups runs that differ only in the seed, written in any order or with defaults spelled out', () => {
    expect(configWithoutSeed('depth=20&seed=3&protocol=gcr')).toBe(configWithoutSeed('protocol=gcr&seed=9'));
    expect(configWithoutSeed('depth=20')).not.toBe(configWithoutSeed('depth=32'));
    const runs = [
      { config: 'protocol=gcr&depth=20&seed=1', final: 0.083, best: 0.08 },
      { config: 'protocol=gcr&depth=32&seed=1', final: 0.076, best: 0.075 },
      { config: 'protocol=gcr&seed=2', final: 0.085, best: 0.081 },
      { config: 'protocol=gcr&depth=20&seed=3', final: null, best: null }, // diverged: no result
    ];
    const g = groupRepeats(runs, (r) => r);
    expect(g).toHaveLength(2);
    expect(g[0]!.seeds).toEqual([1, 2, 3]);
    expect(g[0]!.runs).toHaveLength(3);
    expect(g[0]!.final!.n).toBe(2);
    expect(g[0]!.final!.mean).toBeCloseTo(0.084, 12);
    expect(g[0]!.final!.std).toBeCloseTo(Math.sqrt(2) * 0.001, 12);
    expect(g[1]!.best!.mean).toBe(0.075);
  });

  it('lists the keys that differ, in URL order', () => {
    expect(configDifferences(['protocol=gcr&depth=20&seed=1', 'protocol=gcr&depth=56&seed=2&lr=0.1'])).toEqual(['depth', 'seed']);
    expect(configDifferences(['protocol=gcr', 'protocol=neon'])).toContain('shortcut');
    expect(configDifferences(['depth=20'])).toEqual([]);
  });
});
