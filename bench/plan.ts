// What one `npm run bench` measures, full or --quick: depths, batches, step counts and time budgets,
// shared by the Node part (bench/node.ts), the browser part (bench/browser.ts and its page) and the
// PyTorch script's arguments. Plain data, so it can be posted to a worker.

export interface StepPlan {
  depth: number;
  batch: number;
  warmup: number;
  steps: number;
  /** Stop after this much timed work (at least 3 steps); a note says so in the record. */
  budgetMs?: number;
  /** Extra share-URL keys (block variant, shortcut). */
  extra?: string;
  /**
   * The loop plan: measure the bare step and the loop this many times each, in turns (bare, loop,
   * bare, loop, ...; each warmup + steps), so that both see the same machine. The loop's overhead is
   * then judged against these bare steps, not against the train-step record taken minutes earlier.
   */
  rounds?: number;
  /** Why this size (e.g. "batch 16: tfjs-cpu is too slow for 128"). */
  note?: string;
}

export interface BenchPlan {
  quick: boolean;
  /** Bare training steps on the best CPU backend (wasm), Node and browser worker. */
  wasmSteps: StepPlan[];
  /** tfjs-cpu: sized down where batch 128 would take minutes. */
  cpuSteps: StepPlan[];
  /** WebGL / WebGPU on SwiftShader: tiny only. */
  gpuSteps: StepPlan[];
  /**
   * WebGPU in Node (Dawn), the lab's kernels and the stock ones: warm-up steps, then `steps` timed, the
   * first of them counted (gpu-step, gpu-kernel records). ResNet-20 at batch 128, the size the kernel targets are for.
   */
  nodeWebGpuSteps: StepPlan[];
  /** WebGPU in Node with the lab's kernels: tensors alive after many steps minus before (full run only). */
  nodeWebGpuDrift?: StepPlan;
  /** The lab's loop against the bare step (ResNet-20 at 128). */
  loop: StepPlan;
  /**
   * ResNet-110 / ResNet-20 step times measured in turns (shallow steps, deep steps, repeated `rounds`
   * times) on wasm, Node and browser worker: the ratio target judged on the same minutes of the
   * machine, not on two train-step records taken minutes apart. Full run only.
   */
  depthRatio?: { shallow: StepPlan; deep: StepPlan; rounds: number };
  /** Block variants and shortcuts of ResNet-20 in the browser worker's lab loop (full run only). */
  variants: StepPlan[];
  /** Tensor-count drift over a long loop: a small model so 500 steps fit. */
  drift: StepPlan;
  /** The same on WebGL / WebGPU (software GPUs: fewer steps; none with --quick). */
  gpuDrift?: StepPlan;
  /** Backends the browser part measures in their own bench worker (cpu only in the full run). */
  browserBackends: Array<'wasm' | 'webgl' | 'webgpu' | 'cpu'>;
  dataBatches: number;
  evalImages: number;
  evalDepths: number[];
  /** The lab's loop with an evaluation every stepsPerEpoch steps, to time how long each holds it up. */
  evalHoldUp?: { stepsPerEpoch: number; evals: number };
  torch: { depths: number[]; batch: number; warmup: number; steps: number };
  /**
   * PyTorch's step and the lab's (Node, wasm) measured in turns at each depth (bench/torch-rounds.ts):
   * each round PyTorch's warmup + steps in each memory format, then the lab's, `rounds` rounds per
   * depth, so that the "x PyTorch" ratio is a median of ratios taken on the same minutes of the
   * machine. Before the first round of a depth, PyTorch warms each format's model up untimed (a new
   * process's first steps are slower). Where it runs, it gives the run's PyTorch records instead of the
   * PyTorch pass at the start.
   */
  torchRounds: TorchRoundsPlan;
}

/** PyTorch's memory formats in bench/torch_step.py. */
export type TorchFormat = 'channels-last' | 'default';

export interface TorchRoundsPlan {
  depths: number[];
  batch: number;
  warmup: number;
  steps: number;
  rounds: number;
  formats: TorchFormat[];
}

const R = (depth: number, batch: number, warmup: number, steps: number, rest: Partial<StepPlan> = {}): StepPlan => ({
  depth,
  batch,
  warmup,
  steps,
  ...rest,
});

export function makePlan(quick: boolean): BenchPlan {
  if (quick) {
    return {
      quick,
      wasmSteps: [R(20, 128, 1, 5)],
      cpuSteps: [R(8, 16, 1, 2, { note: 'ResNet-8 at batch 16: tfjs-cpu takes about a minute per ResNet-20 step at 128' })],
      gpuSteps: [R(8, 8, 1, 1, { note: 'ResNet-8 at batch 8: software GPU' })],
      nodeWebGpuSteps: [R(20, 128, 1, 1, { note: 'one warm-up step, then one timed and counted' })],
      loop: R(20, 128, 1, 3, { rounds: 2 }),
      variants: [],
      drift: R(8, 16, 2, 60, { note: 'ResNet-8 at batch 16 (60 steps with --quick)' }),
      browserBackends: ['wasm', 'webgl'],
      dataBatches: 100,
      evalImages: 1000,
      evalDepths: [20],
      evalHoldUp: { stepsPerEpoch: 4, evals: 2 },
      torch: { depths: [20], batch: 128, warmup: 2, steps: 5 },
      torchRounds: { depths: [20], batch: 128, warmup: 1, steps: 3, rounds: 3, formats: ['channels-last', 'default'] },
    };
  }
  return {
    quick,
    wasmSteps: [R(20, 128, 2, 10), R(56, 128, 1, 10), R(110, 128, 1, 10)],
    cpuSteps: [
      R(20, 32, 1, 3, { note: 'batch 32: tfjs-cpu takes about a minute per step at 128' }),
      R(20, 128, 0, 1, { note: 'one step at batch 128, no warm-up' }),
    ],
    gpuSteps: [
      R(8, 8, 1, 3, { note: 'ResNet-8 at batch 8: software GPU' }),
      R(20, 16, 1, 2, { note: 'ResNet-20 at batch 16: software GPU' }),
    ],
    nodeWebGpuSteps: [R(20, 128, 1, 1, { note: 'one warm-up step, then one timed and counted' })],
    nodeWebGpuDrift: R(8, 2, 1, 500, { note: 'ResNet-8 at batch 2, 500 steps: tensor drift on a software GPU' }),
    loop: R(20, 128, 1, 5, { rounds: 7 }),
    depthRatio: { shallow: R(20, 128, 1, 5), deep: R(110, 128, 1, 3), rounds: 5 },
    variants: [
      R(20, 128, 1, 5, { extra: 'block=norelu-bnbefore' }),
      R(20, 128, 1, 5, { extra: 'block=relu-bnafter' }),
      R(20, 128, 1, 5, { extra: 'block=norelu-bnafter' }),
      R(20, 128, 1, 5, { extra: 'shortcut=B' }),
      R(20, 128, 1, 5, { extra: 'shortcut=neon' }),
    ],
    drift: R(8, 16, 5, 500, { note: 'ResNet-8 at batch 16, so that 500 steps take seconds' }),
    gpuDrift: R(8, 8, 2, 30, { note: 'ResNet-8 at batch 8, 30 steps: software GPU' }),
    browserBackends: ['wasm', 'webgl', 'webgpu', 'cpu'],
    dataBatches: 400,
    evalImages: 10_000,
    evalDepths: [20],
    evalHoldUp: { stepsPerEpoch: 6, evals: 3 },
    torch: { depths: [20, 56, 110], batch: 128, warmup: 3, steps: 10 },
    torchRounds: { depths: [20, 56, 110], batch: 128, warmup: 1, steps: 3, rounds: 7, formats: ['channels-last', 'default'] },
  };
}

/** "resnet20", with the variant when there is one. */
export function modelName(depth: number): string {
  return `resnet${depth}`;
}
