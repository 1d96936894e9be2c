// Identity and same-dtype Cast for tfjs-backend-wasm that share the input's buffer instead of copying.
//
// tfjs runs Identity (tf.clone) for every tensor a customGrad or kernel saves for backprop, and many
// gradient functions cast float32 to float32; tfjs-backend-wasm copies the whole tensor both times.
// tfjs tensors are immutable and the wasm backend reference-counts buffers (its Reshape already shares
// them this way, and tfjs-backend-cpu's Identity does the same), so sharing is safe.

import { Cast, getKernel, Identity, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import type { CastAttrs, KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

function share(backend: KernelBackend, x: TensorInfo): TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

const originals = new Map<string, KernelConfig | undefined>();

function replace(kernelName: string, backendName: string, make: (orig: KernelConfig | undefined) => KernelFunc): void {
  const key = `${backendName}_${kernelName}`;
  if (originals.has(key)) return;
  const orig = getKernel(kernelName, backendName);
  originals.set(key, orig);
  if (orig != null) unregisterKernel(kernelName, backendName);
  // Keep the original's setupFunc, run when the backend initialises (see conv-backprop.ts).
  const setupFunc = orig?.setupFunc;
  registerKernel({ kernelName, backendName, kernelFunc: make(orig), ...(setupFunc != null ? { setupFunc } : {}) });
}

/** Registers the sharing Identity and Cast for a backend (idempotent). Meant for 'wasm'. */
export function registerNoCopyKernels(backendName: string): void {
  replace(Identity, backendName, (orig) => (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype === 'string') {
      if (orig == null) throw new Error(`No ${Identity} kernel for strings on '${backendName}'.`);
      return orig.kernelFunc(args);
    }
    return share(args.backend as KernelBackend, x);
  });
  replace(Cast, backendName, (orig) => (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { dtype } = args.attrs as unknown as CastAttrs;
    if (dtype === x.dtype && dtype !== 'string') return share(args.backend as KernelBackend, x);
    if (orig == null) throw new Error(`No ${Cast} kernel on '${backendName}'.`);
    return orig.kernelFunc(args);
  });
}

/** Puts the backend's own Identity and Cast back. */
export function unregisterNoCopyKernels(backendName: string): void {
  for (const kernelName of [Identity, Cast]) {
    const key = `${backendName}_${kernelName}`;
    if (!originals.has(key)) continue;
    unregisterKernel(kernelName, backendName);
    const orig = originals.get(key);
    if (orig != null) registerKernel(orig);
    originals.delete(key);
  }
}
