// Registers the lab's training kernels on tfjs-backend-wasm and tfjs-cpu, replacing tfjs's own, and
// puts them back. The kernels themselves live one per file: filter-grad.ts (Conv2DBackpropFilter;
// its fast wasm paths in filter-grad-framed.ts), input-grad.ts (Conv2DBackpropInput), conv2d-lab.ts
// (wasm's Conv2D through the lab's kernel), pool-grad.ts (AvgPoolGrad) and no-copy.ts (Identity, Cast).
// Which of the lab's kernels they use is the backend's kernel options (options.ts, set by initBackend).
// Not the kernels' arithmetic, and not the batch-norm or element-wise kernels (lab-ops.ts).

import {
  AvgPoolGrad,
  Conv2D,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  getKernel,
  registerKernel,
  unregisterKernel,
} from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { makeLabConv2D } from './conv2d-lab.ts';
import { makeFilterGrad } from './filter-grad.ts';
import { makeInputGrad } from './input-grad.ts';
import { registerNoCopyKernels, unregisterNoCopyKernels } from './no-copy.ts';
import { makeAvgPoolGrad } from './pool-grad.ts';

export { UnsupportedConvGradientError } from './conv-ops.ts';
export { phaseFilter } from './input-grad.ts';
export type { FilterGradMethod } from './filter-grad.ts';

/** Backends whose gradient kernels this module can replace. */
export type TrainingBackendName = 'wasm' | 'cpu';

/** Kernel functions of this module, for benchmarks that want to call them without registering. */
export function composedKernels(backendName: string, fallbackInput?: KernelConfig) {
  return {
    filterGrad: makeFilterGrad(backendName),
    filterGradDilated: makeFilterGrad(backendName, 'dilated'),
    inputGrad: makeInputGrad(backendName, fallbackInput),
  };
}

const registered = new Set<string>();
const originals = new Map<string, KernelConfig | undefined>();

/** The kernel a backend had before registerTrainingKernels replaced it (undefined if none). */
export function originalKernel(kernelName: string, backendName: TrainingBackendName): KernelConfig | undefined {
  return originals.get(`${backendName}_${kernelName}`);
}

/**
 * Replaces a kernel, keeping the replaced one's setupFunc: a backend runs the setupFunc of the kernels
 * registered when it initialises, and wasm's own Conv2DBackpropInput (our NCHW fallback, and what
 * unregisterTrainingKernels restores) only works after its setup has bound the C function.
 */
function replaceKernel(config: KernelConfig): void {
  const key = `${config.backendName}_${config.kernelName}`;
  const existing = getKernel(config.kernelName, config.backendName);
  if (!originals.has(key)) originals.set(key, existing);
  if (existing != null) unregisterKernel(config.kernelName, config.backendName);
  const setupFunc = originals.get(key)?.setupFunc;
  registerKernel(setupFunc != null ? { ...config, setupFunc } : config);
}

/**
 * Which composed kernels each backend gets, as `npx tsx bench/kernels.ts` measured them on ResNet-20's
 * convolution shapes (bench/RESULTS.md): on wasm both (it has no filter gradient, and its input
 * gradient is a plain loop); on tfjs-cpu only the filter gradient (its own input gradient is faster).
 */
export const COMPOSED_KERNELS: Record<TrainingBackendName, { filter: boolean; input: boolean }> = {
  wasm: { filter: true, input: true },
  cpu: { filter: true, input: false },
};

/**
 * Registers the composed Conv2DBackpropFilter / Conv2DBackpropInput for a backend (per
 * COMPOSED_KERNELS), and on wasm also the Conv2D that runs stride-1 convolutions in the lab's kernel
 * (makeLabConv2D), the buffer-sharing Identity and Cast of no-copy.ts (tfjs-wasm
 * copies a tensor for every tensor saved for backprop) and the 1x1
 * AvgPoolGrad of pool-grad.ts (option A's shortcut gradient). Idempotent; may be
 * called before or after tf.setBackend (these kernels need no setup step).
 */
export function registerTrainingKernels(backendName: TrainingBackendName): void {
  if (registered.has(backendName)) return;
  if (backendName === 'wasm') {
    registerNoCopyKernels('wasm');
    const fallback = getKernel(AvgPoolGrad, 'wasm');
    replaceKernel({ kernelName: AvgPoolGrad, backendName, kernelFunc: makeAvgPoolGrad(backendName, fallback) });
    const conv = getKernel(Conv2D, 'wasm');
    if (conv != null) replaceKernel({ kernelName: Conv2D, backendName, kernelFunc: makeLabConv2D(conv) });
  }
  const use = COMPOSED_KERNELS[backendName];
  if (use.filter) {
    replaceKernel({ kernelName: Conv2DBackpropFilter, backendName, kernelFunc: makeFilterGrad(backendName) });
  }
  if (use.input) {
    const fallback = getKernel(Conv2DBackpropInput, backendName);
    replaceKernel({ kernelName: Conv2DBackpropInput, backendName, kernelFunc: makeInputGrad(backendName, fallback) });
  }
  registered.add(backendName);
}

/** Puts back the kernels registerTrainingKernels replaced (for tests and benchmarks). */
export function unregisterTrainingKernels(backendName: TrainingBackendName): void {
  if (!registered.has(backendName)) return;
  if (backendName === 'wasm') unregisterNoCopyKernels('wasm');
  for (const kernelName of [Conv2DBackpropFilter, Conv2DBackpropInput, AvgPoolGrad, Conv2D]) {
    const key = `${backendName}_${kernelName}`;
    if (!originals.has(key)) continue;
    if (getKernel(kernelName, backendName) != null) unregisterKernel(kernelName, backendName);
    const original = originals.get(key);
    if (original != null) registerKernel(original);
    originals.delete(key);
  }
  registered.delete(backendName);
}
