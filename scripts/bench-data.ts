// Throughput of the training input pipeline (preprocess + augment + batch) per protocol, on the
// real training set: `npx tsx scripts/bench-data.ts`. Needs `npm run data` first.

import type { DataProtocol } from '../src/experiment/protocols.ts';
import { BatchSampler, computeStats } from '../src/data/batches.ts';
import { loadCifarDir } from '../src/data/node-files.ts';
import { createRng } from '../src/util/rng.ts';

const PROTOCOLS: Record<string, DataProtocol> = {
  paper: { preprocess: 'pixel-mean', augment: 'pad-crop', flip: true, sampling: 'shuffle' },
  gcr: { preprocess: 'pixel-mean-global-std', augment: 'shift', flip: true, sampling: 'with-replacement' },
  neon: { preprocess: 'channel-mean', augment: 'neon-pad-crop', flip: true, sampling: 'shuffle' },
};

const t0 = performance.now();
const { train } = await loadCifarDir(undefined, { verifyMd5: false });
const t1 = performance.now();
const stats = computeStats(train);
const t2 = performance.now();
console.log(`load ${(t1 - t0).toFixed(0)} ms, computeStats ${(t2 - t1).toFixed(0)} ms`);
const batch = 128;
for (const [name, protocol] of Object.entries(PROTOCOLS)) {
  for (const reuse of [true, false]) {
    const sampler = new BatchSampler(train, stats, protocol, createRng(1));
    const buf = { x: new Float32Array(batch * 3072), y: new Int32Array(batch) };
    for (let i = 0; i < 50; i++) sampler.next(batch, reuse ? buf : undefined); // warm-up
    const steps = 391 * 2;
    const s = performance.now();
    for (let i = 0; i < steps; i++) sampler.next(batch, reuse ? buf : undefined);
    const ms = performance.now() - s;
    console.log(
      `${name.padEnd(5)} ${reuse ? 'reused buffers' : 'new buffers   '}: ${Math.round((steps * batch) / (ms / 1000)).toLocaleString('en')} images/s (${(ms / steps).toFixed(2)} ms per batch of ${batch})`,
    );
  }
}
