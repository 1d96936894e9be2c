// The lab's element-wise and batch-norm kernels (kernels-as/batchnorm.ts, elementwise.ts) registered
// as tfjs kernels on the wasm backend: LabBatchNormMoments and LabBatchNormGrad (batchnorm.ts has the
// formulas), LabReluGrad and LabAddRelu (fused.ts), LabSgdStep (src/train/solvers.ts). Tensors are
// NHWC or (N, C), taken as [m, c] rows. They run only where labWasm(backend) is not null; the callers
// check that first and compose tfjs ops otherwise. Not the convolutions (lab-conv.ts).

import { getKernel, registerKernel, type KernelBackend, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import { LAB_MAX_CHANNELS, ptr, setup, sizeOf, type Lab } from './lab-wasm.ts';

export const LAB_BN_MOMENTS = 'LabBatchNormMoments';
export const LAB_BN_GRAD = 'LabBatchNormGrad';
export const LAB_RELU_GRAD = 'LabReluGrad';
export const LAB_ADD_RELU = 'LabAddRelu';
export const LAB_SGD_STEP = 'LabSgdStep';

/** [m, c] of an NHWC or [N, C] float32 tensor whose channel count the kernels take. */
function rowsAndChannels(shape: readonly number[]): [number, number] {
  const c = shape[shape.length - 1] ?? 0;
  return [sizeOf(shape) / Math.max(c, 1), c];
}

/** Whether the batch-norm kernels take a tensor of this shape: channels a multiple of 4, at least one row. */
export function labBatchNormFits(shape: readonly number[]): boolean {
  const [m, c] = rowsAndChannels(shape);
  return (shape.length === 2 || shape.length === 4) && c > 0 && c % 4 === 0 && c <= LAB_MAX_CHANNELS && m >= 1;
}

function checkFloat(kernel: string, ...ts: TensorInfo[]): void {
  for (const t of ts) {
    if (t.dtype !== 'float32') throw new Error(`${kernel}: float32 tensors only, got ${t.dtype}.`);
  }
}

/** What tfjs hands a kernel function. */
interface KernelCall {
  inputs: Record<string, TensorInfo>;
  backend: unknown;
  attrs?: NamedAttrMap;
}

/** Inputs x, gamma, beta; attr eps. Outputs mean, variance, inv, scale, shift, each [C]. */
function bnMomentsKernel({ inputs, backend, attrs }: KernelCall): TensorInfo[] {
  const { heap, lab } = setup(backend as KernelBackend, LAB_BN_MOMENTS);
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  checkFloat(LAB_BN_MOMENTS, x, gamma, beta);
  if (!labBatchNormFits(x.shape)) throw new Error(`${LAB_BN_MOMENTS}: cannot take shape [${x.shape}].`);
  const [m, c] = rowsAndChannels(x.shape);
  const outs = [0, 1, 2, 3, 4].map(() => heap.makeOutput([c], 'float32'));
  const [mean, variance, inv, scale, shift] = outs.map((t) => ptr(heap, t)) as [number, number, number, number, number];
  lab.fn.bnMoments(
    ptr(heap, x),
    m,
    c,
    ptr(heap, gamma),
    ptr(heap, beta),
    Number(attrs?.eps ?? 0),
    mean,
    variance,
    inv,
    scale,
    shift,
    lab.work,
  );
  return outs;
}

/**
 * Inputs dy, x, mean, inv, gamma and, after a fused ReLU, its output y. Outputs dx, dgamma, dbeta and,
 * with the attribute sumDx, dx summed per channel (the gradient of a bias added to x).
 */
function bnGradKernel({ inputs, backend, attrs }: KernelCall): TensorInfo[] {
  const { heap, lab } = setup(backend as KernelBackend, LAB_BN_GRAD);
  const { dy, x, y, mean, inv, gamma } = inputs as Record<string, TensorInfo>;
  checkFloat(LAB_BN_GRAD, dy!, x!, mean!, inv!, gamma!, ...(y ? [y] : []));
  if (!labBatchNormFits(x!.shape) || sizeOf(dy!.shape) !== sizeOf(x!.shape) || (y && sizeOf(y.shape) !== sizeOf(x!.shape))) {
    throw new Error(`${LAB_BN_GRAD}: dy [${dy!.shape}], x [${x!.shape}]${y ? `, y [${y.shape}]` : ''} do not fit.`);
  }
  const [m, c] = rowsAndChannels(x!.shape);
  const dx = heap.makeOutput([...x!.shape], 'float32');
  const dgamma = heap.makeOutput([c], 'float32');
  const dbeta = heap.makeOutput([c], 'float32');
  const dxSum = attrs?.sumDx === true ? heap.makeOutput([c], 'float32') : null;
  lab.fn.bnGrad(
    ptr(heap, dy!),
    ptr(heap, x!),
    y ? ptr(heap, y) : 0,
    m,
    c,
    ptr(heap, mean!),
    ptr(heap, inv!),
    ptr(heap, gamma!),
    ptr(heap, dx),
    ptr(heap, dgamma),
    ptr(heap, dbeta),
    dxSum ? ptr(heap, dxSum) : 0,
    lab.work,
  );
  return dxSum ? [dx, dgamma, dbeta, dxSum] : [dx, dgamma, dbeta];
}

function elementwise(
  kernel: string,
  a: TensorInfo,
  b: TensorInfo,
  backend: unknown,
  run: (lab: Lab, a: number, b: number, n: number, out: number) => void,
): TensorInfo {
  const { heap, lab } = setup(backend as KernelBackend, kernel);
  checkFloat(kernel, a, b);
  const n = sizeOf(a.shape);
  if (n !== sizeOf(b.shape)) throw new Error(`${kernel}: [${a.shape}] and [${b.shape}] differ in size.`);
  const out = heap.makeOutput([...a.shape], 'float32');
  run(lab, ptr(heap, a), ptr(heap, b), n, ptr(heap, out));
  return out;
}

/**
 * Inputs w, buf (its momentum buffer), g (its gradient); attrs nesterov (Torch's form, else neon's),
 * lr, momentum, weightDecay (0: none). Outputs the new w and buf (kernels-as/elementwise.ts sgdStep has the
 * formulas: those of src/train/solvers.ts, rounded the same way).
 */
function sgdStepKernel({ inputs, backend, attrs }: KernelCall): TensorInfo[] {
  const { heap, lab } = setup(backend as KernelBackend, LAB_SGD_STEP);
  const { w, buf, g } = inputs as { w: TensorInfo; buf: TensorInfo; g: TensorInfo };
  checkFloat(LAB_SGD_STEP, w, buf, g);
  const n = sizeOf(w.shape);
  if (sizeOf(buf.shape) !== n || sizeOf(g.shape) !== n)
    throw new Error(`${LAB_SGD_STEP}: w [${w.shape}], buf [${buf.shape}], g [${g.shape}] differ in size.`);
  const outW = heap.makeOutput([...w.shape], 'float32');
  const outBuf = heap.makeOutput([...w.shape], 'float32');
  const num = (name: string) => {
    const v = Number(attrs?.[name] ?? 0);
    if (!Number.isFinite(v)) throw new Error(`${LAB_SGD_STEP}: ${name} must be finite, got ${String(attrs?.[name])}.`);
    return v;
  };
  lab.fn.sgdStep(
    ptr(heap, w),
    ptr(heap, buf),
    ptr(heap, g),
    n,
    attrs?.nesterov === true ? 1 : 0,
    num('lr'),
    num('momentum'),
    num('weightDecay'),
    ptr(heap, outW),
    ptr(heap, outBuf),
  );
  return [outW, outBuf];
}

for (const [kernelName, kernelFunc] of [
  [LAB_SGD_STEP, sgdStepKernel],
  [LAB_BN_MOMENTS, bnMomentsKernel],
  [LAB_BN_GRAD, bnGradKernel],
  [
    LAB_RELU_GRAD,
    ({ inputs, backend }: KernelCall) =>
      elementwise(LAB_RELU_GRAD, inputs.dy!, inputs.y!, backend, (lab, dy, y, n, out) => lab.fn.reluGrad(dy, y, n, out)),
  ],
  [
    LAB_ADD_RELU,
    ({ inputs, backend }: KernelCall) =>
      elementwise(LAB_ADD_RELU, inputs.a!, inputs.b!, backend, (lab, a, b, n, out) => lab.fn.addRelu(a, b, n, out)),
  ],
] as const) {
  if (getKernel(kernelName, 'wasm') == null) {
    registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as never });
  }
}
