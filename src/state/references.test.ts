// The reference table and the rows the test-error chart draws for a configuration.
import { describe, expect, it } from 'vitest';
import { applyProtocol, protocolDefaults, type ExperimentConfig } from '../experiment/config.ts';
import { ALL_REFERENCE_ROWS, DEPTH_ROWS, matchingRow, referencesFor, rowConfig } from './references.ts';

const gcr = (over: Partial<ExperimentConfig> = {}): ExperimentConfig => ({ ...protocolDefaults('gcr', over.solver), ...over });

describe('reference rows', () => {
  it('holds the depth table of REFERENCE section 4', () => {
    const by = (source: string, depth: number) => DEPTH_ROWS.find((r) => r.source === source && r.depth === depth)?.error;
    expect([by('paper', 20), by('gcr', 20), by('neon', 20)]).toEqual([8.75, 8.29, 8.29]);
    expect([by('paper', 56), by('gcr', 56), by('neon', 56)]).toEqual([6.97, 6.94, 6.31]);
    expect([by('paper', 110), by('gcr', 110), by('neon', 110)]).toEqual([6.43, 6.73, 6.0]);
    expect(by('neon', 44)).toBeUndefined();
    expect(by('paper', 1202)).toBe(7.93);
  });

  it('every row describes a valid configuration', () => {
    for (const row of ALL_REFERENCE_ROWS) {
      const c = rowConfig(row);
      expect(c.depth).toBe(row.depth);
      expect(c.protocol).toBe(row.protocol);
    }
  });
});

describe('referencesFor', () => {
  it('shows the three published numbers for ResNet-56 and names the gcr row when the config is gcr’s', () => {
    const lines = referencesFor(gcr({ depth: 56 }));
    expect(lines.map((l) => l.row.error).sort()).toEqual([6.31, 6.94, 6.97]);
    expect(lines[0]).toMatchObject({ matches: true, label: 'gcr (Torch), ResNet-56: 6.94%' });
    expect(lines.filter((l) => l.matches)).toHaveLength(1);
    expect(matchingRow(gcr({ depth: 56 }))?.name).toBe('gcr (Torch), ResNet-56');
  });

  it('a changed epoch count or learning rate is no longer the published run', () => {
    expect(referencesFor(gcr({ epochs: 1 })).some((l) => l.matches)).toBe(false);
    expect(matchingRow(gcr({ lr: 0.05 }))).toBeUndefined();
    // the seed does not matter
    expect(matchingRow(gcr({ seed: 12345 }))?.name).toBe('gcr (Torch), ResNet-20');
  });

  it('the paper protocol matches the paper row', () => {
    const paper = protocolDefaults('paper');
    expect(matchingRow(paper)?.source).toBe('paper');
    const p110 = { ...paper, depth: 110, warmup: 'paper' as const };
    expect(matchingRow(p110)?.name).toBe('paper, ResNet-110');
  });

  it('adds the block-variant row for a non-paper block and names it when it matches', () => {
    const c = applyProtocol(gcr({ block: 'norelu-bnbefore', depth: 110 }), 'gcr', new Set(['block', 'depth']));
    const lines = referencesFor(c);
    const variant = lines.find((l) => l.row.table === 'block-variant');
    expect(variant).toMatchObject({ matches: true });
    expect(variant?.row.error).toBe(6.32);
    expect(lines[0]).toBe(variant);
  });

  it('adds the solver row for RMSprop at the same rate, and the BN momentum row', () => {
    const rms = gcr({ solver: 'rmsprop', lr: 1e-3 });
    const solverLine = referencesFor(rms).find((l) => l.row.table === 'solver');
    expect(solverLine?.row.error).toBe(10.55);
    expect(solverLine?.matches).toBe(true); // gcr's rmsprop defaults: wd 0, alpha 0.9
    expect(referencesFor(gcr({ solver: 'rmsprop', lr: 5e-3 })).some((l) => l.row.table === 'solver')).toBe(false);
    const dyn = referencesFor(gcr({ bnm: 'dynamic' })).find((l) => l.row.table === 'bn-momentum');
    expect(dyn).toMatchObject({ matches: true });
    expect(dyn?.row.error).toBe(8.22);
  });

  it('has nothing for a depth no one published', () => {
    expect(referencesFor(gcr({ depth: 8 }))).toEqual([]);
  });
});
