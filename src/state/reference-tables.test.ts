// The page's reference tables: every published row in exactly one table of the right source, "Run
// this" giving the row's exact configuration (gcr's 110 with the fancy warm-up, the paper's with its
// own), and a run's final and best error beside the row it reproduces, with the difference.
import { describe, expect, it } from 'vitest';
import { configFromQuery, protocolDefaults, sameConfig } from '../experiment/config.ts';
import { ALL_REFERENCE_ROWS, matchingRow } from './references.ts';
import { finalAndBest, formatDiff, NEON_COSTS, REFERENCE_TABLES, resultBeside, rowSettings, runThisConfig } from './reference-tables.ts';

const table = (id: string) => REFERENCE_TABLES.find((t) => t.id === id)!;
const row = (id: string, depth: number) => table(id).rows.find((r) => r.depth === depth)!;

describe('REFERENCE_TABLES', () => {
  it('holds every published row once, each table from one source', () => {
    const all = REFERENCE_TABLES.flatMap((t) => t.rows);
    expect(all.length).toBe(ALL_REFERENCE_ROWS.length);
    expect(new Set(all.map((r) => r.name)).size).toBe(all.length);
    expect(table('paper').rows.map((r) => [r.depth, r.error])).toEqual([
      [20, 8.75],
      [32, 7.51],
      [44, 7.17],
      [56, 6.97],
      [110, 6.43],
      [1202, 7.93],
    ]);
    expect(table('neon').rows.map((r) => r.depth)).toEqual([20, 32, 56, 110]);
    for (const r of table('neon').rows) expect(NEON_COSTS[r.depth]).toBeDefined();
    for (const t of REFERENCE_TABLES.filter((t) => t.id.startsWith('gcr'))) expect(t.rows.every((r) => r.source === 'gcr')).toBe(true);
  });
});

describe('runThisConfig', () => {
  it("selects the row's exact configuration, keeping the user's seed", () => {
    const c = runThisConfig(row('gcr-depth', 110), { seed: 42 });
    expect(c).toMatchObject({ protocol: 'gcr', depth: 110, warmup: 'fancy', solver: 'sgd-nesterov', epochs: 200, seed: 42 });
    expect(matchingRow(c)?.name).toBe('gcr (Torch), ResNet-110');
    const p = runThisConfig(row('paper', 110), { seed: 1 });
    expect(p).toMatchObject({ protocol: 'paper', depth: 110, warmup: 'paper', solver: 'sgd', schedule: { kind: 'paper' } });
    const rms = table('gcr-solver').rows.find((r) => r.name === 'gcr, RMSprop lr 0.01, 20 layers')!;
    expect(runThisConfig(rms, { seed: 3 })).toMatchObject({ solver: 'rmsprop', lr: 0.01, rho: 0.9, wd: 0, depth: 20 });
    const nrelu = table('gcr-block').rows.find((r) => r.overrides.block === 'norelu-bnbefore' && r.depth === 110)!;
    expect(runThisConfig(nrelu, { seed: 1 })).toMatchObject({ block: 'norelu-bnbefore', warmup: 'none' });
    const dyn = table('gcr-bnm').rows.find((r) => r.overrides.bnm === 'dynamic')!;
    expect(runThisConfig(dyn, { seed: 1 }).bnm).toBe('dynamic');
    const neon = runThisConfig(row('neon', 56), { seed: 1 });
    expect(neon).toMatchObject({ protocol: 'neon', shortcut: 'neon', epochs: 180 });
  });

  it('describes each row in a few words', () => {
    expect(rowSettings(row('gcr-depth', 110))).toBe('sgd-nesterov 0.1, wd 0.0001, BN 0.1, warm-up fancy, 200 epochs');
    const ada = table('gcr-solver').rows.find((r) => r.overrides.solver === 'adadelta')!;
    expect(rowSettings(ada)).toMatch(/^Adadelta rho 0.3, no wd/);
  });
});

describe('resultBeside', () => {
  const gcr20 = { ...protocolDefaults('gcr'), depth: 20, seed: 7 };
  const tests = [
    { epoch: 0, step: 0, testError: 0.9, evaluated: 10_000 },
    { epoch: 1, step: 391, testError: 0.3, evaluated: 10_000 },
    { epoch: 2, step: 782, testError: 0.0812, evaluated: 10_000 },
    { epoch: 3, step: 1173, testError: 0.0871, evaluated: 10_000 },
  ];

  it('shows the final error with its difference, and the best epoch flagged as chosen on the test set', () => {
    const r = resultBeside(row('gcr-depth', 20), { label: 'your run', config: gcr20, tests, complete: true })!;
    expect(r.final.testError).toBe(0.0871);
    expect(r.diffPoints).toBeCloseTo(8.71 - 8.29, 10);
    expect(formatDiff(r.diffPoints)).toBe('+0.42');
    expect(r.best).toMatchObject({ epoch: 2, testError: 0.0812, chosenOnTestSet: true });
    expect(r.plannedEpochs).toBe(200);
    // The same run is also gcr's BN-momentum-0.1 row, but not the paper's or another depth's.
    expect(
      resultBeside(
        table('gcr-bnm').rows.find((x) => x.overrides.bnm === 0.1)!,
        { label: '', config: gcr20, tests, complete: true },
      ),
    ).toBeDefined();
    expect(resultBeside(row('paper', 20), { label: '', config: gcr20, tests, complete: true })).toBeUndefined();
    expect(resultBeside(row('gcr-depth', 32), { label: '', config: gcr20, tests, complete: true })).toBeUndefined();
  });

  it('needs an evaluation after training started, and never takes the one before training as the best', () => {
    expect(resultBeside(row('gcr-depth', 20), { label: '', config: gcr20, tests: tests.slice(0, 1), complete: false })).toBeUndefined();
    const early = [{ ...tests[0]!, testError: 0.05 }, ...tests.slice(1)];
    expect(finalAndBest(early)?.best.epoch).toBe(2);
    expect(finalAndBest(early)?.final.epoch).toBe(3);
  });

  it('formats differences with a sign', () => {
    expect(formatDiff(-0.154)).toBe('−0.15');
    expect(formatDiff(0.001)).toBe('±0.00');
  });

  it('compares queries as configurations', () => {
    expect(sameConfig(configFromQuery('depth=20'), protocolDefaults('gcr'))).toBe(true);
    expect(sameConfig(configFromQuery('depth=20&seed=2'), configFromQuery('depth=20'))).toBe(false);
  });
});
