// Counts what a WebGPU training step asks of the GPU, for the bench's gpu-step and gpu-kernel records:
// compute dispatches, the distinct pipelines they use, bytes written to the GPU and bytes mapped back
// for reading, and per dispatch the kernel, threads launched, multiply-adds and the longest serial
// chain of them in one thread. It wraps WebGPU's own prototypes (GPUComputePassEncoder and the like,
// which Dawn for Node and browsers both expose) and tfjs-webgpu's runWebGPUProgram for its stock
// programs; the lab's kernels report their work themselves (src/kernels/webgpu/dispatch.ts). Not a
// timer, and not used outside the bench.

import { observeLabDispatches, type DispatchWork } from '../src/kernels/webgpu/dispatch.ts';

export interface GpuCounts {
  dispatches: number;
  pipelines: number;
  bytesUploaded: number;
  bytesReadBack: number;
  /** One entry per dispatch that the lab or tfjs described (tfjs's element-wise programs included, with 0 MACs). */
  work: DispatchWork[];
}

interface ProgramLike {
  constructor: { name: string };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  outputShape: number[];
}

type Uniform = { type: string; data: number[] };
type Shaped = { shape: number[] };

const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/**
 * Multiply-adds of one of tfjs-webgpu's programs, from its output and input shapes: a convolution
 * (forward or either gradient, NHWC), or a matrix product's output times its inner dimension (its
 * dimInner uniform); 0 for the others.
 */
export function stockProgramMacs(name: string, outputShape: number[], inputs: Shaped[], uniforms: Uniform[] | undefined): number {
  const out = size(outputShape);
  if (name === 'Conv2DDerFilterProgram') {
    const [n = 0, oh = 0, ow = 0] = inputs[1]?.shape ?? []; // dy
    return out * n * oh * ow;
  }
  if (name === 'Conv2DDerInputProgram' || name === 'Conv2DDerInputMMProgram') {
    const [fh = 0, fw = 0, inC = 0] = inputs[1]?.shape ?? []; // W
    return size(inputs[0]?.shape ?? []) * fh * fw * inC;
  }
  if (name === 'Conv2DMMProgram' || name === 'Conv2DNaiveProgram') {
    const [fh = 0, fw = 0, inC = 0] = inputs[1]?.shape ?? [];
    return out * fh * fw * inC;
  }
  if (/^MatMul/.test(name) && uniforms != null && uniforms.length >= 3) return out * (uniforms[2]!.data[0] ?? 0);
  return 0;
}

/** The stock program's work: each output element is one thread's chain, or a thread's tile of them. */
function stockWork(program: ProgramLike, inputs: Shaped[], uniforms: Uniform[] | undefined): DispatchWork {
  const [x, y, z] = program.dispatch;
  const threads = x * y * z * program.workgroupSize[0] * program.workgroupSize[1] * program.workgroupSize[2];
  const name = program.constructor.name;
  const macs = stockProgramMacs(name, program.outputShape, inputs, uniforms);
  const busy = Math.max(1, Math.min(threads, size(program.outputShape)));
  return { kernel: `tfjs.${name}`, threads, macs, serialMacsPerThread: Math.ceil(macs / busy) };
}

type Restore = () => void;

function wrap<T extends object, K extends keyof T>(target: T, key: K, make: (original: T[K]) => T[K]): Restore {
  const original = target[key];
  target[key] = make(original);
  return () => {
    target[key] = original;
  };
}

/**
 * Starts counting on the WebGPU globals and on `backend` (tfjs-webgpu's); returns a function that
 * stops counting and gives the counts since the start.
 */
export function countGpuWork(backend: object): () => GpuCounts {
  const counts: GpuCounts = { dispatches: 0, pipelines: 0, bytesUploaded: 0, bytesReadBack: 0, work: [] };
  const used = new Set<object>();
  const g = globalThis as unknown as Record<string, { prototype: Record<string, unknown> }>;
  const restores: Restore[] = [];
  const pass = g.GPUComputePassEncoder!.prototype;
  restores.push(
    wrap(
      pass,
      'dispatchWorkgroups',
      (f) =>
        function (this: unknown, ...args: unknown[]) {
          counts.dispatches++;
          return (f as (...a: unknown[]) => unknown).apply(this, args);
        },
    ),
    wrap(
      pass,
      'setPipeline',
      (f) =>
        function (this: unknown, pipeline: object) {
          used.add(pipeline);
          return (f as (p: object) => unknown).call(this, pipeline);
        },
    ),
  );
  const queue = g.GPUQueue!.prototype;
  restores.push(
    wrap(
      queue,
      'writeBuffer',
      (f) =>
        function (this: unknown, ...args: unknown[]) {
          const data = args[2] as ArrayBuffer | ArrayBufferView;
          const size = args[4] as number | undefined;
          const elementBytes = ArrayBuffer.isView(data) ? ((data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1) : 1;
          counts.bytesUploaded += size != null ? size * elementBytes : data.byteLength;
          return (f as (...a: unknown[]) => unknown).apply(this, args);
        },
    ),
  );
  const encoder = g.GPUCommandEncoder!.prototype;
  restores.push(
    wrap(
      encoder,
      'copyBufferToBuffer',
      (f) =>
        function (this: unknown, ...args: unknown[]) {
          // tfjs uploads through a mapped staging buffer copied into the tensor's buffer.
          const source = args[0] as { usage: number };
          if ((source.usage & GPUBufferUsage.MAP_WRITE) !== 0) counts.bytesUploaded += args[4] as number;
          return (f as (...a: unknown[]) => unknown).apply(this, args);
        },
    ),
  );
  const buffer = g.GPUBuffer!.prototype;
  restores.push(
    wrap(
      buffer,
      'mapAsync',
      (f) =>
        function (this: { size: number }, ...args: unknown[]) {
          if (((args[0] as number) & GPUMapMode.READ) !== 0) counts.bytesReadBack += (args[2] as number | undefined) ?? this.size;
          return (f as (...a: unknown[]) => unknown).apply(this, args);
        },
    ),
  );
  const b = backend as { runWebGPUProgram?: (...args: unknown[]) => unknown };
  if (typeof b.runWebGPUProgram === 'function') {
    const run = b.runWebGPUProgram;
    b.runWebGPUProgram = function (this: unknown, ...args: unknown[]) {
      const out = run.apply(this, args);
      counts.work.push(stockWork(args[0] as ProgramLike, args[1] as Shaped[], args[3] as Uniform[] | undefined));
      return out;
    };
    restores.push(() => {
      b.runWebGPUProgram = run;
    });
  }
  observeLabDispatches((w) => counts.work.push(w));
  restores.push(() => observeLabDispatches(null));
  return () => {
    for (const r of restores.reverse()) r();
    counts.pipelines = used.size;
    return counts;
  };
}
