// The wrappers of the lab's data-movement kernels (kernels-as/framing.ts) for the convolution
// gradients (conv-backprop.ts, prepacked.ts): x's frames for the filter gradient, dy written into
// XNNPACK's packed weights, and the strided input gradient's depth-to-space and crop. Each returns
// null (or false) where the lab's kernels are not available, and the caller composes tfjs ops.
// Tensors are NHWC, channels-last, as tfjs keeps them. Not the convolutions (lab-conv.ts).

import type { KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';
import { available, ptr } from './lab-wasm.ts';

/**
 * x [N,H,W,Ci] framed channels-first for the stride-1 filter gradient: a new tensor [Ci*N + 1, R, C]
 * whose grid (ch, img) holds image img's channel ch at rows pt.., columns pl.., zeros around it, and
 * a last all-zero grid. Null where the lab's kernels are not available.
 */
export function labFrameChannelsFirst(
  backend: KernelBackend,
  x: TensorInfo,
  R: number,
  C: number,
  pt: number,
  pl: number,
): TensorInfo | null {
  const ok = x.shape.length === 4 ? available(backend, x) : null;
  if (ok == null) return null;
  const { heap, lab } = ok;
  const [N, H, W, Ci] = x.shape as [number, number, number, number];
  if (pt < 0 || pl < 0 || pt + H > R || pl + W > C)
    throw new Error(`labFrameChannelsFirst: a ${H}x${W} image at (${pt}, ${pl}) is not inside a ${R}x${C} grid.`);
  const out = heap.makeOutput([Ci * N + 1, R, C], 'float32');
  lab.fn.frameChannelsFirst(ptr(heap, x), N, H, W, Ci, R, C, pt, pl, ptr(heap, out));
  return out;
}

/**
 * x [N,H,W,Ci] split into its sh*sw phase images, each framed channels-first for the strided filter
 * gradient: a new tensor [sh*sw*Ci*N + 1, R, C], grid ((a*sw + b)*Ci + ch)*N + img holding
 * x[img, sh*q + a, sw*s + b, ch] at (T + q, L + s), zeros around. Null where the lab's kernels are
 * not available.
 */
export function labFramePhases(
  backend: KernelBackend,
  x: TensorInfo,
  sh: number,
  sw: number,
  R: number,
  C: number,
  T: number,
  L: number,
): TensorInfo | null {
  const ok = x.shape.length === 4 ? available(backend, x) : null;
  if (ok == null) return null;
  const { heap, lab } = ok;
  const [N, H, W, Ci] = x.shape as [number, number, number, number];
  if (T < 0 || L < 0 || T + Math.ceil(H / sh) > R || L + Math.ceil(W / sw) > C) {
    throw new Error(`labFramePhases: ${H}x${W} images in ${sh}x${sw} phases at (${T}, ${L}) are not inside a ${R}x${C} grid.`);
  }
  const out = heap.makeOutput([sh * sw * Ci * N + 1, R, C], 'float32');
  lab.fn.framePhases(ptr(heap, x), N, H, W, Ci, sh, sw, R, C, T, L, ptr(heap, out));
  return out;
}

/**
 * dy [N,Ho,Wo,Co] written into packed fully-connected weights (prepacked.ts's layout: blocks of nr
 * columns, nr bias values then K rows of nr) at HEAPF32 index base, as rows (img*R + i)*C + j of an
 * R x C grid per image. False where the lab's kernels are not available (the caller writes them).
 */
export function labPackGrid(backend: KernelBackend, dy: TensorInfo, R: number, C: number, nr: number, K: number, base: number): boolean {
  const ok = available(backend, dy);
  if (ok == null) return false;
  const { heap, lab } = ok;
  const [N, Ho, Wo, Co] = dy.shape as [number, number, number, number];
  lab.fn.packGrid(ptr(heap, dy), N, Ho, Wo, Co, R, C, nr, K, base * 4);
  return true;
}

/**
 * The strided input gradient from its phase form (conv-backprop.ts): z [N, rows, cols, sh*sw*Ci] to
 * dx [N, H, W, Ci], dx[n,i,j,:] = z[n, (i+top)/sh, (j+left)/sw, phase ((i+top)%sh, (j+left)%sw)'s
 * channels]. Null where the lab's kernels are not available.
 */
export function labDepthToSpaceCrop(
  backend: KernelBackend,
  z: TensorInfo,
  sh: number,
  sw: number,
  [H, W, Ci]: readonly [number, number, number],
  top: number,
  left: number,
): TensorInfo | null {
  const ok = z.shape.length === 4 ? available(backend, z) : null;
  if (ok == null) return null;
  const { heap, lab } = ok;
  const [N, rows, cols, depth] = z.shape as [number, number, number, number];
  if (depth !== sh * sw * Ci || top < 0 || left < 0 || H + top > rows * sh || W + left > cols * sw) {
    throw new Error(
      `labDepthToSpaceCrop: z [${z.shape}] cannot give a ${H}x${W}x${Ci} image at (${top}, ${left}) with strides ${sh}x${sw}.`,
    );
  }
  const out = heap.makeOutput([N, H, W, Ci], 'float32');
  lab.fn.depthToSpaceCrop(ptr(heap, z), N, rows, cols, sh, sw, Ci, H, W, top, left, ptr(heap, out));
  return out;
}
