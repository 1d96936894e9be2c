// Registers the lab's WebGPU kernels on tfjs-backend-webgpu, and says where they run: labWebGpu(backend)
// is true on the webgpu backend while its kernel options (options.ts) have labWebGpu on. Callers check
// it and compose tfjs ops otherwise. Not the kernels themselves (the other files of this folder).

import { getKernel, registerKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { kernelOptions } from '../options.ts';
import { isWebGpuBackend } from './dispatch.ts';
import { addReluConfig, reluGradConfig } from './elementwise.ts';

/** The lab's kernels under their own names (LabAddRelu and the like); they never replace a tfjs kernel. */
const LAB_KERNELS: KernelConfig[] = [addReluConfig, reluGradConfig];

/** Whether the lab's WebGPU kernels run on this backend. */
export function labWebGpu(backend: unknown): boolean {
  return isWebGpuBackend(backend) && kernelOptions(backend).labWebGpu;
}

/** Registers the lab's WebGPU kernels (idempotent; before or after tf.setBackend('webgpu')). */
export function registerWebGpuKernels(): void {
  for (const config of LAB_KERNELS) {
    if (getKernel(config.kernelName, 'webgpu') == null) registerKernel(config);
  }
}
