// The WebGPU part of bench/RESULTS.md: issue 17's targets for a ResNet-20 training step (dispatches,
// threads of every kernel with at least 1% of the multiply-adds) and the tables of gpu-step and
// gpu-kernel records, the lab's kernels beside tfjs-webgpu's stock ones. Pure functions of the records.

import type { BenchRecord } from './core.ts';
import { GPU_TARGETS } from './webgpu.ts';

export interface GpuTarget {
  name: string;
  met: boolean | undefined;
  detail: string;
}

const variantOf = (r: BenchRecord) => (r.variant === 'stock' ? 'stock tfjs-webgpu' : 'lab kernels');
const mib = (bytes: number | undefined) => (bytes === undefined ? '' : (bytes / 2 ** 20).toFixed(2));

/** Issue 17's targets, judged on the ResNet-20 batch-128 records with the lab's kernels. */
export function gpuTargets(records: readonly BenchRecord[]): GpuTarget[] {
  const isLab20 = (r: BenchRecord) => r.model === 'resnet20' && r.batch === 128 && r.variant !== 'stock';
  const step = records.find((r) => r.what === 'gpu-step' && isLab20(r));
  if (!step) return [];
  const stock = records.find((r) => r.what === 'gpu-step' && r.model === 'resnet20' && r.batch === 128 && r.variant === 'stock');
  const kernels = records.filter((r) => r.what === 'gpu-kernel' && isLab20(r) && (r.macShare ?? 0) >= GPU_TARGETS.macShareFloor);
  const thin = kernels.filter((k) => k.threads < GPU_TARGETS.minThreads);
  return [
    {
      name: `ResNet-20 b128 WebGPU step: at most ${GPU_TARGETS.maxDispatches} dispatches`,
      met: step.dispatches! <= GPU_TARGETS.maxDispatches,
      detail: `${step.dispatches} dispatches with the lab's kernels` + (stock ? `, ${stock.dispatches} with stock tfjs-webgpu` : ''),
    },
    {
      name: `every kernel with >= 1% of the step's multiply-adds launches >= ${GPU_TARGETS.minThreads} threads`,
      met: kernels.length > 0 ? thin.length === 0 : undefined,
      detail:
        thin.length > 0
          ? thin.map((k) => `${k.kernel}: ${k.threads} threads, ${(100 * k.macShare!).toFixed(1)}%`).join('; ')
          : `fewest: ${Math.min(...kernels.map((k) => k.threads))} threads over ${kernels.length} kernel launch shapes`,
    },
  ];
}

/** Markdown tables of the gpu-step and gpu-kernel records; empty when the run has none. */
export function gpuMarkdown(records: readonly BenchRecord[], table: (head: string[], rows: string[][]) => string): string {
  const steps = records.filter((r) => r.what === 'gpu-step');
  if (steps.length === 0) return '';
  const lines = [
    '**WebGPU step in Node** (Dawn; one counted step: compute dispatches, distinct pipelines, MiB written to the GPU and mapped back)',
    '',
    table(
      ['model', 'batch', 'kernels', 'adapter', 'dispatches', 'pipelines', 'MiB up', 'MiB back', 'step ms', 'tensor drift'],
      steps.map((r) => [
        r.model,
        String(r.batch),
        variantOf(r),
        r.software ? 'software' : 'GPU',
        String(r.dispatches),
        String(r.pipelines),
        mib(r.bytesUploaded),
        mib(r.bytesReadBack),
        r.medianMs.toFixed(0),
        r.tensorDrift !== undefined ? `${r.tensorDrift} over ${r.driftSteps} steps` : '',
      ]),
    ),
    '',
    "**WebGPU kernels** carrying multiply-adds (one counted step; threads launched per call, the longest serial chain of multiply-adds in one thread, share of the step's multiply-adds)",
    '',
    table(
      ['model', 'batch', 'kernels', 'kernel', 'calls', 'threads', 'serial MACs / thread', 'MAC share'],
      records
        .filter((r) => r.what === 'gpu-kernel')
        .map((r) => [
          r.model,
          String(r.batch),
          variantOf(r),
          r.kernel ?? '',
          String(r.calls),
          String(r.threads),
          String(r.serialMacsPerThread),
          `${(100 * (r.macShare ?? 0)).toFixed(1)}%`,
        ]),
    ),
    '',
  ];
  return lines.join('\n');
}
