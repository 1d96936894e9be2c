// The lab's side of the GPU run (scripts/gpu/run.sh): WebGPU training steps through Dawn on whatever
// adapter Dawn finds (a GPU server's Vulkan driver; SwiftShader here), ResNet-20, 56 and 110 at batch
// 128 with the lab's kernels and with tfjs-webgpu's stock ones, each with one counted step and a test
// pass, giving seconds per epoch (391 steps plus the test). Random images: the GPU server has no data
// set, and the step's time does not depend on pixel values. Prints one JSON object per line and
// appends them to --out. Not PyTorch's side (bench/torch_gpu.py).
//
//   npx tsx bench/gpu-run.ts --depths 20,56,110 --batch 128 --variants lab,stock --out gpu-results/webgpu.jsonl

import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { describeBackend, initBackend } from '../src/backend/setup.ts';
import { computeStats } from '../src/data/batches.ts';
import { median, randomSplit } from './core.ts';
import { measureWebGpuStep, secondsPerEpoch, stepsPerEpoch, summariseKernels, underThreaded, type WebGpuVariant } from './webgpu.ts';

const { values } = parseArgs({
  options: {
    depths: { type: 'string', default: '20,56,110' },
    batch: { type: 'string', default: '128' },
    variants: { type: 'string', default: 'lab,stock' },
    warmup: { type: 'string', default: '3' },
    steps: { type: 'string', default: '40' },
    'budget-ms': { type: 'string', default: '15000' },
    'test-images': { type: 'string', default: '10000' },
    out: { type: 'string' },
  },
});

const emit = (record: object) => {
  const line = JSON.stringify(record);
  console.log(line);
  if (values.out) {
    mkdirSync(dirname(values.out), { recursive: true });
    appendFileSync(values.out, `${line}\n`);
  }
};
const log = (line: string) => process.stderr.write(`${line}\n`);

const info = await initBackend('webgpu');
emit({ what: 'adapter', adapter: describeBackend(info), software: info.software === true, node: process.version });
const batch = Number(values.batch);
const data = { train: randomSplit(Math.max(batch * 4, 1024), 1), test: randomSplit(Number(values['test-images']), 2) };
const stats = computeStats(data.train);
for (const depth of values.depths.split(',').map(Number)) {
  for (const variant of values.variants.split(',') as WebGpuVariant[]) {
    try {
      const r = await measureWebGpuStep({
        depth,
        batch,
        variant,
        data,
        stats,
        warmup: Number(values.warmup),
        steps: Number(values.steps),
        budgetMs: Number(values['budget-ms']),
        testPass: true,
        log,
      });
      const kernels = summariseKernels(r.counts.work);
      emit({
        what: 'webgpu-epoch',
        model: `resnet${depth}`,
        batch,
        variant,
        software: info.software === true,
        medianMs: median(r.times),
        minMs: Math.min(...r.times),
        steps: r.times.length,
        stepsPerEpoch: stepsPerEpoch(batch),
        testPassMs: r.testPassMs,
        secondsPerEpoch: secondsPerEpoch(r),
        dispatches: r.counts.dispatches,
        pipelines: r.counts.pipelines,
        bytesUploaded: r.counts.bytesUploaded,
        bytesReadBack: r.counts.bytesReadBack,
        tensorDrift: r.tensorDrift,
        underThreaded: underThreaded(kernels).map((k) => `${k.kernel} (${k.threads} threads, ${(100 * k.macShare).toFixed(1)}% of MACs)`),
        topKernels: kernels.slice(0, 6),
      });
    } catch (e) {
      emit({ what: 'webgpu-epoch', model: `resnet${depth}`, batch, variant, error: e instanceof Error ? e.message : String(e) });
    }
  }
}
