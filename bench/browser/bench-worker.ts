// The bench page's worker: one backend per worker (wasm's thread count is fixed when its module
// loads), set up exactly as the lab's worker does it (src/backend/setup.ts: 2 XNNPACK threads on a
// 2-core machine), the data fetched from /data like the lab, then bench/suite.ts's measurements; or
// one profiled step (bench/profile-core.ts) for bench/profile.ts --browser; or only bare steps, the
// bare turns of the loop's measurement (main.ts labLoop).

import { initBackend } from '../../src/backend/setup.ts';
import { browserHost } from '../../src/worker/browser-host.ts';
import { loadServedData } from '../../src/worker/data-source.ts';
import { computeStats, experimentFor, randomSplit, timeBareSteps } from '../core.ts';
import { runSuite, sectionsFor } from '../suite.ts';
import { profileStep } from '../profile-core.ts';
import type { BareRequest, ProfileRequest, RunRequest, WorkerReply } from './messages.ts';

const post = (m: WorkerReply) => (self as unknown as Worker).postMessage(m);
const log = (line: string) => post({ type: 'log', line });

const failed = (err: unknown) => post({ type: 'failed', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });

self.addEventListener('message', (e: MessageEvent<RunRequest | ProfileRequest | BareRequest>) => {
  const req = e.data;
  if (req.type === 'bare') bare(req).then((times) => post({ type: 'bare-done', times }), failed);
  if (req.type === 'run') run(req).then((records) => post({ type: 'done', records }), failed);
  if (req.type === 'profile') profile(req).then((lines) => post({ type: 'profiled', lines }), failed);
});

async function profile({ backend, options }: ProfileRequest): Promise<string[]> {
  const info = await initBackend(backend, {
    ...(options.xnnpackThreads !== undefined ? { xnnpackThreads: options.xnnpackThreads } : {}),
    ...(options.kernels !== undefined ? { kernels: options.kernels } : {}),
  });
  const lines = await profileStep(backend, options);
  return [`browser worker, ${info.threads} thread(s)`, ...lines];
}

/** Bare steps on one batch of random images (the step's time does not depend on the pixels). */
async function bare({ backend, plan }: BareRequest): Promise<number[]> {
  await initBackend(backend);
  const split = randomSplit(4 * plan.batch, 1);
  const t = await timeBareSteps(experimentFor(plan.depth, plan.batch, plan.extra), split, computeStats(split), {
    warmup: plan.warmup,
    steps: plan.steps,
    peak: false,
  });
  return t.times;
}

async function run({ backend, plan }: RunRequest) {
  const info = await initBackend(backend);
  const adapter = info.adapterInfo ?? '';
  const software = (backend === 'webgl' || backend === 'webgpu') && /swiftshader|fallback|llvmpipe|software/i.test(adapter);
  log(`browser ${backend}: ${info.threads} thread(s)${info.simd ? ', SIMD' : ''}${adapter ? `, ${adapter}` : ''}`);
  // browserHost takes the site root as an absolute URL (it resolves the data's paths against it).
  const host = browserHost(new URL('/', location.href).href);
  const loaded = await loadServedData(host.fetchBytes, () => {});
  const data = loaded?.data ?? { train: randomSplit(5000, 1), test: randomSplit(2000, 2) };
  const stats = computeStats(data.train);
  const env = {
    context: 'browser-worker' as const,
    backend,
    threads: info.threads,
    software,
    data,
    stats,
    log,
    ...(loaded ? {} : { dataNote: 'random images (no CIFAR-10 served at /data)' }),
  };
  const records = await runSuite(env, plan, sectionsFor(backend, 'browser-worker', plan));
  return adapter ? records.map((r) => ({ ...r, note: [r.note, adapter].filter(Boolean).join('; ') })) : records;
}
