// Messages between the bench page (bench/browser/main.ts) and its bench worker (bench-worker.ts).
// Types only.

import type { BenchRecord } from '../core.ts';
import type { BenchPlan } from '../plan.ts';

export type WorkerBackend = 'wasm' | 'cpu' | 'webgl' | 'webgpu';

export interface RunRequest {
  type: 'run';
  backend: WorkerBackend;
  plan: BenchPlan;
}

export type WorkerReply =
  | { type: 'log'; line: string }
  | { type: 'done'; records: BenchRecord[] }
  | { type: 'failed'; message: string };
