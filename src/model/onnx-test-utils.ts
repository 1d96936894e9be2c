// Helpers for the model layer's tests only: run a model.onnx in onnxruntime-node's CPU runtime on
// images in the lab's NHWC layout. Not imported by application code.

import * as ort from 'onnxruntime-node';
import { ONNX_INPUT, ONNX_OUTPUT } from './onnx-model.ts';

/** [n, 32, 32, 3] NHWC values -> [n, 3, 32, 32] NCHW, the layout model.onnx takes. */
export function nhwcToNchw(x: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n * 3072);
  for (let i = 0; i < n; i++)
    for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) out[i * 3072 + c * 1024 + p] = x[i * 3072 + p * 3 + c];
  return out;
}

/** Logits [n, 10] (row-major) of model.onnx for NHWC images `x` ([n, 32, 32, 3]). */
export async function onnxLogits(onnx: Uint8Array, x: Float32Array, n: number): Promise<{ logits: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(onnx, { executionProviders: ['cpu'] });
  try {
    const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', nhwcToNchw(x, n), [n, 3, 32, 32]) });
    return { logits: out[ONNX_OUTPUT].data as Float32Array, dims: out[ONNX_OUTPUT].dims };
  } finally {
    await session.release();
  }
}

/** Largest |a[i] - b[i]|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
