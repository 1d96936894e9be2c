// PyTorch's training step and the lab's measured in turns, depth by depth: each round times PyTorch's
// steps (bench/torch_step.py --serve, each memory format), then the lab's bare step on the backend the
// caller has set up (Node, wasm, the lab's kernels), so that both see the same minutes of a shared
// machine; the "x PyTorch" ratio is the median of the rounds' ratios (as core.ts pairedLoop does for
// the loop's overhead). Returns the lab's records (with torchPairs) and PyTorch's, one per format.
// What it is not: the PyTorch process (bench/pytorch.ts) or the report (bench/report.ts). No Node imports.

import { median, type BenchRecord } from './core.ts';
import { modelName, type TorchFormat, type TorchRoundsPlan } from './plan.ts';

export interface TorchTurnRequest {
  depth: number;
  batch: number;
  format: TorchFormat;
  warmup: number;
  steps: number;
}

/** A PyTorch that times its steps on request (bench/pytorch.ts TorchServer). */
export interface TorchTurns {
  version: string;
  threads: number;
  /** The timed steps' milliseconds, after `warmup` untimed ones. */
  time(req: TorchTurnRequest): Promise<number[]>;
}

/** The lab's timed steps (after `warmup` untimed ones) at a depth and batch. */
export type LabTurn = (depth: number, batch: number, warmup: number, steps: number) => Promise<number[]>;

export async function runTorchRounds(
  plan: TorchRoundsPlan,
  torch: TorchTurns,
  lab: LabTurn,
  base: Pick<BenchRecord, 'backend' | 'context' | 'threads' | 'software'>,
  log: (line: string) => void,
): Promise<BenchRecord[]> {
  const out: BenchRecord[] = [];
  const { batch, warmup, steps, formats } = plan;
  if (formats.length === 0) return out;
  const rounds = Math.max(1, plan.rounds);
  const turn = `${warmup} warm-up + ${steps} timed steps`;
  const why = (e: unknown) => (e as Error).message.split('\n')[0];
  for (const depth of plan.depths) {
    const model = modelName(depth);
    // A PyTorch that is gone cannot take the next turns either: undefined ends the rounds.
    const torchTurn = async (format: TorchFormat, turnWarmup: number, turnSteps: number) => {
      try {
        return await torch.time({ depth, batch, format, warmup: turnWarmup, steps: turnSteps });
      } catch (e) {
        log(`  ${model} in turns: PyTorch failed: ${why(e)}`);
        return undefined;
      }
    };
    // Untimed: each format's model is built and warmed up before the first round.
    for (const format of formats) if (!(await torchTurn(format, Math.max(2, warmup), 0))) return out;
    const torchTimes = new Map<TorchFormat, number[]>(formats.map((f) => [f, []]));
    const labTimes: number[] = [];
    const pairs: NonNullable<BenchRecord['torchPairs']> = [];
    let labFailed = false;
    for (let r = 0; r < rounds && !labFailed; r++) {
      let best: { ms: number; format: TorchFormat } | undefined;
      for (const format of formats) {
        const t = await torchTurn(format, warmup, steps);
        if (!t) return out;
        torchTimes.get(format)!.push(...t);
        const ms = median(t);
        if (best === undefined || ms < best.ms) best = { ms, format };
      }
      try {
        const l = await lab(depth, batch, warmup, steps);
        labTimes.push(...l);
        pairs.push({ torchMs: best!.ms, torchFormat: best!.format, labMs: median(l) });
      } catch (e) {
        log(`  ${model} in turns: the lab's step failed: ${why(e)}`);
        labFailed = true;
        continue;
      }
      const p = pairs[pairs.length - 1]!;
      log(
        `  ${model} round ${r + 1}/${rounds}: PyTorch ${p.torchMs.toFixed(1)} ms (${p.torchFormat}), lab ${p.labMs.toFixed(1)} ms: ${(p.labMs / p.torchMs).toFixed(2)}x`,
      );
    }
    if (labFailed) continue;
    const labMs = median(labTimes);
    out.push({
      what: 'train-step',
      model,
      batch,
      ...base,
      medianMs: labMs,
      imagesPerSec: (batch * 1000) / labMs,
      steps: labTimes.length,
      warmup,
      minMs: Math.min(...labTimes),
      variant: 'in turns with PyTorch',
      torchPairs: pairs,
      note:
        `${rounds} rounds of PyTorch's ${turn} in each of ${formats.join(', ')}, then the lab's ${turn}; ` +
        `x PyTorch: the median of the rounds' lab / PyTorch (its faster format in the round)`,
    });
    for (const [format, times] of torchTimes) {
      const ms = median(times);
      out.push({
        what: 'train-step',
        model,
        batch,
        backend: 'pytorch-cpu',
        context: 'python',
        medianMs: ms,
        imagesPerSec: (batch * 1000) / ms,
        threads: torch.threads,
        software: false,
        steps: times.length,
        warmup,
        minMs: Math.min(...times),
        variant: format,
        note: `in turns with the lab's ${base.backend} step in ${base.context}, ${rounds} rounds of ${turn}; PyTorch ${torch.version}, torch.set_num_threads(${torch.threads}), SGD Nesterov`,
      });
    }
  }
  return out;
}
