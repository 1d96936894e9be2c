// The Node part of `npm run bench`: tfjs-wasm and tfjs-cpu in this process, one backend at a time
// (bare steps, the lab's loop as the CLI runs it, drift, data pipeline, evaluation: bench/suite.ts).
// Node's tfjs-wasm runs on every core as in the browser worker (tfjs-wasm's threaded build, loaded by
// src/backend/wasm-threads.node.ts).

import { initBackend, type BackendName } from '../src/backend/setup.ts';
import { loadCifarDir } from '../src/data/node-files.ts';
import type { CifarData } from '../src/data/cifar.ts';
import { computeStats, randomSplit, type BenchRecord } from './core.ts';
import type { BenchPlan } from './plan.ts';
import { runSuite, sectionsFor } from './suite.ts';

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

export async function runNodeBench(plan: BenchPlan, log: Log, backends: Array<'wasm' | 'cpu'> = ['wasm', 'cpu']): Promise<BenchRecord[]> {
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
  }
  return out;
}
