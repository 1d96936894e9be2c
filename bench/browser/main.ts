// The bench page: what bench/browser.ts drives through Playwright. Two jobs, exposed on window.benchApi:
//  - worker(backend, plan): a bench worker (bench-worker.ts) measures one backend and returns records;
//  - labLoop(plan, runs): the lab's own worker (src/worker/client.ts: the engine, its messages to the
//    page and all) trains each run, and the page times the steps from the StepPoints it receives; the
//    loop plan's runs alternate with bare steps in a bench worker (its rounds).
//  - profile(backend, options): one profiled training step in a bench worker (bench/profile.ts --browser).
// Progress goes to console.log, which the driver prints.

import { parseConfigQueryStrict } from '../../src/experiment/config.ts';
import { createLabEngine } from '../../src/worker/client.ts';
import type { EngineEvent, StepPoint } from '../../src/worker/protocol.ts';
import type { BenchRecord } from '../core.ts';
import { median, pairedLoop } from '../core.ts';
import { modelName, type BenchPlan, type StepPlan } from '../plan.ts';
import type { BareRequest, ProfileRequest, RunRequest, WorkerBackend, WorkerReply } from './messages.ts';

/** A bench worker for one backend: sends it `request`, resolves with what its last reply carries. */
function ask<T>(
  backend: WorkerBackend,
  request: RunRequest | ProfileRequest | BareRequest,
  take: (m: WorkerReply) => T | undefined,
): Promise<T> {
  const w = new Worker(new URL('./bench-worker.ts', import.meta.url), { type: 'module', name: `bench-${backend}` });
  return new Promise<T>((resolve, reject) => {
    w.addEventListener('message', (e: MessageEvent<WorkerReply>) => {
      const m = e.data;
      if (m.type === 'log') console.log(m.line);
      else {
        w.terminate();
        if (m.type === 'failed') reject(new Error(m.message));
        else resolve(take(m)!);
      }
    });
    w.addEventListener('error', (e) => {
      w.terminate();
      reject(new Error(`bench worker (${backend}) failed: ${e.message}`));
    });
    w.postMessage(request);
  });
}

function worker(backend: WorkerBackend, plan: BenchPlan): Promise<BenchRecord[]> {
  return ask(backend, { type: 'run', backend, plan }, (m) => (m.type === 'done' ? m.records : []));
}

function profile(backend: WorkerBackend, options: ProfileRequest['options']): Promise<string[]> {
  return ask(backend, { type: 'profile', backend, options }, (m) => (m.type === 'profiled' ? m.lines : []));
}

/**
 * The lab's full loop on wasm in its own worker, one record per run. A run with `rounds` (the loop
 * plan) alternates with bare steps in a bench worker, round by round (core.ts pairedLoop).
 */
async function labLoop(runs: StepPlan[]): Promise<BenchRecord[]> {
  const engine = createLabEngine();
  let points: StepPoint[] = [];
  let threads = 1;
  engine.subscribe((e: EngineEvent) => {
    if (e.type === 'steps') points.push(...e.points);
    if (e.type === 'backend') threads = Number(/(\d+) thread/.exec(e.info.adapter)?.[1] ?? 1);
    if (e.type === 'error') console.log(`lab worker error: ${e.message}`);
  });
  const info = await engine.setBackend('wasm');
  console.log(`lab worker: ${info.backend}, ${info.adapter}`);
  const data = await engine.loadData({ kind: 'served' });
  console.log(`lab worker data: ${data.label}`);
  const note = `the lab's worker (Engine, Trainer.run, StepPoint messages to the page; ${data.kind === 'full' ? 'CIFAR-10' : 'demo data'})`;

  /** One training run of warmup + steps in the lab's worker: the intervals between its steps after the warm-up. */
  const loopIntervals = async (p: StepPlan): Promise<number[]> => {
    points = [];
    const query = `protocol=gcr&depth=${p.depth}&batch=${p.batch}${p.extra ? `&${p.extra}` : ''}`;
    const summary = await engine.train(parseConfigQueryStrict(query), { maxSteps: p.warmup + p.steps, evalLimit: 100 });
    if (summary.end === 'failed') throw new Error(`lab run ${query} failed: ${summary.message}`);
    points.sort((a, b) => a.step - b.step);
    // ms is the training clock at each step (evaluations and pauses excluded).
    const intervals: number[] = [];
    for (let i = Math.max(1, p.warmup); i < points.length; i++) intervals.push(points[i]!.ms - points[i - 1]!.ms);
    return intervals;
  };

  const out: BenchRecord[] = [];
  for (const p of runs) {
    const base = { backend: 'wasm', context: 'browser-worker', threads, software: false } as const;
    let rec: BenchRecord;
    if (p.rounds !== undefined) {
      const bare = () => ask('wasm', { type: 'bare', backend: 'wasm', plan: p }, (m) => (m.type === 'bare-done' ? m.times : []));
      rec = await pairedLoop(p, bare, () => loopIntervals(p), base, note);
    } else {
      const intervals = await loopIntervals(p);
      const ms = median(intervals);
      rec = {
        what: 'loop',
        model: modelName(p.depth),
        batch: p.batch,
        ...base,
        medianMs: ms,
        imagesPerSec: (p.batch * 1000) / ms,
        steps: intervals.length,
        warmup: p.warmup,
        minMs: Math.min(...intervals),
        note,
      };
    }
    if (p.extra) rec.variant = p.extra;
    const bareText = rec.bareMs !== undefined ? ` (bare step in turns: ${rec.bareMs.toFixed(1)} ms)` : '';
    console.log(
      `  loop ${rec.model}${p.extra ? ` (${p.extra})` : ''} b${p.batch} wasm/lab-worker: ${rec.medianMs.toFixed(1)} ms${bareText}`,
    );
    out.push(rec);
  }
  return out;
}

declare global {
  interface Window {
    benchApi: { worker: typeof worker; labLoop: typeof labLoop; profile: typeof profile };
  }
}

window.benchApi = { worker, labLoop, profile };
document.title = 'bench ready';
