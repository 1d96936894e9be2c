// Views without a copy on tfjs-backend-wasm: a second tensor id for a range inside an existing heap
// block (e.g. a matrix shifted by a few elements, the nine taps of conv-backprop.ts's 3x3 filter
// gradient), and padBottomRight, a zero padding written straight into the heap (memmove + zero fill).
// A view is released with releaseHeapView, never disposeData (it does not own its memory); it must not
// outlive the tensor it looks into, and only kernels that read their inputs may be given one.
// Uses tfjs-backend-wasm 4.22 internals (dataIdMap, makeOutput with a memory offset, disposeData);
// wasmHeapAccess returns null when they are missing, so callers can take another path.

import type { KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';

interface WasmData {
  id: number;
  memoryOffset: number;
  shape: number[];
}

/** The parts of tfjs-backend-wasm's BackendWasm this file uses. */
export interface WasmBackendInternals {
  dataIdMap: { get(dataId: object): WasmData | undefined; delete(dataId: object): boolean };
  makeOutput(shape: number[], dtype: 'float32', memoryOffset?: number): TensorInfo;
  disposeData(dataId: object): unknown;
  wasm: { tfjs: { disposeData(id: number): void }; HEAPF32: Float32Array };
}

/** The backend as tfjs-backend-wasm's internals, or null if it is not that backend (or they changed). */
export function wasmHeapAccess(backend: KernelBackend): WasmBackendInternals | null {
  const b = backend as unknown as Partial<WasmBackendInternals>;
  if (
    b.dataIdMap == null ||
    typeof b.dataIdMap.get !== 'function' ||
    typeof b.makeOutput !== 'function' ||
    typeof b.wasm?.tfjs?.disposeData !== 'function' ||
    !(b.wasm.HEAPF32 instanceof Float32Array)
  ) {
    return null;
  }
  return b as WasmBackendInternals;
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * A float32 tensor of `shape` whose elements are base's flat elements [offset, offset + size).
 * Throws if that range is not inside base.
 */
export function heapView(backend: WasmBackendInternals, base: TensorInfo, offset: number, shape: number[]): TensorInfo {
  const data = backend.dataIdMap.get(base.dataId);
  if (data == null) throw new Error('heapView: the base tensor is not on this wasm backend.');
  if (base.dtype !== 'float32') throw new Error(`heapView: float32 only, got ${base.dtype}.`);
  const size = sizeOf(shape);
  if (!Number.isInteger(offset) || offset < 0 || offset + size > sizeOf(base.shape)) {
    throw new Error(`heapView: [${offset}, ${offset + size}) is outside the base tensor of ${sizeOf(base.shape)} elements.`);
  }
  return backend.makeOutput(shape, 'float32', data.memoryOffset + 4 * offset);
}

/** Forgets a view made by heapView (its memory belongs to the base tensor and stays). */
export function releaseHeapView(backend: WasmBackendInternals, view: TensorInfo): void {
  const data = backend.dataIdMap.get(view.dataId);
  if (data == null) return;
  backend.wasm.tfjs.disposeData(data.id);
  backend.dataIdMap.delete(view.dataId);
}

/**
 * x viewed as [A, H, L] (float32), padded with `bottom` zero rows and `right` zeros at the end of
 * every row: a new tensor [A, H + bottom, L + right].
 */
export function padBottomRight(
  backend: WasmBackendInternals,
  x: TensorInfo,
  [A, H, L]: readonly [number, number, number],
  bottom: number,
  right: number,
): TensorInfo {
  const src = backend.dataIdMap.get(x.dataId);
  if (src == null) throw new Error('padBottomRight: the tensor is not on this wasm backend.');
  if (x.dtype !== 'float32' || A * H * L !== sizeOf(x.shape)) {
    throw new Error(`padBottomRight: a float32 tensor of ${A}x${H}x${L} elements expected, got ${x.dtype} [${x.shape}].`);
  }
  const rowOut = L + right;
  const out = backend.makeOutput([A, H + bottom, rowOut], 'float32');
  // After makeOutput: the heap may have grown, which replaces HEAPF32.
  const heap = backend.wasm.HEAPF32;
  let s = src.memoryOffset / 4;
  let d = backend.dataIdMap.get(out.dataId)!.memoryOffset / 4;
  for (let a = 0; a < A; a++) {
    for (let i = 0; i < H; i++) {
      heap.copyWithin(d, s, s + L);
      if (right > 0) heap.fill(0, d + L, d + rowOut);
      s += L;
      d += rowOut;
    }
    if (bottom > 0) heap.fill(0, d, d + bottom * rowOut);
    d += bottom * rowOut;
  }
  return out;
}
