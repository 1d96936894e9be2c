// The Node part of `npm run bench`: tfjs-wasm and tfjs-cpu in this process, one backend at a time
// (bare steps, the lab's loop as the CLI runs it, drift, data pipeline, evaluation: bench/suite.ts).
// Node's tfjs-wasm runs on every core as in the browser worker (tfjs-wasm's threaded build, loaded by
// src/backend/wasm-threads.node.ts). Given a PyTorch to take turns with, wasm's part ends with the
// steps in turns with it (bench/torch-rounds.ts).

import { initBackend, type BackendName } from '../src/backend/setup.ts';
import { loadCifarDir } from '../src/data/node-files.ts';
import type { CifarData } from '../src/data/cifar.ts';
import { computeStats, experimentFor, randomSplit, timeBareSteps, type BenchRecord } from './core.ts';
import type { BenchPlan } from './plan.ts';
import { runSuite, sectionsFor } from './suite.ts';
import { runTorchRounds, type TorchTurns } from './torch-rounds.ts';

export type Log = (line: string) => void;

/** CIFAR-10 from public/data, or a random stand-in (said in every record's note) when it is absent. */
export async function loadBenchData(log: Log): Promise<{ data: CifarData; real: boolean }> {
  try {
    return { data: await loadCifarDir(undefined, { verifyMd5: false }), real: true };
  } catch (e) {
    log(`no CIFAR-10 in public/data (${(e as Error).message.split('\n')[0]}): random images instead; run \`npm run data\``);
    return { data: { train: randomSplit(5000, 1), test: randomSplit(2000, 2) }, real: false };
  }
}

export async function runNodeBench(
  plan: BenchPlan,
  log: Log,
  backends: Array<'wasm' | 'cpu'> = ['wasm', 'cpu'],
  torch?: TorchTurns,
): Promise<BenchRecord[]> {
  const { data, real } = await loadBenchData(log);
  const stats = computeStats(data.train);
  const out: BenchRecord[] = [];
  for (const backend of backends) {
    const info = await initBackend(backend as BackendName);
    log(`node ${backend}: ${info.threads} thread(s)${info.simd ? ', SIMD' : ''}${info.lab ? `, lab kernels: ${info.lab.flavour}` : ''}`);
    const env = {
      context: 'node' as const,
      backend,
      threads: info.threads,
      software: false,
      data,
      stats,
      log,
      ...(real ? {} : { dataNote: 'random images (no CIFAR-10 in public/data)' }),
    };
    out.push(...(await runSuite(env, plan, sectionsFor(backend, 'node', plan))));
    if (backend === 'wasm' && torch) {
      log(`node wasm in turns with PyTorch: ${plan.torchRounds.rounds} rounds at each of ResNet-${plan.torchRounds.depths.join(', ')}`);
      const lab = async (depth: number, batch: number, warmup: number, steps: number) =>
        (await timeBareSteps(experimentFor(depth, batch), data.train, stats, { warmup, steps, peak: false })).times;
      const base = { backend, context: env.context, threads: info.threads, software: false };
      const rounds = await runTorchRounds(plan.torchRounds, torch, lab, base, log);
      out.push(...(env.dataNote ? rounds.map((r) => ({ ...r, note: `${r.note}; ${env.dataNote}` })) : rounds));
    }
  }
  return out;
}
