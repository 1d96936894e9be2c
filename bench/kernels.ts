// Times the forward convolution against the two gradient kernels for ResNet-20's conv shapes on one
// tfjs backend in Node: the backend's own kernels (where it has them) and the composed ones from
// src/kernels/conv-backprop.ts (the filter gradient as chosen per shape and forced to the dilated
// Conv2D form). One row per shape: the median (--stat min: the fastest, steadier on a busy machine) of
// --reps runs after a warm-up; --clock cpu times with the process's CPU time.
//   npx tsx bench/kernels.ts --backend wasm --batch 32,128 --reps 7 --stat min [--clock cpu]
//   npx tsx bench/kernels.ts --backend cpu --batch 8 --reps 2

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import type { KernelBackend, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { composedKernels } from '../src/kernels/conv-backprop.ts';

interface Shape {
  name: string;
  hw: number;
  ci: number;
  co: number;
  k: number;
  s: number;
  pad: 'same' | 'valid';
}

const SHAPES: Shape[] = [
  { name: 'conv1 3->16 @32', hw: 32, ci: 3, co: 16, k: 3, s: 1, pad: 'same' },
  { name: 'stage1 16->16 @32', hw: 32, ci: 16, co: 16, k: 3, s: 1, pad: 'same' },
  { name: 'down 16->32 s2 @32', hw: 32, ci: 16, co: 32, k: 3, s: 2, pad: 'same' },
  { name: 'stage2 32->32 @16', hw: 16, ci: 32, co: 32, k: 3, s: 1, pad: 'same' },
  { name: 'down 32->64 s2 @16', hw: 16, ci: 32, co: 64, k: 3, s: 2, pad: 'same' },
  { name: 'stage3 64->64 @8', hw: 8, ci: 64, co: 64, k: 3, s: 1, pad: 'same' },
  { name: 'proj 1x1 16->32 s2', hw: 32, ci: 16, co: 32, k: 1, s: 2, pad: 'valid' },
  { name: 'proj 1x1 32->64 s2', hw: 16, ci: 32, co: 64, k: 1, s: 2, pad: 'valid' },
];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] != null ? process.argv[i + 1]! : fallback;
}

function summary(xs: number[], stat: string): number {
  const s = [...xs].sort((a, b) => a - b);
  return stat === 'min' ? s[0]! : s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const backendName = arg('backend', 'wasm');
  const batches = arg('batch', '32').split(',').map(Number);
  const reps = Number(arg('reps', '5'));
  const stat = arg('stat', 'median');
  const clock = arg('clock', 'wall');
  const now =
    clock === 'cpu'
      ? () => {
          const u = process.cpuUsage();
          return (u.user + u.system) / 1000;
        }
      : () => performance.now();
  await tf.setBackend(backendName);
  const backend = tf.backend() as KernelBackend;
  const own = (name: string): KernelFunc | undefined => tf.getKernel(name, backendName)?.kernelFunc;
  const composed = composedKernels(backendName);

  const time = (f: KernelFunc | undefined, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap): number => {
    if (f == null) return NaN;
    const once = () => {
      const t0 = now();
      const out = f({ inputs, backend, attrs }) as TensorInfo;
      const dt = now() - t0;
      backend.disposeData(out.dataId);
      return dt;
    };
    once();
    return summary(Array.from({ length: reps }, once), stat);
  };

  console.log(`backend ${backendName}, tfjs ${tf.version_core}, ${stat} of ${reps} after 1 warm-up (ms, ${clock} clock)`);
  for (const batch of batches) {
    console.log(`\nbatch ${batch}`);
    console.log(
      'shape'.padEnd(22) +
        ['fwd Conv2D', 'dW own', 'dW composed', 'dW dilated', 'dX own', 'dX composed'].map((h) => h.padStart(12)).join(''),
    );
    const totals = [0, 0, 0, 0, 0, 0];
    for (const sh of SHAPES) {
      const x = tf.randomNormal([batch, sh.hw, sh.hw, sh.ci]) as tf.Tensor4D;
      const w = tf.randomNormal([sh.k, sh.k, sh.ci, sh.co]) as tf.Tensor4D;
      const y = tf.conv2d(x, w, sh.s, sh.pad);
      const dy = tf.randomNormal(y.shape);
      const base = { strides: [sh.s, sh.s], pad: sh.pad, dataFormat: 'NHWC', dimRoundingMode: undefined } as const;
      const row = [
        time(own('Conv2D'), { x, filter: w }, { ...base, dilations: [1, 1] } as unknown as NamedAttrMap),
        time(own('Conv2DBackpropFilter'), { x, dy }, { ...base, filterShape: w.shape } as unknown as NamedAttrMap),
        time(composed.filterGrad, { x, dy }, { ...base, filterShape: w.shape } as unknown as NamedAttrMap),
        time(composed.filterGradDilated, { x, dy }, { ...base, filterShape: w.shape } as unknown as NamedAttrMap),
        time(own('Conv2DBackpropInput'), { dy, filter: w }, { ...base, inputShape: x.shape } as unknown as NamedAttrMap),
        time(composed.inputGrad, { dy, filter: w }, { ...base, inputShape: x.shape } as unknown as NamedAttrMap),
      ];
      row.forEach((v, i) => (totals[i]! += Number.isNaN(v) ? 0 : v));
      console.log(sh.name.padEnd(22) + row.map((v) => (Number.isNaN(v) ? 'n/a' : v.toFixed(1)).padStart(12)).join(''));
      tf.dispose([x, w, y, dy]);
    }
    console.log('sum of rows'.padEnd(22) + totals.map((v) => v.toFixed(1).padStart(12)).join(''));
  }
}

await main();
