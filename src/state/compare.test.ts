// Repeats and differences: mean +- sample std over seeds, grouping runs by configuration without the
// seed, and the configuration keys that differ between runs.

import { describe, expect, it } from 'vitest';
import {
  compareSummary,
  configDifferences,
  configWithoutSeed,
  finalAndBestOf,
  formatMeanStd,
  formatPointsDiff,
  groupRepeats,
  meanStd,
  type CompareRunInfo,
} from './compare.ts';
import { configFromQuery as q } from '../experiment/config.ts';

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
    expect(configWithoutSeed(q('depth=20&seed=3&protocol=gcr'))).toBe(configWithoutSeed(q('protocol=gcr&seed=9')));
    expect(configWithoutSeed(q('depth=20'))).not.toBe(configWithoutSeed(q('depth=32')));
    const runs = [
      { config: 'protocol=gcr&depth=20&seed=1', final: 0.083, best: 0.08 },
      { config: 'protocol=gcr&depth=32&seed=1', final: 0.076, best: 0.075 },
      { config: 'protocol=gcr&seed=2', final: 0.085, best: 0.081 },
      { config: 'protocol=gcr&depth=20&seed=3', final: null, best: null }, // diverged: no result
    ];
    const g = groupRepeats(runs, (r) => ({ ...r, config: q(r.config) }));
    expect(g).toHaveLength(2);
    expect(g[0]!.seeds).toEqual([1, 2, 3]);
    expect(g[0]!.runs).toHaveLength(3);
    expect(g[0]!.final!.n).toBe(2);
    expect(g[0]!.final!.mean).toBeCloseTo(0.084, 12);
    expect(g[0]!.final!.std).toBeCloseTo(Math.sqrt(2) * 0.001, 12);
    expect(g[1]!.best!.mean).toBe(0.075);
  });

  it('lists the keys that differ, in URL order', () => {
    expect(configDifferences([q('protocol=gcr&depth=20&seed=1'), q('protocol=gcr&depth=56&seed=2&lr=0.1')])).toEqual(['depth', 'seed']);
    expect(configDifferences([q('protocol=gcr'), q('protocol=neon')])).toContain('shortcut');
    expect(configDifferences([q('depth=20')])).toEqual([]);
  });
});

describe('repeats split by what the configuration does not hold', () => {
  it('keeps a 15-step run apart from a whole run of the same configuration', () => {
    const runs = [
      { config: 'protocol=gcr&depth=8&seed=1', final: 0.8, variant: 'steps 15' },
      { config: 'protocol=gcr&depth=8&seed=2', final: 0.7, variant: 'steps 15' },
      { config: 'protocol=gcr&depth=8&seed=3', final: 0.3, variant: 'steps all' },
    ];
    const g = groupRepeats(runs, (r) => ({ ...r, config: q(r.config) }));
    expect(g.map((x) => x.seeds)).toEqual([[1, 2], [3]]);
    expect(g[0]!.final!.mean).toBeCloseTo(0.75, 12);
  });
});

describe('the summary table of Compare', () => {
  const run = (id: string, config: string, tests: CompareRunInfo['tests'], extra: Partial<CompareRunInfo> = {}): CompareRunInfo => ({
    id,
    name: `run ${id}`,
    config: q(config),
    backend: 'wasm',
    status: 'finished',
    lastStep: 100,
    tests,
    ...extra,
  });

  it('final is the last evaluation after training started, best the lowest (the step-0 evaluation is neither)', () => {
    const r = run('a', 'depth=20', [
      { step: 0, epoch: 0, testError: 0.05 }, // a lucky evaluation before training is no result
      { step: 50, epoch: 1, testError: 0.4, evaluated: 500 },
      { step: 100, epoch: 2, testError: 0.45, evaluated: 500 },
    ]);
    expect(finalAndBestOf(r)).toEqual({
      final: { testError: 0.45, epoch: 2, evaluated: 500 },
      best: { testError: 0.4, epoch: 1, evaluated: 500 },
    });
    // Not loaded yet: the stored final error, no best.
    expect(finalAndBestOf(run('b', 'depth=20', undefined, { finalTestError: 0.3 }))).toEqual({ final: { testError: 0.3 } });
    expect(finalAndBestOf(run('c', 'depth=20', [{ step: 0, epoch: 0, testError: 0.9 }]))).toEqual({});
  });

  it('flags the keys that differ and, per row, the cells unlike the baseline; differences to the baseline', () => {
    const t = (e: number) => [
      { step: 0, epoch: 0, testError: 0.9 },
      { step: 100, epoch: 1, testError: e },
    ];
    const runs = [
      run('a', 'protocol=gcr&depth=20&lr=0.1&seed=1', t(0.1), { elapsedMs: 61_000, imagesPerSec: 123.4 }),
      run('b', 'protocol=gcr&depth=20&lr=0.05&seed=2', t(0.12)),
      run('c', 'protocol=gcr&depth=32&lr=0.1&seed=1', t(0.08)),
    ];
    const first = compareSummary(runs);
    expect(first.baselineId).toBe('a');
    expect(first.differing).toEqual(['depth', 'lr', 'seed']);
    expect(first.common.map(([k]) => k)).toContain('protocol');
    expect(first.common.find(([k]) => k === 'batch')).toEqual(['batch', '128']);
    expect(first.rows.map((r) => r.baseline)).toEqual([true, false, false]);
    expect(first.rows.map((r) => r.differsFromBaseline)).toEqual([[], ['lr', 'seed'], ['depth']]);
    expect(first.rows[1]!.values).toEqual({ depth: '20', lr: '0.05', seed: '2' });
    expect(first.rows[0]!.finalDiff).toBeUndefined();
    expect(first.rows[1]!.finalDiff).toBeCloseTo(0.02, 12);
    expect(first.rows[2]!.finalDiff).toBeCloseTo(-0.02, 12);
    expect(first.rows[0]).toMatchObject({ seed: 1, trainSeconds: 61, imagesPerSec: 123.4, backend: 'wasm', steps: 100 });

    // Pin c: the flags and differences are to c now.
    const pinned = compareSummary(runs, 'c');
    expect(pinned.rows.map((r) => r.baseline)).toEqual([false, false, true]);
    expect(pinned.rows.map((r) => r.differsFromBaseline)).toEqual([['depth'], ['depth', 'lr', 'seed'], []]);
    expect(pinned.rows[0]!.finalDiff).toBeCloseTo(0.02, 12);
    // A baseline that is not among the runs falls back to the first.
    expect(compareSummary(runs, 'gone').baselineId).toBe('a');
    expect(compareSummary([])).toEqual({ differing: [], common: [], rows: [], baselineId: undefined });
    // One run: nothing differs.
    expect(compareSummary(runs.slice(0, 1)).differing).toEqual([]);
  });

  it('writes differences in percentage points with a sign', () => {
    expect(formatPointsDiff(0.0042)).toBe('+0.42');
    expect(formatPointsDiff(-0.003)).toBe('−0.30');
    expect(formatPointsDiff(0.00001)).toBe('±0.00');
    expect(formatPointsDiff(-0.00001)).toBe('±0.00');
  });
});
