// Helpers the composed convolution-gradient kernels share: calling another kernel of the same backend
// directly, freeing, reading and writing float32 tensors, and a stride-1 Conv2D with padding that may
// be negative (a crop). Plain tfjs kernels, no lab kernels. Tensors are NHWC.

import { Conv2D, getKernel, Slice } from '@tensorflow/tfjs-core';
import type { KernelBackend, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

/** Thrown when a gradient is asked for a convolution these kernels do not handle. */
export class UnsupportedConvGradientError extends Error {
  constructor(kernel: string, what: string) {
    super(
      `${kernel} (ResNet Lab composed kernel): ${what} is not supported; ` +
        `only NHWC, dilation 1, 'same' / 'valid' / explicit padding are.`,
    );
    this.name = 'UnsupportedConvGradientError';
  }
}

type Explicit = [[number, number], [number, number], [number, number], [number, number]];

/** Calls another kernel of the same backend directly (no engine, no tape). */
export function callKernel(
  backendName: string,
  backend: KernelBackend,
  kernelName: string,
  inputs: NamedTensorInfoMap,
  attrs: NamedAttrMap,
): TensorInfo {
  const config = getKernel(kernelName, backendName);
  if (config == null) {
    throw new Error(`Kernel ${kernelName} is not registered for backend '${backendName}'.`);
  }
  const out = config.kernelFunc({ inputs, backend, attrs });
  return Array.isArray(out) ? out[0]! : out;
}

export function dispose(backend: KernelBackend, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

export function readFloats(backend: KernelBackend, info: TensorInfo): Float32Array {
  const values = backend.readSync(info.dataId);
  if (!(values instanceof Float32Array)) {
    throw new Error(`conv gradient kernels expect float32 tensors, got ${info.dtype}.`);
  }
  return values;
}

export function writeFloats(backend: KernelBackend, values: Float32Array, shape: number[]): TensorInfo {
  return { dataId: backend.write(values, shape, 'float32'), shape, dtype: 'float32' };
}

export function checkFormat(kernel: string, dataFormat: string | undefined, dilations: unknown): void {
  if (dataFormat != null && dataFormat !== 'NHWC') {
    throw new UnsupportedConvGradientError(kernel, `dataFormat '${dataFormat}'`);
  }
  if (dilations != null) {
    const d = Array.isArray(dilations) ? dilations : [dilations, dilations];
    if (d.some((v) => v !== 1)) throw new UnsupportedConvGradientError(kernel, `dilations ${String(dilations)}`);
  }
}

/**
 * Stride-1 Conv2D of x [N,H,W,C] with explicit padding that may be negative (negative = crop x).
 */
export function conv2dPadded(
  backendName: string,
  backend: KernelBackend,
  x: TensorInfo,
  filter: TensorInfo,
  dilations: [number, number],
  pads: [number, number, number, number], // top, bottom, left, right
): TensorInfo {
  let [pt, pb, pl, pr] = pads;
  let input = x;
  if (pt < 0 || pb < 0 || pl < 0 || pr < 0) {
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const top = Math.max(0, -pt);
    const left = Math.max(0, -pl);
    const size = [n, h - top - Math.max(0, -pb), w - left - Math.max(0, -pr), c];
    input = callKernel(backendName, backend, Slice, { x }, { begin: [0, top, left, 0], size });
    pt = Math.max(0, pt);
    pb = Math.max(0, pb);
    pl = Math.max(0, pl);
    pr = Math.max(0, pr);
  }
  const pad: Explicit = [
    [0, 0],
    [pt, pb],
    [pl, pr],
    [0, 0],
  ];
  const out = callKernel(backendName, backend, Conv2D, { x: input, filter }, {
    strides: [1, 1],
    pad,
    dataFormat: 'NHWC',
    dilations,
    dimRoundingMode: undefined,
  } as unknown as NamedAttrMap);
  if (input !== x) dispose(backend, input);
  return out;
}
