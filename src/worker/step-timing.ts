// How long one training step takes on the current tfjs backend: the lab's own step (Trainer.trainStep:
// forward, backward with the composed kernels, solver update) of a ResNet of the given depth and batch
// on random images. One warm-up step (shader compilation, wasm start-up), then the median of a few
// timed rounds, within a time budget. Used by the automatic backend choice (backend-choice.ts); it
// does not pick or start backends.

import { protocolDefaults } from '../experiment/config.ts';
import { resolveExperiment } from '../train/experiment.ts';
import { Trainer } from '../train/trainer.ts';
import { randomSplit } from '../data/random-split.ts';
import type { StepShape } from './protocol.ts';

export interface StepTimingOptions {
  /** Stop after the warm-up step when it took longer than this (a backend with nothing to compile cannot win from there). */
  enoughAbove?: number;
  /** No new round starts once this many milliseconds have passed, warm-up included; a warm-up over it is the figure. */
  budgetMs: number;
  /** Rounds timed after the warm-up (default 3). */
  rounds?: number;
  /**
   * Steps per round, the loss read back after the last one (default 1). GPU backends train with a
   * read every few steps (the engine's readEvery), so a round of several steps times them as they train.
   */
  group?: number;
}

export interface StepTiming {
  /** Milliseconds per step: the median round divided by its steps, or the warm-up step alone. */
  ms: number;
  /** Rounds timed after the warm-up; 0 when the figure is the warm-up step. */
  rounds: number;
}

export async function timeTrainingStep(shape: StepShape, options: StepTimingOptions): Promise<StepTiming> {
  const { enoughAbove = Infinity, budgetMs, rounds = 3, group = 1 } = options;
  const config = { ...protocolDefaults('gcr'), depth: shape.depth, batch: shape.batch, epochs: 1 };
  const split = randomSplit(shape.batch * 2, 7);
  const trainer = new Trainer(resolveExperiment(config), { train: split, test: split }, {});
  const started = performance.now();
  try {
    const round = async (steps: number) => {
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) {
        const { loss, error } = trainer.trainStep();
        if (i === steps - 1) await loss.data();
        loss.dispose();
        error.dispose();
      }
      return (performance.now() - t0) / steps;
    };
    const warm = await round(1);
    if (warm > budgetMs || warm > enoughAbove) return { ms: warm, rounds: 0 };
    const times: number[] = [];
    while (times.length < rounds && (times.length === 0 || performance.now() - started < budgetMs)) times.push(await round(group));
    times.sort((a, b) => a - b);
    return { ms: times[Math.floor(times.length / 2)], rounds: times.length };
  } finally {
    trainer.dispose();
  }
}
