// A run's curves as typed columns: one value per training step (StepSeries) and one per test-set
// evaluation (TestSeries), how they are collected from a run's events (SeriesBuilder), and the final
// and best test error they give (summariseTests). Pure; the file container is bundle.ts.

/** One value per training step. */
export interface StepSeries {
  /** Iterations done, 1-based, increasing. */
  step: Uint32Array;
  /** Fractional epochs: step x batch / training images. */
  epoch: Float64Array;
  lr: Float64Array;
  /** Batch loss (float32, as computed). */
  loss: Float32Array;
  /** Error on the training batch, before the update. */
  trainError: Float32Array;
  /** Training milliseconds since the run started (evaluations and pauses excluded), if recorded. */
  ms?: Float64Array;
}

/** One value per test-set evaluation (epoch 0 = before training). */
export interface TestSeries {
  step: Uint32Array;
  epoch: Float64Array;
  /** Fraction misclassified. */
  testError: Float64Array;
  /** Test images used. */
  evaluated: Uint32Array;
}

export interface TestPoint {
  step: number;
  epoch: number;
  testError: number;
  evaluated: number;
}

export interface RunOutcome {
  /** The last evaluation: the headline number, as gcr reported it. */
  final: TestPoint | null;
  /** The lowest test error of the run. It was chosen by looking at the test set: not a fair result. */
  best: (TestPoint & { chosenOnTestSet: true }) | null;
}

/** Final and best test error of a test series (ties: the earliest). */
export function summariseTests(tests: TestSeries): RunOutcome {
  const n = tests.testError.length;
  if (n === 0) return { final: null, best: null };
  const point = (i: number): TestPoint => ({
    step: tests.step[i]!,
    epoch: tests.epoch[i]!,
    testError: tests.testError[i]!,
    evaluated: tests.evaluated[i]!,
  });
  let b = 0;
  for (let i = 1; i < n; i++) if (tests.testError[i]! < tests.testError[b]!) b = i;
  return { final: point(n - 1), best: { ...point(b), chosenOnTestSet: true } };
}

/** Collects step and test points as a run reports them, then gives the typed columns. */
export class SeriesBuilder {
  private readonly s = {
    step: [] as number[],
    epoch: [] as number[],
    lr: [] as number[],
    loss: [] as number[],
    trainError: [] as number[],
    ms: [] as number[],
  };
  private readonly t = { step: [] as number[], epoch: [] as number[], testError: [] as number[], evaluated: [] as number[] };
  private withMs = true;

  pushStep(p: { step: number; epoch: number; lr: number; loss: number; trainError: number; ms?: number }): void {
    this.s.step.push(p.step);
    this.s.epoch.push(p.epoch);
    this.s.lr.push(p.lr);
    this.s.loss.push(p.loss);
    this.s.trainError.push(p.trainError);
    if (p.ms === undefined) this.withMs = false;
    else this.s.ms.push(p.ms);
  }

  pushTest(p: TestPoint): void {
    this.t.step.push(p.step);
    this.t.epoch.push(p.epoch);
    this.t.testError.push(p.testError);
    this.t.evaluated.push(p.evaluated);
  }

  get stepCount(): number {
    return this.s.step.length;
  }

  build(): { steps: StepSeries; tests: TestSeries } {
    const steps: StepSeries = {
      step: Uint32Array.from(this.s.step),
      epoch: Float64Array.from(this.s.epoch),
      lr: Float64Array.from(this.s.lr),
      loss: Float32Array.from(this.s.loss),
      trainError: Float32Array.from(this.s.trainError),
    };
    if (this.withMs && this.s.ms.length === this.s.step.length) steps.ms = Float64Array.from(this.s.ms);
    return {
      steps,
      tests: {
        step: Uint32Array.from(this.t.step),
        epoch: Float64Array.from(this.t.epoch),
        testError: Float64Array.from(this.t.testError),
        evaluated: Uint32Array.from(this.t.evaluated),
      },
    };
  }
}
