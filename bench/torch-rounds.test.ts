// The turns of bench/torch-rounds.ts with a real PyTorch (bench/torch_step.py --serve) and the lab's
// real step (ResNet-8 at batch 4 on tfjs-wasm with the lab's kernels): the order of the turns, each round's pair, the records
// and the ratio report.ts makes of them. Skipped where no Python imports torch. Times nothing.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/setup.ts';
import { computeStats, experimentFor, median, randomSplit, timeBareSteps } from './core.ts';
import { findTorchPython, TorchServer } from './pytorch.ts';
import { runTorchRounds, type TorchTurnRequest, type TorchTurns } from './torch-rounds.ts';
import { addRatios, markdown, turnRatios } from './report.ts';
import type { TorchRoundsPlan } from './plan.ts';

const hasTorch = findTorchPython() !== undefined;
const split = randomSplit(16, 1);
const stats = computeStats(split);
const plan: TorchRoundsPlan = { depths: [8], batch: 4, warmup: 0, steps: 1, rounds: 3, formats: ['channels-last', 'default'] };
const base = { backend: 'wasm', context: 'node', threads: 1, software: false } as const;

describe.skipIf(!hasTorch)('PyTorch and the lab in turns', () => {
  let server: TorchServer;
  beforeAll(async () => {
    await initBackend('wasm');
    server = (await TorchServer.start(1, () => {}))!;
  });
  afterAll(() => server?.close());

  it('alternates PyTorch (each format) and the lab, round by round, and pairs each round', async () => {
    const turns: string[] = [];
    const torchMedians: number[] = [];
    const watched: TorchTurns = {
      version: server.version,
      threads: server.threads,
      time: async (req: TorchTurnRequest) => {
        turns.push(`torch ${req.format}`);
        const t = await server.time(req);
        torchMedians.push(median(t));
        return t;
      },
    };
    const labMedians: number[] = [];
    const lab = async (depth: number, batch: number, warmup: number, steps: number) => {
      turns.push('lab');
      const t = (await timeBareSteps(experimentFor(depth, batch), split, stats, { warmup, steps, peak: false })).times;
      labMedians.push(median(t));
      return t;
    };
    const records = await runTorchRounds(plan, watched, lab, base, () => {});

    // First each format's untimed warm-up turn, then the rounds.
    expect(turns).toEqual([
      'torch channels-last',
      'torch default',
      ...Array.from({ length: 3 }, () => ['torch channels-last', 'torch default', 'lab']).flat(),
    ]);
    expect(torchMedians.slice(0, 2)).toEqual([NaN, NaN]);
    const [ours, ...torch] = records;
    expect(ours).toMatchObject({
      what: 'train-step',
      model: 'resnet8',
      batch: 4,
      backend: 'wasm',
      variant: 'in turns with PyTorch',
      steps: 3,
    });
    expect(ours!.torchPairs).toEqual(
      [0, 1, 2].map((r) => {
        const [cl, def] = [torchMedians[2 * r + 2]!, torchMedians[2 * r + 3]!];
        return { torchMs: Math.min(cl, def), torchFormat: cl <= def ? 'channels-last' : 'default', labMs: labMedians[r] };
      }),
    );
    expect(torch.map((r) => [r.backend, r.variant, r.steps])).toEqual([
      ['pytorch-cpu', 'channels-last', 3],
      ['pytorch-cpu', 'default', 3],
    ]);

    // The ratio is the median of the rounds' ratios, not the ratio of the medians.
    const [withRatio] = addRatios(records);
    const each = ours!.torchPairs!.map((p) => p.labMs / p.torchMs);
    expect(withRatio!.vsPytorch).toBe(median(each));
    expect(turnRatios(withRatio!)).toEqual({ each, median: median(each), min: Math.min(...each), max: Math.max(...each) });
  });

  it('stops taking turns once PyTorch is gone', async () => {
    const gone = (await TorchServer.start(1, () => {}))!;
    gone.close();
    const lines: string[] = [];
    const records = await runTorchRounds(
      plan,
      gone,
      async () => [1],
      base,
      (l) => lines.push(l),
    );
    expect(records).toEqual([]);
    expect(lines.join('\n')).toMatch(/PyTorch failed: the PyTorch process was closed/);
  });
});

describe('report of steps in turns', () => {
  it('renders the rounds, their median ratio and range, and keeps them out of the step table', () => {
    const rec = {
      what: 'train-step',
      model: 'resnet20',
      batch: 128,
      ...base,
      medianMs: 400,
      imagesPerSec: 320,
      variant: 'in turns with PyTorch',
      torchPairs: [
        { torchMs: 300, torchFormat: 'channels-last', labMs: 390 },
        { torchMs: 500, torchFormat: 'default', labMs: 400 },
        { torchMs: 200, torchFormat: 'channels-last', labMs: 410 },
      ],
    } as const;
    const results = addRatios([{ ...rec, torchPairs: [...rec.torchPairs] }]);
    // 390 / 300 = 1.30, 400 / 500 = 0.80, 410 / 200 = 2.05: median 1.30, not 400 / 300.
    expect(results[0]!.vsPytorch).toBeCloseTo(1.3, 12);
    const md = markdown({
      meta: {
        date: 'd',
        command: 'c',
        quick: true,
        node: 'n',
        tfjs: 't',
        cpu: 'x',
        cores: 2,
        loadAvgStart: [0, 0, 0],
        loadAvgEnd: [0, 0, 0],
        durationS: 1,
      },
      results,
      targets: [],
    });
    expect(md).toContain(
      '| resnet20 | 128 | wasm | node | 3 | 1.30 | 0.80-2.05 | 1.30, 0.80, 2.05 | 390.0, 400.0, 410.0 | 300.0 cl, 500.0, 200.0 cl |',
    );
    expect(md.split('**In turns with PyTorch**')[0]).not.toContain('in turns with PyTorch');
  });
});
