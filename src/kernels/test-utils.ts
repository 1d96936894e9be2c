// Helpers shared by the kernel tests: deterministic inputs, a relative error, and a way to change the
// wasm backend's kernel options (options.ts) for one comparison.

import { findBackend } from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { kernelOptions, useKernelOptions, type KernelOptions } from './options.ts';

/** n deterministic values (a small LCG) in [-1, 1), times scale, plus offset: the same on every backend. */
export function values(n: number, seed: number, scale = 1, offset = 0): Float32Array {
  const out = new Float32Array(n);
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = (state / 2 ** 31 - 1) * scale + offset;
  }
  return out;
}

/** Largest |got - want| over the largest |want| (lengths must match). */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return diff / Math.max(scale, 1e-30);
}

/** Changes some of the wasm backend's kernel options, keeping the others (what initBackend's `kernels` sets). */
export function patchKernelOptions(patch: Partial<KernelOptions>): void {
  const backend = findBackend('wasm');
  if (backend == null) throw new Error('patchKernelOptions: the wasm backend has not started.');
  useKernelOptions(backend, { ...kernelOptions(backend), ...patch });
}
