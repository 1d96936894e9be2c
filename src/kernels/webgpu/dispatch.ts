// Runs one of the lab's WGSL compute shaders on tfjs-backend-webgpu's device, inside tfjs's own command
// stream, so it is ordered with tfjs's kernels and nothing is read back. tfjs's WebGPUProgram gives a
// shader one output and read-only inputs; the lab's kernels need several outputs (batch-norm
// statistics) and in-place updates (the SGD step), so they bind tensors' buffers themselves here.
// Not the kernels (the other files of this folder), and not their registration (register.ts).
//
// Reaches these WebGPUBackend members (tfjs-backend-webgpu 4.22, which has had no release since):
// device, queue, tensorMap, bufferManager, makeTensorInfo, uploadToGPU, ensureCommandEncoderReady,
// endComputePassEncoder, submitQueue, and the fields commandEncoder, computePassEncoder,
// dispatchCountInPass, commandQueueOwnedIds and uniformPendingDisposal, used as recordAndSubmit uses them.

import { env, type DataType, type TensorInfo } from '@tensorflow/tfjs-core';

/** The parts of tfjs's WebGPUBackend this module uses. */
export interface WebGpuBackendLike {
  device: GPUDevice;
  queue: GPUQueue;
  tensorMap: { get(dataId: object): { resource?: unknown; refCount: number; values?: unknown } | undefined };
  bufferManager: {
    acquireBuffer(size: number, usage: number): GPUBuffer;
  };
  makeTensorInfo(shape: number[], dtype: DataType): TensorInfo;
  uploadToGPU(dataId: object): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  refCount(dataId: object): number;
}

interface BackendInternals extends WebGpuBackendLike {
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  dispatchCountInPass: number;
  commandQueueOwnedIds: WeakSet<object>;
  uniformPendingDisposal: GPUBuffer[];
}

/** Whether `backend` is tfjs-backend-webgpu's (it has a GPU device and tfjs's command queue). */
export function isWebGpuBackend(backend: unknown): backend is WebGpuBackendLike {
  const b = backend as Partial<BackendInternals> | null;
  return b != null && typeof b === 'object' && b.device != null && typeof b.uploadToGPU === 'function' && 'dispatchCountInPass' in b;
}

/** One binding of a dispatch: a tensor's buffer, read or also written (a written tensor's CPU copy is dropped). */
export interface Binding {
  tensor: TensorInfo;
  write?: boolean;
}

/**
 * Whether a dispatch may write these tensors in place: each holds its data alone (refCount 1: no clone,
 * checkpoint copy or Variable's initial tensor would see the write) and no two share it.
 */
export function ownedAlone(backend: WebGpuBackendLike, tensors: readonly TensorInfo[]): boolean {
  const ids = new Set(tensors.map((t) => t.dataId));
  return ids.size === tensors.length && tensors.every((t) => backend.refCount(t.dataId) === 1);
}

/** What one dispatch of a lab kernel does, for the bench's per-kernel records. */
export interface DispatchWork {
  /** The kernel's name in records, e.g. "lab.filterGrad.partial". */
  kernel: string;
  /** Threads launched (workgroups times the workgroup's size). */
  threads: number;
  /** Multiply-adds of the dispatch (0 for element-wise and reduction kernels). */
  macs: number;
  /** The longest chain of multiply-adds one thread does. */
  serialMacsPerThread: number;
}

export interface Dispatch {
  /** Names the shader for the pipeline cache: equal keys must mean equal WGSL. */
  key: string;
  /** The whole shader: storage bindings 0..n-1 in `bindings` order, then the uniforms (if any) at binding n; entry point main. */
  wgsl: () => string;
  bindings: Binding[];
  /** Uniform values, written as one struct of 4-byte fields in this order. */
  uniforms?: { u32?: number[]; f32?: number[] };
  workgroups: [number, number?, number?];
  /** The shader's workgroup size (its product), for the bench's thread counts. */
  workgroupSize: number;
  /** What the dispatch computes, for the bench; macs and serialMacsPerThread default to 0. */
  work?: { kernel: string; macs?: number; serialMacsPerThread?: number };
}

type Observer = (work: DispatchWork) => void;
let observer: Observer | null = null;

/** Calls `fn` for every lab dispatch (null: stop). The bench's per-kernel records come from here. */
export function observeLabDispatches(fn: Observer | null): void {
  observer = fn;
}

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

function pipelineFor(device: GPUDevice, d: Dispatch): GPUComputePipeline {
  let cache = pipelines.get(device);
  if (cache == null) pipelines.set(device, (cache = new Map()));
  let pipeline = cache.get(d.key);
  if (pipeline == null) {
    const module = device.createShaderModule({ code: d.wgsl(), label: d.key });
    pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: d.key });
    cache.set(d.key, pipeline);
  }
  return pipeline;
}

function uniformBuffer(b: BackendInternals, u: NonNullable<Dispatch['uniforms']>): GPUBuffer {
  const u32 = u.u32 ?? [];
  const f32 = u.f32 ?? [];
  // A uniform buffer's size is a multiple of 16 bytes.
  const words = Math.max(4, Math.ceil((u32.length + f32.length) / 4) * 4);
  const data = new ArrayBuffer(words * 4);
  new Uint32Array(data, 0, u32.length).set(u32);
  new Float32Array(data, u32.length * 4, f32.length).set(f32);
  const buffer = b.bufferManager.acquireBuffer(data.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  b.queue.writeBuffer(buffer, 0, data);
  // Released by tfjs when the commands are submitted, as its own uniforms are.
  b.uniformPendingDisposal.push(buffer);
  return buffer;
}

/** A new float32 tensor on the backend, for a dispatch to write. The caller owns it (kernel outputs are). */
export function makeOutput(backend: WebGpuBackendLike, shape: number[]): TensorInfo {
  const out = backend.makeTensorInfo(shape, 'float32');
  backend.uploadToGPU(out.dataId);
  return out;
}

/** Records `d` in tfjs's current compute pass, submitting as tfjs does every WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE dispatches. */
export function dispatch(backend: WebGpuBackendLike, d: Dispatch): void {
  const b = backend as BackendInternals;
  const [x, y = 1, z = 1] = d.workgroups;
  if (x === 0 || y === 0 || z === 0) return;
  const limit = b.device.limits.maxComputeWorkgroupsPerDimension;
  if (x > limit || y > limit || z > limit)
    throw new Error(`${d.key}: ${x}x${y}x${z} workgroups exceed the device's ${limit} per dimension.`);
  const entries: GPUBindGroupEntry[] = d.bindings.map(({ tensor }, i) => {
    b.uploadToGPU(tensor.dataId);
    const resource = b.tensorMap.get(tensor.dataId)?.resource;
    if (!(resource instanceof GPUBuffer)) throw new Error(`${d.key}: binding ${i} is not in a GPU buffer.`);
    b.commandQueueOwnedIds.add(tensor.dataId);
    return { binding: i, resource: { buffer: resource } };
  });
  if (d.uniforms != null) entries.push({ binding: entries.length, resource: { buffer: uniformBuffer(b, d.uniforms) } });
  const pipeline = pipelineFor(b.device, d);
  const bindGroup = b.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
  b.ensureCommandEncoderReady();
  b.computePassEncoder ??= b.commandEncoder!.beginComputePass({});
  b.computePassEncoder.setPipeline(pipeline);
  b.computePassEncoder.setBindGroup(0, bindGroup);
  b.computePassEncoder.dispatchWorkgroups(x, y, z);
  b.dispatchCountInPass++;
  // A tensor written in place: the copy tfjs keeps on the CPU after a read is stale now.
  for (const { tensor, write } of d.bindings) {
    const data = write ? (b.tensorMap.get(tensor.dataId) as { values?: unknown } | undefined) : undefined;
    if (data?.values != null) data.values = null;
  }
  if (Number(env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE')) <= b.dispatchCountInPass) {
    b.endComputePassEncoder();
    b.submitQueue();
  }
  if (observer != null && d.work != null) {
    observer({
      kernel: d.work.kernel,
      threads: x * y * z * d.workgroupSize,
      macs: d.work.macs ?? 0,
      serialMacsPerThread: d.work.serialMacsPerThread ?? 0,
    });
  }
}
