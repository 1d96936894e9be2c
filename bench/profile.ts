// Where a training step's time and memory go, per kernel (tf.profile, bench/profile-core.ts), on one
// backend in Node or, with --browser, in a headless-Chromium worker set up as the lab's. A tool for the
// speed work, not part of `npm run bench`. In Node the step is also timed by the process's CPU time.
//   npx tsx bench/profile.ts --backend wasm --depth 20 --batch 128 --top 20 [--memory]
//   npx tsx bench/profile.ts --browser --depth 110          (the browser worker: threads show here)
// To compare, leave a piece out: --no-lab-kernels (all of the lab's wasm kernels), --no-lab-taps (filter
// gradient as matrix products), --no-lab-split (one thread), --no-lab-conv (stride-1 convolutions in
// XNNPACK), --no-winograd (direct 3x3), --winograd-tile 2 (F(2x2, 3x3) everywhere), --chunks 1 (one
// even part per thread), --no-relaxed-simd, --threads 1 (Node: single-threaded tfjs-wasm),
// --xnnpack-threads N (XNNPACK's own threads, apart from the lab kernels' split).

import { parseArgs } from 'node:util';
import { initBackend, type BackendName } from '../src/backend/setup.ts';
import { enableRelaxedSimd } from '../src/backend/relaxed-simd.node.ts';
import { profileStep, type ProfileOptions } from './profile-core.ts';
import type { WorkerBackend } from './browser/messages.ts';

const { values: a } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    depth: { type: 'string', default: '20' },
    batch: { type: 'string', default: '128' },
    extra: { type: 'string', default: '' },
    top: { type: 'string', default: '25' },
    steps: { type: 'string', default: '3' },
    memory: { type: 'boolean', default: false },
    browser: { type: 'boolean', default: false },
    'no-lab-kernels': { type: 'boolean', default: false },
    'no-lab-taps': { type: 'boolean', default: false },
    'no-lab-split': { type: 'boolean', default: false },
    'no-lab-conv': { type: 'boolean', default: false },
    'no-winograd': { type: 'boolean', default: false },
    'winograd-tile': { type: 'string', default: '4' },
    chunks: { type: 'string', default: '8' },
    'no-relaxed-simd': { type: 'boolean', default: false },
    threads: { type: 'string' },
    'xnnpack-threads': { type: 'string' },
  },
});

const opts: ProfileOptions = {
  ...(a['xnnpack-threads'] != null ? { xnnpackThreads: Number(a['xnnpack-threads']) } : {}),
  depth: Number(a.depth),
  batch: Number(a.batch),
  extra: a.extra,
  steps: Number(a.steps),
  top: Number(a.top),
  memory: a.memory,
  kernels: {
    labWasm: !a['no-lab-kernels'],
    labFilterGradTaps: !a['no-lab-taps'],
    threadSplitting: !a['no-lab-split'],
    labConv: !a['no-lab-conv'],
    winograd: !a['no-winograd'],
    winogradTile: a['winograd-tile'] === '2' ? 2 : 4,
    chunksPerThread: Number(a.chunks),
  },
};

if (a.browser) {
  const { profileInBrowser } = await import('./browser.ts');
  const lines = await profileInBrowser(a.backend as WorkerBackend, opts, (l) => console.error(l));
  console.log(lines.join('\n'));
} else {
  if (!a['no-relaxed-simd']) enableRelaxedSimd(); // as the lab's CLI does
  await initBackend(a.backend as BackendName, {
    ...(a.threads != null ? { threads: Number(a.threads) } : {}),
    ...(a['xnnpack-threads'] != null ? { xnnpackThreads: Number(a['xnnpack-threads']) } : {}),
    ...(opts.kernels != null ? { kernels: opts.kernels } : {}),
  });
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  console.log((await profileStep(a.backend, { ...opts, cpuMs })).join('\n'));
}
