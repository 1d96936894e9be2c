// What the charts draw for an imported run (the overlay). Pure functions, no React: the overlay's
// loss is smoothed over its full series (src/state/curves.ts) and only then decimated, so its line is
// the same whatever the zoom or the number of points drawn.

import type { StepSeries, TestSeries } from '../../state/run-series.ts';
import { emaSmooth } from '../../state/curves.ts';
import { decimateEvery, type XY } from '../chart-data.ts';

export const MAX_OVERLAY_POINTS = 400;

/** Smoothed loss of an imported run against epochs, at most `maxPoints` points. */
export function overlayLoss(steps: Pick<StepSeries, 'epoch' | 'loss'>, maxPoints = MAX_OVERLAY_POINTS): XY[] {
  const smooth = emaSmooth(steps.loss);
  return decimateEvery(
    steps.epoch.length,
    (i) => steps.epoch[i]!,
    (i) => smooth[i]!,
    maxPoints,
  ).filter((p) => Number.isFinite(p.y));
}

/** Test error in percent against epochs (as the error chart draws the current run: at least 0.5 on the log axis). */
export function overlayErrors(tests: Pick<TestSeries, 'epoch' | 'testError'>): XY[] {
  return Array.from(tests.epoch, (x, i) => ({ x, y: Math.max(tests.testError[i]! * 100, 0.5) }));
}
