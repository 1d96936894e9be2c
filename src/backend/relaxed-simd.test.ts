// enableRelaxedSimd as the lab's CLI uses it, in a child Node (the V8 flag it sets is process-wide, and
// the unit tests keep the plain-SIMD build in-process): after it, the wasm backend's lab kernels load
// their relaxed-SIMD build, and a convolution's gradients through them equal tfjs-cpu's. The child asks
// for 2 threads, as the CLI does on 2 cores: tfjs-wasm's threaded build and a helper thread of the lab's
// kernels, started from a script given by -e with --input-type (options a worker from a file refuses).

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CHILD = `
const { enableRelaxedSimd } = await import('./src/backend/relaxed-simd.node.ts');
const on = enableRelaxedSimd();
const { initBackend } = await import('./src/backend/setup.ts');
const tf = await import('@tensorflow/tfjs-core');
const info = await initBackend('wasm', { threads: 2 });
// A convolution and its gradients through the lab's kernels (forward, input and filter gradient), and
// the same on tfjs-cpu: the largest difference relative to the largest value.
const grads = async () => {
  const x = tf.randomNormal([2, 8, 8, 16], 0, 1, 'float32', 1);
  const w = tf.randomNormal([3, 3, 16, 16], 0, 1, 'float32', 2);
  const [dx, dw] = tf.grads((a, b) => tf.sum(tf.square(tf.conv2d(a, b, 1, 'same'))))([x, w]);
  return [...(await dx.data()), ...(await dw.data())];
};
const lab = await grads();
await initBackend('cpu');
const cpu = await grads();
const scale = Math.max(...cpu.map(Math.abs));
const relErr = Math.max(...lab.map((v, i) => Math.abs(v - cpu[i]))) / scale;
console.log(JSON.stringify({ on, lab: info.lab, close: relErr < 1e-5 }));
`;

describe('enableRelaxedSimd (the CLI and bench turn it on at start)', () => {
  it("makes the lab's kernels load their relaxed-SIMD build in Node; conv gradients through them equal tfjs-cpu's", () => {
    const out = execFileSync(join(process.cwd(), 'node_modules/.bin/tsx'), ['--input-type=module', '-e', CHILD], { encoding: 'utf8' });
    const last = out.trim().split('\n').pop()!;
    expect(JSON.parse(last)).toEqual({ on: true, lab: { flavour: 'relaxed-simd', threads: 2 }, close: true });
  });
});
