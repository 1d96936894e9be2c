// Which tfjs backend trains: the user's choice, or (auto) the fastest one measured here.
//
// Automatic: with a hardware WebGPU adapter, WebGPU and WASM are timed on the experiment's own step
// (its depth and batch) and the faster is taken. Without one (no adapter, or a software adapter such as
// SwiftShader, which is left out), WASM, WebGL and CPU are timed on a small step (ResNet-8, batch 16).
// Every backend considered comes back in `timings`, with its figure or the reason it has none. A choice
// remembered for this device and step is taken without measuring. A backend chosen by hand that cannot
// start is named in `refused`; the backend in use stays, or one is chosen automatically.
// What it is not: the timing itself (step-timing.ts), the page's memory of choices (src/ui/backend-memory.ts).

import { timeTrainingStep, type StepTimingOptions } from './step-timing.ts';
import type { BackendChoice, BackendInfo, BackendName, BackendTiming, SetBackendOptions, StepShape } from './protocol.ts';

export interface GpuProbe {
  /** "vendor architecture (description)" as the adapter describes itself. */
  adapter: string;
  /** A software (fallback) adapter such as SwiftShader. */
  fallback: boolean;
}

/** The environment edge: what a browser worker or a Node process can run, and the machine it is. */
export interface BackendHost {
  /** Backends this environment can run. */
  readonly backends: readonly BackendName[];
  /** Why each backend missing from `backends` cannot run here. */
  readonly unavailable?: Partial<Record<BackendName, string>>;
  /** This machine apart from its GPU (cores, browser): with the adapter, the device a choice is remembered for. */
  readonly machine: string;
  /** Switch tfjs to this backend (kernels registered, wasm files located, threads set); says what runs it. */
  initBackend(name: BackendName): Promise<{ adapter: string }>;
  /** The WebGPU adapter, or undefined when there is none. */
  probeWebGpu(): Promise<GpuProbe | undefined>;
}

export interface ChooseOptions extends SetBackendOptions {
  /** The backend in use, kept when a backend chosen by hand cannot start. */
  current?: BackendInfo;
  /** Time budget per backend for the experiment's step on a hardware GPU (default GPU_BUDGET_MS). */
  budgetMs?: number;
}

/** The small step timed without a hardware GPU: quick on every backend, CPU included. */
export const PROBE_STEP: StepShape = { depth: 8, batch: 16 };
/** The step timed on a hardware GPU when the caller names none: the lab's default experiment. */
export const DEFAULT_STEP: StepShape = { depth: 20, batch: 128 };
/** A backend whose warm-up step on the small probe takes longer than this is timed on that step alone. */
const PROBE_BUDGET_MS = 8_000;
/** Per backend on a hardware GPU: warm-up and rounds stop starting after this (a ResNet-110 step on WASM takes seconds). */
const GPU_BUDGET_MS = 15_000;
/** Steps per timed round on a GPU backend: the engine reads the loss back every 4 steps there. */
const GPU_ROUND_STEPS = 4;
/** The order of `timings`. */
const ALL: readonly BackendName[] = ['webgpu', 'wasm', 'webgl', 'cpu'];
/** wasm first: usually the fastest without a GPU, which lets the cpu measurement stop early. */
const PROBE_ORDER: readonly BackendName[] = ['wasm', 'webgl', 'cpu'];
const EARLIER = 'measured earlier on this device: ';

const problem = (e: unknown) => (e instanceof Error ? e.message : String(e));
const sameStep = (a: StepShape, b: StepShape) => a.depth === b.depth && a.batch === b.batch;
export const stepName = (s: StepShape) => `ResNet-${s.depth} at batch ${s.batch}`;

/** The device a choice is remembered for: the WebGPU adapter (or its absence) and the host's machine. */
export function deviceKey(gpu: GpuProbe | undefined, machine: string): string {
  const adapter = gpu ? `WebGPU ${gpu.fallback ? 'software adapter' : 'adapter'}: ${gpu.adapter}` : 'no WebGPU adapter';
  return `${adapter}; ${machine}`;
}

/**
 * Switches tfjs to the chosen backend, or picks one (auto), and says why. `onProbe` receives progress
 * lines while measuring. Throws only when no backend can train at all.
 */
export async function chooseBackend(
  choice: BackendChoice,
  host: BackendHost,
  onProbe: (message: string) => void,
  options: ChooseOptions = {},
): Promise<BackendInfo> {
  if (choice === 'auto') return chooseAutomatically(host, onProbe, options);
  let reason: string;
  if (host.backends.includes(choice)) {
    try {
      const { adapter } = await host.initBackend(choice);
      return { backend: choice, adapter, reason: 'chosen by you', timings: [] };
    } catch (e) {
      reason = problem(e);
    }
  } else {
    reason = host.unavailable?.[choice] ?? `not offered here (available: ${host.backends.join(', ')})`;
  }
  const refused = { backend: choice, reason };
  const { current } = options;
  if (current && current.backend !== choice) {
    onProbe(`${choice} could not start; going back to ${current.backend}`);
    try {
      const { adapter } = await host.initBackend(current.backend);
      return { ...current, adapter, refused };
    } catch {
      // the one in use no longer starts either: choose automatically
    }
  }
  onProbe(`${choice} could not start; choosing automatically`);
  try {
    return { ...(await chooseAutomatically(host, onProbe, options)), refused };
  } catch (e) {
    throw new Error(`${choice} could not start (${reason}), and ${problem(e)}`, { cause: e });
  }
}

async function measure(host: BackendHost, backend: BackendName, step: StepShape, timing: StepTimingOptions): Promise<BackendTiming> {
  try {
    await host.initBackend(backend);
  } catch (e) {
    return { backend, outcome: 'failed', reason: `could not start: ${problem(e)}` };
  }
  try {
    const { ms, rounds } = await timeTrainingStep(step, timing);
    return { backend, outcome: 'measured', ms, rounds };
  } catch (e) {
    return { backend, outcome: 'failed', reason: `a training step failed: ${problem(e)}` };
  }
}

async function chooseAutomatically(host: BackendHost, onProbe: (message: string) => void, options: ChooseOptions): Promise<BackendInfo> {
  const timings = new Map<BackendName, BackendTiming>();
  for (const backend of ALL) {
    if (!host.backends.includes(backend)) {
      timings.set(backend, { backend, outcome: 'not-available', reason: host.unavailable?.[backend] ?? 'not offered in this environment' });
    }
  }
  let gpu: GpuProbe | undefined;
  if (host.backends.includes('webgpu')) {
    onProbe('looking for a WebGPU adapter');
    try {
      gpu = await host.probeWebGpu();
      const why = !gpu
        ? 'no WebGPU adapter'
        : gpu.fallback
          ? `only a software adapter (${gpu.adapter}), left out of the automatic choice`
          : undefined;
      if (why) timings.set('webgpu', { backend: 'webgpu', outcome: 'not-available', reason: why });
    } catch (e) {
      timings.set('webgpu', { backend: 'webgpu', outcome: 'failed', reason: `asking for an adapter failed: ${problem(e)}` });
    }
  }
  const hardware = gpu !== undefined && !gpu.fallback;
  const device = deviceKey(gpu, host.machine);
  const step = hardware ? (options.step ?? DEFAULT_STEP) : PROBE_STEP;

  const known = options.remembered?.find(
    (r) => r.measuredOn?.device === device && sameStep(r.measuredOn.step, step) && host.backends.includes(r.backend),
  );
  if (known) {
    try {
      const { adapter } = await host.initBackend(known.backend);
      const reason = known.reason.startsWith(EARLIER) ? known.reason : EARLIER + known.reason;
      return { backend: known.backend, adapter, reason, timings: known.timings, measuredOn: known.measuredOn };
    } catch {
      // the remembered backend no longer starts: measure again
    }
  }

  const fastest = async (reason: string, timed: StepShape): Promise<BackendInfo | undefined> => {
    const measured = [...timings.values()].flatMap((t) => (t.outcome === 'measured' ? [t] : [])).sort((a, b) => a.ms - b.ms);
    if (measured.length === 0) return undefined;
    const { backend } = measured[0];
    const { adapter } = await host.initBackend(backend);
    const ordered = ALL.flatMap((b) => timings.get(b) ?? []);
    return { backend, adapter, reason, timings: ordered, measuredOn: { device, step: timed } };
  };

  if (hardware) {
    const budgetMs = options.budgetMs ?? GPU_BUDGET_MS;
    // WebGPU first: its warm-up compiles shaders, so it cannot stop early; WASM then stops early when far slower.
    onProbe(`timing webgpu (${stepName(step)}, after a warm-up step)`);
    const onGpu = await measure(host, 'webgpu', step, { budgetMs, group: GPU_ROUND_STEPS });
    timings.set('webgpu', onGpu);
    if (host.backends.includes('wasm')) {
      onProbe(`timing wasm (${stepName(step)}, after a warm-up step)`);
      timings.set(
        'wasm',
        await measure(host, 'wasm', step, { budgetMs, enoughAbove: onGpu.outcome === 'measured' ? 3 * onGpu.ms : Infinity }),
      );
    }
    for (const backend of ['webgl', 'cpu'] as const) {
      if (!timings.has(backend))
        timings.set(backend, { backend, outcome: 'not-measured', reason: 'with a hardware GPU, WebGPU and WASM are compared' });
    }
    const picked = await fastest(`faster of WebGPU and WASM per step of ${stepName(step)}`, step);
    if (picked) return picked;
    // Neither could train: the small step on the others.
    for (const backend of ['webgl', 'cpu'] as const) if (timings.get(backend)?.outcome === 'not-measured') timings.delete(backend);
  }

  let best = Infinity;
  for (const backend of PROBE_ORDER) {
    if (timings.has(backend)) continue;
    onProbe(`measuring ${backend} (one ${stepName(PROBE_STEP)} step)`);
    // WebGL compiles its shaders on the first step, so only the CPU backends may stop early.
    const t = await measure(host, backend, PROBE_STEP, {
      budgetMs: PROBE_BUDGET_MS,
      enoughAbove: backend === 'webgl' ? Infinity : 3 * best,
    });
    if (t.outcome === 'measured') best = Math.min(best, t.ms);
    timings.set(backend, t);
  }
  const picked = await fastest(`fastest measured per step of ${stepName(PROBE_STEP)}`, PROBE_STEP);
  if (picked) return picked;
  const reasons = ALL.flatMap((b) => {
    const t = timings.get(b);
    return t && t.outcome !== 'measured' ? [`${b}: ${t.reason}`] : [];
  });
  throw new Error(`no backend could train here: ${reasons.join('; ')}`);
}
