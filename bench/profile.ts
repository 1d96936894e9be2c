// Where a training step's time and memory go, per kernel (tf.profile), on one backend in Node: the
// kernels by total time, and the tensor bytes alive over the step. A tool for the speed work behind
// `npm run bench`, not part of it. The step is timed by the wall clock and by the process's CPU time
// (tfjs-wasm runs on one thread in Node, so CPU time is steadier on a machine shared with other work).
// Rows in parentheses are not kernels but scopes that tf.profile also records (a tf.customGrad's
// forward function, named tidies): their time includes the kernels inside them, which have rows of
// their own, so they are left out of the total.
//
//   npx tsx bench/profile.ts --backend wasm --depth 20 --batch 128 --top 20
//   npx tsx bench/profile.ts --memory      (also prints the tensor-memory curve)

import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '../src/backend/setup.ts';
import { createSolver } from '../src/train/solvers.ts';
import { solverParamsOf, trainOnBatch } from '../src/train/trainer.ts';
import { ResNet } from '../src/model/resnet.ts';
import { BatchSampler, computeStats } from '../src/data/batches.ts';
import { createRng } from '../src/util/rng.ts';
import { experimentFor, median, randomSplit, wasmHeapBytes } from './core.ts';

const { values: a } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    depth: { type: 'string', default: '20' },
    batch: { type: 'string', default: '128' },
    extra: { type: 'string', default: '' },
    top: { type: 'string', default: '25' },
    steps: { type: 'string', default: '3' },
    memory: { type: 'boolean', default: false },
  },
});

await initBackend(a.backend as BackendName);
const exp = experimentFor(Number(a.depth), Number(a.batch), a.extra);
const split = randomSplit(Number(a.batch) * 2, 1);
const stats = computeStats(split);
const model = ResNet.create(exp.spec, 1);
const solver = createSolver(exp.solver);
const params = solverParamsOf(model);
const b = new BatchSampler(split, stats, exp.data, createRng(3)).next(Number(a.batch));
const step = async () => {
  const { loss, error } = trainOnBatch(model, solver, params, b.x, b.y, 0.01, 0.1);
  await loss.data();
  tf.dispose([loss, error]);
};
await step();
const wall: number[] = [];
const cpu: number[] = [];
for (let i = 0; i < Number(a.steps); i++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await step();
  wall.push(performance.now() - t0);
  const dc = process.cpuUsage(c0);
  cpu.push((dc.user + dc.system) / 1000);
}
const prof = await tf.profile(step);
const byName = new Map<string, { ms: number; n: number }>();
// Scopes, not kernels: customGrad forwards run as 'unnamed scope', tidies under their own name.
const isScope = (name: string) => name === 'unnamed scope' || name === 'forward' || name === 'backward' || name.endsWith('__op');
let total = 0;
for (const k of prof.kernels) {
  const ms = k.kernelTimeMs as number;
  if (!isScope(k.name)) total += ms;
  const e = byName.get(k.name) ?? { ms: 0, n: 0 };
  e.ms += ms;
  e.n++;
  byName.set(k.name, e);
}
console.log(`${a.backend} resnet${a.depth} b${a.batch}${a.extra ? ` ${a.extra}` : ''}: step ${median(wall).toFixed(0)} ms wall, ${median(cpu).toFixed(0)} ms CPU (min ${Math.min(...cpu).toFixed(0)}; median of ${wall.length}), kernels ${total.toFixed(0)} ms, peak tf.memory() ${(prof.peakBytes / 2 ** 20).toFixed(1)} MiB, wasm heap ${((wasmHeapBytes() ?? NaN) / 2 ** 20).toFixed(1)} MiB`);
for (const [name, e] of [...byName].sort((x, y) => y[1].ms - x[1].ms).slice(0, Number(a.top))) {
  console.log(`${(isScope(name) ? `(${name})` : name).padEnd(28)} ${e.ms.toFixed(1).padStart(8)} ms ${((100 * e.ms) / total).toFixed(1).padStart(5)}%  x${e.n}`);
}
if (a.memory) {
  const k = prof.kernels;
  const every = Math.max(1, Math.floor(k.length / 60));
  for (let i = 0; i < k.length; i += every) {
    console.log(`${String(i).padStart(5)} ${k[i]!.name.padEnd(24)} ${(k[i]!.totalBytesSnapshot / 2 ** 20).toFixed(0).padStart(6)} MiB ${k[i]!.outputShapes.map((s) => `[${s}]`).join(' ')}`);
  }
}
model.dispose();
solver.dispose();
