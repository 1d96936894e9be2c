// Learning-rate schedules and warm-ups of the three protocols (paper, gcr, neon) plus constant and
// custom step schedules, with their one-line descriptions and their URL form. Pure functions, no tfjs.
// Every epoch number here is a 0-based epoch index, the number of complete epochs before the step, and
// "x from epoch E" means from the first step of epoch index E on, as both seeds count
// (docs/protocols.md §3.2): gcr's 0.01 starts at index 80 (the 81st epoch), neon's at index 90, and
// the paper's first 0.01 step is step index 32000. The training loop decides what it passes as
// ctx.epoch (gcr counts epochs in images: floor(images seen before the step / 50000)).

export type ScheduleSpec =
  | { kind: 'gcr' } // base lr; x0.1 from epoch 80; x0.01 from epoch 120 (gcr's code; its README says 80/160)
  | { kind: 'neon' } // x0.1 from epoch 90, x0.01 from epoch 135
  | { kind: 'paper' } // x0.1 from iteration 32000, x0.01 from 48000; training stops at 64000
  | { kind: 'constant' }
  | { kind: 'steps'; steps: { epoch: number; lr: number }[] }; // absolute lrs from those epochs; base lr before the first

/**
 * none: no warm-up.
 * fancy: gcr's "fancy policy" for its 110-layer run (README: "we started from a learning rate of 0.001
 *        until the first 400 iterations. We then raised the learning rate to 0.1"): an absolute 0.001
 *        for iteration indices 0..399, whatever the base.
 * paper: He et al. 2015 for 110 layers: "we use 0.01 to warm up the training until the training error
 *        is below 80% (about 400 iterations), and then go back to 0.1": 0.1 x base until the trainer
 *        reports the condition met, then the schedule.
 */
export type WarmupSpec = 'none' | 'fancy' | 'paper';
export const WARMUP_SPECS: readonly WarmupSpec[] = ['none', 'fancy', 'paper'];

export interface LrContext {
  /** 0-based count of steps done before this one. */
  iteration: number;
  /** 0-based epoch index of this step (the number of complete epochs so far). */
  epoch: number;
  /**
   * Whether the paper warm-up's condition (training error below 80%) has been met. The trainer must
   * latch it: once true it stays true (the paper goes back to 0.1 once and for all). Missing = not yet.
   */
  trainErrorBelow80?: boolean;
}

/** Thrown for a schedule, warm-up or context that cannot be used; the message names the bad part. */
export class ScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleError';
  }
}

/** Multiplier steps of the named profiles: [boundary, divisor] pairs; unit says what the boundary counts. */
const PROFILE_STEPS = {
  gcr: { unit: 'epoch', at: [80, 120] }, // train-cifar.lua: epochCounter < 80 / < 120
  neon: { unit: 'epoch', at: [90, 135] }, // cifar10_msra.py: Schedule([90, 135], 0.1)
  paper: { unit: 'iteration', at: [32000, 48000] }, // section 4.2: divide by 10 at 32k and 48k
} as const;

/** The paper stops training at 64k iterations. */
const PAPER_STOP_ITERATION = 64000;
/** gcr's fancy warm-up: 0.001 for the first 400 iterations. */
const FANCY_WARMUP_ITERATIONS = 400;
const FANCY_WARMUP_LR = 0.001;
/** The paper's warm-up: 0.01 for a base of 0.1. */
const PAPER_WARMUP_FACTOR = 0.1;

/** The learning rate of the step described by ctx. */
export function learningRate(spec: ScheduleSpec, warmup: WarmupSpec, baseLr: number, ctx: LrContext): number {
  checkIndex('iteration', ctx.iteration);
  checkIndex('epoch', ctx.epoch);
  if (!(Number.isFinite(baseLr) && baseLr >= 0)) throw new ScheduleError(`base learning rate must be a finite number >= 0, got ${baseLr}`);
  switch (warmup) {
    case 'none':
      break;
    case 'fancy':
      if (ctx.iteration < FANCY_WARMUP_ITERATIONS) return FANCY_WARMUP_LR;
      break;
    case 'paper':
      if (ctx.trainErrorBelow80 !== true) return PAPER_WARMUP_FACTOR * baseLr;
      break;
    default:
      throw new ScheduleError(`unknown warm-up "${String(warmup)}"; expected one of ${WARMUP_SPECS.join(', ')}`);
  }
  return scheduledLr(spec, baseLr, ctx);
}

function scheduledLr(spec: ScheduleSpec, baseLr: number, ctx: LrContext): number {
  switch (spec.kind) {
    case 'gcr':
    case 'neon':
    case 'paper': {
      const { unit, at } = PROFILE_STEPS[spec.kind];
      const t = unit === 'epoch' ? ctx.epoch : ctx.iteration;
      // Divide (not multiply by 0.1) so a base of 0.1 gives exactly gcr's literals 0.01 and 0.001.
      if (t < at[0]) return baseLr;
      if (t < at[1]) return baseLr / 10;
      return baseLr / 100;
    }
    case 'constant':
      return baseLr;
    case 'steps': {
      let best: { epoch: number; lr: number } | undefined;
      for (const s of spec.steps) if (s.epoch <= ctx.epoch && (best === undefined || s.epoch >= best.epoch)) best = s;
      return best === undefined ? baseLr : best.lr;
    }
    default:
      throw new ScheduleError(`unknown schedule kind "${String((spec as { kind: unknown }).kind)}"`);
  }
}

function checkIndex(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new ScheduleError(`${what} must be an integer >= 0 (0-based), got ${v}`);
}

/** The iteration index at which training stops (exclusive), for schedules that fix one: paper 64000. */
export function scheduleStopIteration(spec: ScheduleSpec): number | undefined {
  return spec.kind === 'paper' ? PAPER_STOP_ITERATION : undefined;
}

/** Throws a ScheduleError if a custom step list is unusable: epochs integers >= 0 strictly increasing, lrs finite > 0. */
export function validateScheduleSpec(spec: ScheduleSpec): void {
  if (spec.kind !== 'steps') {
    if (!['gcr', 'neon', 'paper', 'constant'].includes(spec.kind)) throw new ScheduleError(`unknown schedule kind "${String(spec.kind)}"`);
    return;
  }
  if (spec.steps.length === 0) throw new ScheduleError('a step schedule needs at least one EPOCH:LR step');
  let prev = -1;
  for (const { epoch, lr } of spec.steps) {
    if (!Number.isInteger(epoch) || epoch < 0) throw new ScheduleError(`step epoch must be an integer >= 0, got ${epoch}`);
    if (epoch <= prev) throw new ScheduleError(`step epochs must increase: ${epoch} comes after ${prev}`);
    if (!(Number.isFinite(lr) && lr > 0))
      throw new ScheduleError(`step learning rate must be a finite number > 0, got ${lr} (at epoch ${epoch})`);
    prev = epoch;
  }
}

/** A number for people: at most 6 significant digits, no float noise (0.1 / 10 -> "0.01"). */
function fmt(x: number): string {
  return String(Number(x.toPrecision(6)));
}

/** One line, e.g. "0.1, 0.01 from epoch 80, 0.001 from epoch 120". Epochs are 0-based indices (see top). */
export function describeSchedule(spec: ScheduleSpec, warmup: WarmupSpec, baseLr: number): string {
  let main: string;
  switch (spec.kind) {
    case 'gcr':
    case 'neon':
    case 'paper': {
      const { unit, at } = PROFILE_STEPS[spec.kind];
      main = `${fmt(baseLr)}, ${fmt(baseLr / 10)} from ${unit} ${at[0]}, ${fmt(baseLr / 100)} from ${unit} ${at[1]}`;
      if (spec.kind === 'paper') main += `, stop at iteration ${PAPER_STOP_ITERATION}`;
      break;
    }
    case 'constant':
      main = `${fmt(baseLr)} constant`;
      break;
    case 'steps':
      main = [fmt(baseLr), ...[...spec.steps].sort((a, b) => a.epoch - b.epoch).map((s) => `${fmt(s.lr)} from epoch ${s.epoch}`)].join(
        ', ',
      );
      break;
    default:
      throw new ScheduleError(`unknown schedule kind "${String((spec as { kind: unknown }).kind)}"`);
  }
  switch (warmup) {
    case 'none':
      return main;
    case 'fancy':
      return `${fmt(FANCY_WARMUP_LR)} for the first ${FANCY_WARMUP_ITERATIONS} iterations, then ${main}`;
    case 'paper':
      return `${fmt(PAPER_WARMUP_FACTOR * baseLr)} until training error < 80%, then ${main}`;
    default:
      throw new ScheduleError(`unknown warm-up "${String(warmup)}"; expected one of ${WARMUP_SPECS.join(', ')}`);
  }
}

const NAMED = ['gcr', 'neon', 'paper', 'constant'] as const;
/** A plain decimal number, optionally with an exponent (no hex, no Infinity). */
const DECIMAL = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** URL form: 'gcr' | 'neon' | 'paper' | 'constant' | '80:0.01,120:0.001' (EPOCH:LR, absolute lrs). */
export function parseScheduleSpec(s: string): ScheduleSpec {
  const text = s.trim();
  const named = NAMED.find((n) => n === text);
  if (named !== undefined) return { kind: named };
  if (text === '') throw new ScheduleError(`empty schedule; expected ${NAMED.join(', ')} or EPOCH:LR steps such as 80:0.01,120:0.001`);
  if (!text.includes(':')) {
    throw new ScheduleError(`unknown schedule "${text}"; expected ${NAMED.join(', ')} or EPOCH:LR steps such as 80:0.01,120:0.001`);
  }
  const steps = text.split(',').map((part) => {
    const m = /^\s*(\d+)\s*:\s*([^\s:]+)\s*$/.exec(part);
    if (m === null) throw new ScheduleError(`bad schedule step "${part}" in "${text}": expected EPOCH:LR, e.g. 80:0.01`);
    const epoch = Number(m[1]);
    const lr = DECIMAL.test(m[2]!) ? Number(m[2]) : NaN;
    if (!Number.isSafeInteger(epoch)) throw new ScheduleError(`bad epoch in schedule step "${part}": too large`);
    if (!(Number.isFinite(lr) && lr > 0))
      throw new ScheduleError(`bad learning rate "${m[2]}" in schedule step "${part}": expected a number > 0`);
    return { epoch, lr };
  });
  try {
    validateScheduleSpec({ kind: 'steps', steps });
  } catch (e) {
    throw new ScheduleError(`bad schedule "${text}": ${(e as Error).message}`);
  }
  return { kind: 'steps', steps };
}

/** Inverse of parseScheduleSpec (exact: numbers are written in JavaScript's shortest round-trip form). */
export function formatScheduleSpec(spec: ScheduleSpec): string {
  validateScheduleSpec(spec);
  if (spec.kind !== 'steps') return spec.kind;
  return spec.steps.map((s) => `${s.epoch}:${String(s.lr)}`).join(',');
}

/** URL form of the warm-up: 'none' | 'fancy' | 'paper'. */
export function parseWarmupSpec(s: string): WarmupSpec {
  const w = WARMUP_SPECS.find((x) => x === s.trim());
  if (w === undefined) throw new ScheduleError(`unknown warm-up "${s}"; expected one of ${WARMUP_SPECS.join(', ')}`);
  return w;
}
