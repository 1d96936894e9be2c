// Checks the learning-rate schedules at and around every boundary, the warm-ups, custom steps, the
// one-line descriptions and the URL form (round trip and errors).

import { describe, expect, it } from 'vitest';
import {
  describeSchedule,
  formatScheduleSpec,
  learningRate,
  parseScheduleSpec,
  parseWarmupSpec,
  ScheduleError,
  scheduleStopIteration,
  type LrContext,
  type ScheduleSpec,
} from './schedules.ts';

const at = (epoch: number, iteration = epoch * 391, more: Partial<LrContext> = {}): LrContext => ({ iteration, epoch, ...more });

describe('profiles at their boundaries (0-based epoch index = complete epochs so far)', () => {
  it('gcr: 0.1 through epoch index 79, 0.01 from 80 through 119, 0.001 from 120', () => {
    const lr = (e: number) => learningRate({ kind: 'gcr' }, 'none', 0.1, at(e));
    expect([0, 79, 80, 119, 120, 199].map(lr)).toEqual([0.1, 0.1, 0.01, 0.01, 0.001, 0.001]);
  });

  it('neon: 0.1 through 89, 0.01 from 90 through 134, 0.001 from 135', () => {
    const lr = (e: number) => learningRate({ kind: 'neon' }, 'none', 0.1, at(e));
    expect([0, 89, 90, 134, 135, 179].map(lr)).toEqual([0.1, 0.1, 0.01, 0.01, 0.001, 0.001]);
  });

  it('paper: by iteration, 0.1 through 31999, 0.01 from 32000 through 47999, 0.001 from 48000; stop at 64000', () => {
    const lr = (i: number) => learningRate({ kind: 'paper' }, 'none', 0.1, { iteration: i, epoch: Math.floor((i * 128) / 50000) });
    expect([0, 31999, 32000, 47999, 48000, 63999].map(lr)).toEqual([0.1, 0.1, 0.01, 0.01, 0.001, 0.001]);
    // The paper schedule ignores the epoch entirely.
    expect(learningRate({ kind: 'paper' }, 'none', 0.1, { iteration: 10, epoch: 150 })).toBe(0.1);
    expect(scheduleStopIteration({ kind: 'paper' })).toBe(64000);
    for (const kind of ['gcr', 'neon', 'constant'] as const) expect(scheduleStopIteration({ kind })).toBeUndefined();
    expect(scheduleStopIteration({ kind: 'steps', steps: [{ epoch: 1, lr: 0.1 }] })).toBeUndefined();
  });

  it('profiles scale with the base lr; epoch-based ones ignore the iteration', () => {
    expect(learningRate({ kind: 'gcr' }, 'none', 0.05, at(80, 0))).toBeCloseTo(0.005, 15);
    expect(learningRate({ kind: 'neon' }, 'none', 1, at(135, 0))).toBeCloseTo(0.01, 15);
    expect(learningRate({ kind: 'gcr' }, 'none', 0.1, at(10, 1_000_000))).toBe(0.1);
  });

  it('constant stays at the base', () => {
    expect([0, 80, 1000].map((e) => learningRate({ kind: 'constant' }, 'none', 0.02, at(e)))).toEqual([0.02, 0.02, 0.02]);
  });
});

describe('custom steps', () => {
  const spec: ScheduleSpec = {
    kind: 'steps',
    steps: [
      { epoch: 5, lr: 0.05 },
      { epoch: 10, lr: 0.2 },
    ],
  };
  it('base before the first step, absolute lrs from each step on', () => {
    expect([0, 4, 5, 9, 10, 500].map((e) => learningRate(spec, 'none', 0.1, at(e)))).toEqual([0.1, 0.1, 0.05, 0.05, 0.2, 0.2]);
  });
  it('a step at epoch 0 replaces the base from the start', () => {
    expect(learningRate({ kind: 'steps', steps: [{ epoch: 0, lr: 0.3 }] }, 'none', 0.1, at(0))).toBe(0.3);
  });
});

describe('warm-ups', () => {
  it('fancy: an absolute 0.001 for iteration indices 0..399, then the schedule', () => {
    const lr = (i: number, base = 0.1) =>
      learningRate({ kind: 'gcr' }, 'fancy', base, { iteration: i, epoch: Math.floor((i * 128) / 50000) });
    expect([0, 399, 400, 401].map((i) => lr(i))).toEqual([0.001, 0.001, 0.1, 0.1]);
    expect(lr(0, 0.5)).toBe(0.001);
  });

  it('paper: 0.1 x base until the training error is below 80%, then the schedule', () => {
    const lr = (below: boolean | undefined, iteration = 100) =>
      learningRate({ kind: 'paper' }, 'paper', 0.1, { iteration, epoch: 0, ...(below === undefined ? {} : { trainErrorBelow80: below }) });
    expect(lr(undefined)).toBeCloseTo(0.01, 15);
    expect(lr(false)).toBeCloseTo(0.01, 15);
    expect(lr(true)).toBe(0.1);
    expect(lr(false, 5000)).toBeCloseTo(0.01, 15); // not tied to an iteration count
    expect(lr(true, 32000)).toBe(0.01);
  });

  it('none leaves the schedule alone at iteration 0', () => {
    expect(learningRate({ kind: 'gcr' }, 'none', 0.1, at(0, 0))).toBe(0.1);
  });
});

describe('bad contexts', () => {
  it('names the bad field', () => {
    expect(() => learningRate({ kind: 'gcr' }, 'none', 0.1, { iteration: -1, epoch: 0 })).toThrow(/iteration must be an integer >= 0/);
    expect(() => learningRate({ kind: 'gcr' }, 'none', 0.1, { iteration: 0, epoch: 1.5 })).toThrow(/epoch must be an integer >= 0/);
    expect(() => learningRate({ kind: 'gcr' }, 'none', NaN, at(0))).toThrow(/base learning rate/);
    expect(() => learningRate({ kind: 'gcr' }, 'slow' as never, 0.1, at(0))).toThrow(/unknown warm-up "slow"/);
  });
});

describe('describeSchedule', () => {
  it('writes each profile and warm-up on one line with clean numbers', () => {
    expect(describeSchedule({ kind: 'gcr' }, 'none', 0.1)).toBe('0.1, 0.01 from epoch 80, 0.001 from epoch 120');
    expect(describeSchedule({ kind: 'neon' }, 'none', 0.1)).toBe('0.1, 0.01 from epoch 90, 0.001 from epoch 135');
    expect(describeSchedule({ kind: 'paper' }, 'none', 0.1)).toBe(
      '0.1, 0.01 from iteration 32000, 0.001 from iteration 48000, stop at iteration 64000',
    );
    expect(describeSchedule({ kind: 'constant' }, 'none', 0.003)).toBe('0.003 constant');
    expect(
      describeSchedule(
        {
          kind: 'steps',
          steps: [
            { epoch: 80, lr: 0.01 },
            { epoch: 160, lr: 0.001 },
          ],
        },
        'none',
        0.1,
      ),
    ).toBe('0.1, 0.01 from epoch 80, 0.001 from epoch 160');
    expect(describeSchedule({ kind: 'gcr' }, 'fancy', 0.1)).toBe(
      '0.001 for the first 400 iterations, then 0.1, 0.01 from epoch 80, 0.001 from epoch 120',
    );
    expect(describeSchedule({ kind: 'paper' }, 'paper', 0.1)).toBe(
      '0.01 until training error < 80%, then 0.1, 0.01 from iteration 32000, 0.001 from iteration 48000, stop at iteration 64000',
    );
    expect(describeSchedule({ kind: 'neon' }, 'none', 0.3)).toBe('0.3, 0.03 from epoch 90, 0.003 from epoch 135');
  });
});

describe('URL form', () => {
  it('round-trips every kind', () => {
    const specs: ScheduleSpec[] = [
      { kind: 'gcr' },
      { kind: 'neon' },
      { kind: 'paper' },
      { kind: 'constant' },
      {
        kind: 'steps',
        steps: [
          { epoch: 80, lr: 0.01 },
          { epoch: 120, lr: 0.001 },
        ],
      },
      {
        kind: 'steps',
        steps: [
          { epoch: 0, lr: 1e-7 },
          { epoch: 3, lr: 0.123456789 },
        ],
      },
    ];
    for (const spec of specs) expect(parseScheduleSpec(formatScheduleSpec(spec))).toEqual(spec);
    expect(
      formatScheduleSpec({
        kind: 'steps',
        steps: [
          { epoch: 80, lr: 0.01 },
          { epoch: 120, lr: 0.001 },
        ],
      }),
    ).toBe('80:0.01,120:0.001');
    expect(parseScheduleSpec(' 80 : 0.01 , 120:1e-3 ')).toEqual({
      kind: 'steps',
      steps: [
        { epoch: 80, lr: 0.01 },
        { epoch: 120, lr: 0.001 },
      ],
    });
  });

  it('rejects bad input with a message naming the bad part', () => {
    expect(() => parseScheduleSpec('')).toThrow(/empty schedule/);
    expect(() => parseScheduleSpec('cosine')).toThrow(/unknown schedule "cosine"/);
    expect(() => parseScheduleSpec('80:0.01,abc')).toThrow(/bad schedule step "abc"/);
    expect(() => parseScheduleSpec('80:0.01,120')).toThrow(/bad schedule step "120"/);
    expect(() => parseScheduleSpec('-1:0.1')).toThrow(/bad schedule step "-1:0.1"/);
    expect(() => parseScheduleSpec('8.5:0.1')).toThrow(/bad schedule step "8.5:0.1"/);
    expect(() => parseScheduleSpec('80:0')).toThrow(/bad learning rate "0" in schedule step "80:0"/);
    expect(() => parseScheduleSpec('80:0x10')).toThrow(/bad learning rate "0x10"/);
    expect(() => parseScheduleSpec('80:Infinity')).toThrow(/bad learning rate "Infinity"/);
    expect(() => parseScheduleSpec('120:0.001,80:0.01')).toThrow(/step epochs must increase: 80 comes after 120/);
    expect(() => parseScheduleSpec('80:0.01,80:0.001')).toThrow(/80 comes after 80/);
    expect(() => parseScheduleSpec('80:0.01,')).toThrow(/bad schedule step ""/);
    expect(() => parseScheduleSpec('x')).toThrow(ScheduleError);
    expect(() => formatScheduleSpec({ kind: 'steps', steps: [] })).toThrow(/at least one EPOCH:LR/);
  });

  it('parses warm-ups', () => {
    expect(['none', 'fancy', 'paper'].map(parseWarmupSpec)).toEqual(['none', 'fancy', 'paper']);
    expect(() => parseWarmupSpec('slow')).toThrow(/unknown warm-up "slow"; expected one of none, fancy, paper/);
  });
});
