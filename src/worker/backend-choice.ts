// Which tfjs backend trains: the user's choice, or (auto) WebGPU when the adapter is real hardware,
// otherwise the fastest of WebGL, WASM and CPU measured on one small training step each.
//
// The measurement is the lab's own training step (Trainer.trainStep: forward, backward with the
// composed kernels, solver update) of an 8-layer ResNet at batch 16 on random images: one warm-up
// step (shader compilation, wasm start-up) and then the median of a few timed steps, with a time budget
// so a slow backend cannot hold the page up for long.

import { protocolDefaults } from '../state/config.ts';
import { resolveExperiment } from '../train/experiment.ts';
import { Trainer } from '../train/trainer.ts';
import { randomSplit } from '../data/random-split.ts';
import type { BackendChoice, BackendInfo, BackendName, BackendTiming } from './protocol.ts';

export interface GpuProbe {
  /** "vendor architecture (description)" as the adapter describes itself. */
  adapter: string;
  /** A software (fallback) adapter such as SwiftShader. */
  fallback: boolean;
}

export interface BackendHost {
  /** Backends this environment can run, in the order to try when measuring. */
  readonly backends: readonly BackendName[];
  /** Switch tfjs to this backend (kernels registered, wasm files located, threads set); says what runs it. */
  initBackend(name: BackendName): Promise<{ adapter: string }>;
  /** The WebGPU adapter, or undefined when there is none. */
  probeWebGpu(): Promise<GpuProbe | undefined>;
}

export const MEASURE_BATCH = 16;
export const MEASURE_DEPTH = 8;
const TIMED_STEPS = 3;
/** wasm first: it is usually the fastest without a GPU, which lets the cpu measurement stop early. */
const MEASURE_ORDER: readonly BackendName[] = ['wasm', 'webgl', 'cpu'];
/** A backend whose warm-up step takes longer than this is timed on that step alone. */
const WARMUP_BUDGET_MS = 8_000;

/**
 * Milliseconds of one training step of a small ResNet on the current backend (median after warm-up).
 * `enoughAbove`: return the warm-up time at once when it already exceeds this (a backend with nothing
 * to compile on its first step cannot win from there).
 */
export async function timeTrainingStep(enoughAbove = Infinity): Promise<number> {
  const config = { ...protocolDefaults('gcr'), depth: MEASURE_DEPTH, batch: MEASURE_BATCH, epochs: 1 };
  const split = randomSplit(MEASURE_BATCH * 2, 7);
  const trainer = new Trainer(resolveExperiment(config), { train: split, test: split }, {});
  try {
    const step = async () => {
      const t0 = performance.now();
      const { loss, error } = trainer.trainStep();
      await loss.data();
      loss.dispose();
      error.dispose();
      return performance.now() - t0;
    };
    const warm = await step();
    if (warm > WARMUP_BUDGET_MS || warm > enoughAbove) return warm;
    const times: number[] = [];
    for (let i = 0; i < TIMED_STEPS; i++) times.push(await step());
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)];
  } finally {
    trainer.dispose();
  }
}

const round = (ms: number) => `${Math.round(ms)} ms`;

/**
 * Switches tfjs to the chosen backend, or picks one (auto), and says why. `onProbe` receives
 * progress lines while measuring.
 */
export async function chooseBackend(
  choice: BackendChoice,
  host: BackendHost,
  onProbe: (message: string) => void,
  remembered?: BackendInfo,
): Promise<BackendInfo> {
  if (choice === 'auto' && remembered && host.backends.includes(remembered.backend)) {
    try {
      const { adapter } = await host.initBackend(remembered.backend);
      const reason = remembered.reason.startsWith('measured earlier') ? remembered.reason : `measured earlier in this browser: ${remembered.reason}`;
      return { ...remembered, adapter, reason };
    } catch {
      // the remembered backend no longer starts: measure again
    }
  }
  if (choice !== 'auto') {
    if (!host.backends.includes(choice)) throw new Error(`the ${choice} backend is not available here (available: ${host.backends.join(', ')})`);
    const { adapter } = await host.initBackend(choice);
    return { backend: choice, adapter, reason: 'chosen by you', timings: [] };
  }

  let gpuNote = 'WebGPU: not available';
  if (host.backends.includes('webgpu')) {
    onProbe('looking for a WebGPU adapter');
    const gpu = await host.probeWebGpu().catch(() => undefined);
    if (gpu && !gpu.fallback) {
      try {
        const { adapter } = await host.initBackend('webgpu');
        return { backend: 'webgpu', adapter, reason: `WebGPU on a hardware adapter (${gpu.adapter})`, timings: [] };
      } catch (e) {
        gpuNote = `WebGPU failed to start (${(e as Error).message})`;
      }
    } else if (gpu) {
      gpuNote = `WebGPU has only a software adapter (${gpu.adapter})`;
    } else {
      gpuNote = 'WebGPU: no adapter';
    }
  }

  const timings: BackendTiming[] = [];
  let best = Infinity;
  for (const backend of MEASURE_ORDER.filter((b) => host.backends.includes(b))) {
    onProbe(`measuring ${backend} (one ResNet-${MEASURE_DEPTH} step at batch ${MEASURE_BATCH})`);
    try {
      await host.initBackend(backend);
      // WebGL compiles its shaders on the first step, so only the CPU backends may stop early.
      const ms = await timeTrainingStep(backend === 'webgl' ? Infinity : 3 * best);
      best = Math.min(best, ms);
      timings.push({ backend, ms });
    } catch (e) {
      timings.push({ backend, problem: (e as Error).message });
    }
  }
  const measured = timings.filter((t): t is BackendTiming & { ms: number } => t.ms !== undefined).sort((a, b) => a.ms - b.ms);
  if (measured.length === 0) {
    throw new Error(`no backend could train here: ${timings.map((t) => `${t.backend}: ${t.problem}`).join('; ')}`);
  }
  const fastest = measured[0];
  const { adapter } = await host.initBackend(fastest.backend);
  const list = measured.map((t) => `${t.backend} ${round(t.ms)}`).join(', ');
  return { backend: fastest.backend, adapter, reason: `fastest measured per step: ${list}; ${gpuNote}`, timings };
}
