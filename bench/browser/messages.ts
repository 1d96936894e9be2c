// Messages between the bench page (bench/browser/main.ts) and its bench worker (bench-worker.ts).
// Types only.

import type { BenchRecord } from '../core.ts';
import type { BenchPlan, StepPlan } from '../plan.ts';
import type { ProfileOptions } from '../profile-core.ts';

export type WorkerBackend = 'wasm' | 'cpu' | 'webgl' | 'webgpu';

export interface RunRequest {
  type: 'run';
  backend: WorkerBackend;
  plan: BenchPlan;
}

/** One profiled training step (bench/profile.ts --browser). */
export interface ProfileRequest {
  type: 'profile';
  backend: WorkerBackend;
  options: Omit<ProfileOptions, 'cpuMs'>;
}

/** Bare training steps only (the loop's turns, main.ts labLoop): their times in ms. */
export interface BareRequest {
  type: 'bare';
  backend: WorkerBackend;
  plan: StepPlan;
}

export type WorkerReply =
  | { type: 'log'; line: string }
  | { type: 'done'; records: BenchRecord[] }
  | { type: 'profiled'; lines: string[] }
  | { type: 'bare-done'; times: number[] }
  | { type: 'failed'; message: string };
