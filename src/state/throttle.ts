// Did the browser slow training while the tab was in the background? Compares the worker's own
// training time per step (StepPoint.ms, measured in the worker: pauses, evaluations and checkpoints
// excluded) while the tab was hidden with the steps just before it was hidden. Timer throttling or a
// frozen worker shows up as longer steps; the page's own (throttled) clock is never used. Pure.

/** Hidden steps must take at least this many times as long as visible ones to count as throttled. */
export const THROTTLED_RATIO = 1.5;
/** Steps before the tab was hidden that make the reference speed. */
const REFERENCE_STEPS = 50;
/** Fewer step intervals than this on either side: no verdict. */
const MIN_INTERVALS = 3;

export interface ThrottleReport {
  /** Steps trained while the tab was hidden. */
  hiddenSteps: number;
  /** Median training milliseconds per step before and while hidden. */
  visibleMsPerStep: number;
  hiddenMsPerStep: number;
  /** visibleMsPerStep / hiddenMsPerStep: 1 at full speed, 0.1 at a tenth. */
  speed: number;
  throttled: boolean;
  message: string;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Milliseconds per step between consecutive entries of points[from..to) (by step number). */
function intervals(points: readonly { step: number; ms: number }[], from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = Math.max(from, 1); i < to; i++) {
    const a = points[i - 1];
    const b = points[i];
    const ds = b.step - a.step;
    if (ds > 0 && Number.isFinite(a.ms) && Number.isFinite(b.ms)) out.push((b.ms - a.ms) / ds);
  }
  return out;
}

/**
 * `points`: the run's steps in order; `hiddenAfterStep`: the last step the page had when the tab was
 * hidden; `visibleAtStep`: the last step when it came back. Undefined when there are too few steps to
 * say (a short absence, or the run ended meanwhile).
 */
export function throttleReport(
  points: readonly { step: number; ms: number }[],
  hiddenAfterStep: number,
  visibleAtStep: number,
): ThrottleReport | undefined {
  const first = points.findIndex((p) => p.step >= hiddenAfterStep);
  if (first < 0) return undefined;
  let last = first;
  while (last + 1 < points.length && points[last + 1].step <= visibleAtStep) last++;
  const hidden = intervals(points, first + 1, last + 1);
  const visible = intervals(points, Math.max(1, first - REFERENCE_STEPS), first + 1);
  if (hidden.length < MIN_INTERVALS || visible.length < MIN_INTERVALS) return undefined;
  const visibleMsPerStep = median(visible);
  const hiddenMsPerStep = median(hidden);
  const speed = hiddenMsPerStep > 0 ? visibleMsPerStep / hiddenMsPerStep : 1;
  const throttled = hiddenMsPerStep >= THROTTLED_RATIO * visibleMsPerStep;
  const hiddenSteps = points[last].step - points[first].step;
  const ms = (v: number) => `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;
  const message = throttled
    ? `While this tab was in the background the browser slowed training to ${Math.round(speed * 100)}% of its speed (${ms(hiddenMsPerStep)} a step instead of ${ms(visibleMsPerStep)}, over ${hiddenSteps} steps). Keep the tab visible, or in a window of its own, for full speed.`
    : `Training went on at full speed while this tab was in the background (${ms(hiddenMsPerStep)} a step, ${hiddenSteps} steps).`;
  return { hiddenSteps, visibleMsPerStep, hiddenMsPerStep, speed, throttled, message };
}
