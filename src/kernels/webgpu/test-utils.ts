// Helpers for the WebGPU kernel tests: start tfjs-webgpu in Node (Dawn; SwiftShader where there is no
// GPU driver) with the lab's kernels, and run the same function on tfjs-cpu for the reference values.

import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../backend/setup.ts';
import { useKernelOptions, kernelOptions } from '../options.ts';

/** Starts webgpu (once per test file) and makes it the active backend, the lab's kernels on. */
export async function useWebGpu(): Promise<void> {
  await initBackend('webgpu');
}

/** Runs `f` on tfjs-cpu, reads its results, and goes back to webgpu. */
export async function onCpu(f: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await initBackend('cpu', { trainingKernels: false });
  try {
    const out = tf.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    const data = await Promise.all(list.map((t) => t.data() as Promise<Float32Array>));
    tf.dispose(list);
    return data;
  } finally {
    await useWebGpu();
  }
}

/** Runs `f` on webgpu with the lab's kernels on (true) or tfjs's stock ones (false), and reads its results. */
export async function onWebGpu(f: () => tf.Tensor | tf.Tensor[], lab = true): Promise<Float32Array[]> {
  const backend = tf.backend();
  const before = kernelOptions(backend);
  useKernelOptions(backend, { ...before, labWebGpu: lab });
  try {
    const out = tf.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    const data = await Promise.all(list.map((t) => t.data() as Promise<Float32Array>));
    tf.dispose(list);
    return data;
  } finally {
    useKernelOptions(backend, before);
  }
}
