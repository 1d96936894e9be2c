// Registers the lab's WebGPU kernels on tfjs-backend-webgpu, and says where they run: labWebGpu(backend)
// is true on the webgpu backend while its kernel options (options.ts) have labWebGpu on. Callers check
// it and compose tfjs ops otherwise. Not the kernels themselves (the other files of this folder).

import {
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  getKernel,
  registerKernel,
  unregisterKernel,
  type KernelConfig,
} from '@tensorflow/tfjs-core';
import { kernelOptions } from '../options.ts';
import { batchNormConfigs } from './batchnorm.ts';
import { isWebGpuBackend } from './dispatch.ts';
import { addReluConfig, reluGradConfig } from './elementwise.ts';
import { makeFilterGradConfig } from './filter-grad.ts';
import { makeInputGradConfig } from './input-grad.ts';
import { runningStatsConfig } from './running-stats.ts';
import { sgdConfig } from './sgd.ts';
import { shortcutConfigs } from './shortcut.ts';
import { softmaxXentConfigs } from './softmax-xent.ts';

/** The lab's kernels under their own names (LabAddRelu and the like); they never replace a tfjs kernel. */
const LAB_KERNELS: KernelConfig[] = [
  addReluConfig,
  reluGradConfig,
  ...batchNormConfigs,
  sgdConfig,
  runningStatsConfig,
  ...shortcutConfigs,
  ...softmaxXentConfigs,
];

/** Whether the lab's WebGPU kernels run on this backend. */
export function labWebGpu(backend: unknown): boolean {
  return isWebGpuBackend(backend) && kernelOptions(backend).labWebGpu;
}

/** Registers the lab's WebGPU kernels (idempotent; before or after tf.setBackend('webgpu')). */
export function registerWebGpuKernels(): void {
  for (const config of LAB_KERNELS) {
    if (getKernel(config.kernelName, 'webgpu') == null) registerKernel(config);
  }
  replaceConvGradients();
}

/** The lab's replacements of tfjs-webgpu kernels, to tell them from the originals they wrap. */
const replacements = new WeakSet<KernelConfig>();

/**
 * Replaces tfjs-webgpu's convolution gradients with the lab's (filter-grad.ts, input-grad.ts), which
 * keep the original kernel and call it where labWebGpu is off or the input is not theirs (NCHW, not
 * float32).
 */
function replaceConvGradients(): void {
  for (const [name, make] of [
    [Conv2DBackpropFilter, makeFilterGradConfig],
    [Conv2DBackpropInput, makeInputGradConfig],
  ] as const) {
    const original = getKernel(name, 'webgpu');
    if (original == null || replacements.has(original)) continue;
    const config = make(original, labWebGpu);
    replacements.add(config);
    unregisterKernel(name, 'webgpu');
    registerKernel(config);
  }
}
