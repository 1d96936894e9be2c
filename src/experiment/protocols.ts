// The three training protocols the lab reproduces, as one declarative table each.
//
// paper = He, Zhang, Ren, Sun 2015 (arXiv 1512.03385), section 4.2.
// gcr   = the Torch reimplementation github.com/gcr/torch-residual-networks at commit fec67c0 (Jan 2016),
//         whose code (train-cifar.lua, residual-layers.lua, data loading) produced its published numbers.
// neon  = Nervana's cifar10_msra.py in NervanaSystems/ModelZoo, run with neon 1.2.1.
// Every value says where it comes from; "unstated" marks a detail the source does not give, with the
// choice made. docs/protocols.md §2.5 and §3 sum them up. A user's explicit choice
// (depth, block, solver, BN momentum, ...) overrides the profile's `choices`; the `model`, `data` and
// `eval` details are what the profile fixes.

import type { SolverName } from './solvers.ts';
import type { ExperimentConfig, ProtocolName } from './types.ts';

export { PROTOCOL_NAMES, type ProtocolName } from './types.ts';

/** How a protocol prepares its images (src/data/preprocess.ts, augment.ts, batches.ts). */
export interface DataProtocol {
  preprocess: 'pixel-mean' | 'pixel-mean-global-std' | 'channel-mean'; // paper | gcr | neon
  augment: 'pad-crop' | 'shift' | 'neon-pad-crop' | 'none'; // paper | gcr | neon
  flip: boolean; // horizontal flip p = 0.5
  sampling: 'shuffle' | 'with-replacement'; // paper, neon | gcr
}

export type InitScheme = {
  /** Convolutions: N(0, sqrt(2 / (k*k*n_in))) in all three (He et al. 2015 "MSRA" init, fan-in). */
  conv: 'he-normal';
  /** BN gamma: gcr draws N(1, 0.002); neon and the paper start at 1. Beta is 0 everywhere. */
  bnGamma: { mean: number; std: number };
  /** Final layer: 'torch-default' = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias; 'he-normal' = N(0, sqrt(2/fan_in)), bias 0. */
  linear: 'torch-default' | 'he-normal';
};

export interface ModelDetails {
  convBias: boolean; // gcr's convs keep a (zero-initialised) bias although BN follows
  logitBN: boolean; // neon: BN on the final affine output, before the softmax
  linearBias: boolean; // neon's affine layer has no bias when it is batch-normalised
  bnEps: number;
  /** Running variance from the unbiased (N/(N-1)) batch variance, as Torch/cuDNN do, or the biased one (neon). */
  bnRunningVar: 'unbiased' | 'biased';
  /** Initial running statistics: Torch starts mean 0, var 1; neon starts both at 0. */
  bnRunningVarInit: number;
  init: InitScheme;
}

export interface ProtocolProfile {
  name: ProtocolName;
  label: string;
  source: string;
  /** Values a user can change; protocol and seed are not part of a profile. */
  choices: Omit<ExperimentConfig, 'protocol' | 'seed'>;
  model: ModelDetails;
  data: DataProtocol;
  /** SGD momentum for both SGD forms. */
  momentum: number;
  eval: {
    /** Evaluate on the full 10k test set before the first epoch too (gcr logs epoch 0). */
    atStart: boolean;
  };
}

export const PROTOCOLS: Record<ProtocolName, ProtocolProfile> = {
  paper: {
    name: 'paper',
    label: 'paper (He et al. 2015)',
    source: 'He, Zhang, Ren, Sun 2015, section 4.2',
    choices: {
      depth: 20, // Table 6 runs n = 3, 5, 7, 9, 18 (and 200)
      block: 'relu-bnbefore', // Fig. 2: conv-BN-ReLU-conv-BN, add, ReLU
      shortcut: 'A', // "we use identity shortcuts in all cases (i.e., option A)"
      solver: 'sgd', // "SGD ... momentum of 0.9" (Caffe's classic momentum form)
      lr: 0.1, // "We start with a learning rate of 0.1"
      rho: 0.9, // not used by SGD
      wd: 1e-4, // "weight decay of 0.0001"
      bnm: 0.1, // unstated; Torch's default, as gcr used
      epochs: 164, // 64k iterations at 391 iterations per epoch (50k images, batch 128)
      batch: 128, // "mini-batch size of 128"
      schedule: { kind: 'paper' }, // "divide it by 10 at 32k and 48k iterations, and terminate training at 64k"
      warmup: 'none', // the 110-layer run uses 'paper' warm-up: "0.01 to warm up ... until the training error is below 80%"
    },
    model: {
      convBias: false, // BN "right after each convolution"; no bias stated
      logitBN: false,
      linearBias: true,
      bnEps: 1e-5, // unstated; Caffe's and Torch's default
      bnRunningVar: 'unbiased', // unstated; Caffe and Torch both use the unbiased variance
      bnRunningVarInit: 1,
      init: { conv: 'he-normal', bnGamma: { mean: 1, std: 0 }, linear: 'torch-default' }, // "initialize the weights as in [13]"; FC unstated
    },
    data: {
      preprocess: 'pixel-mean', // "the per-pixel mean subtracted"
      augment: 'pad-crop', // "4 pixels are padded on each side, and a 32x32 crop is randomly sampled"
      flip: true, // "or its horizontal flip"
      sampling: 'shuffle', // unstated; ordinary shuffled epochs
    },
    momentum: 0.9,
    eval: { atStart: true },
  },
  gcr: {
    name: 'gcr',
    label: 'gcr (Torch reimplementation)',
    source: 'gcr/torch-residual-networks @ fec67c0, train-cifar.lua',
    choices: {
      depth: 20,
      block: 'relu-bnbefore', // "ReLU, BN before add (ORIG PAPER reimplementation)"
      shortcut: 'A', // "I also have only implemented Option (A)"
      solver: 'sgd-nesterov', // optim.sgd{nesterov=true, dampening=0, momentum=0.9}
      lr: 0.1,
      rho: 0.9,
      wd: 1e-4, // weightDecay 1e-4, added to every parameter's gradient (BN and biases too)
      bnm: 0.1, // nn/cudnn default: running = 0.9 old + 0.1 batch
      epochs: 200, // "We train our model for 200 epochs"
      batch: 128,
      schedule: { kind: 'gcr' }, // code: 0.01 from epoch 80, 0.001 from epoch 120 (README says 160)
      warmup: 'none', // the 110-layer run used the 'fancy' policy: 0.001 for 400 iterations
    },
    model: {
      convBias: true, // cudnn.SpatialConvolution keeps its bias, initialised to 0
      logitBN: false,
      linearBias: true,
      bnEps: 1e-5, // cudnn.SpatialBatchNormalization default
      bnRunningVar: 'unbiased', // cuDNN updates the running variance with the unbiased batch variance
      bnRunningVarInit: 1,
      init: { conv: 'he-normal', bnGamma: { mean: 1, std: 0.002 }, linear: 'torch-default' }, // nninit kaiming; gamma N(1, 0.002)
    },
    data: {
      preprocess: 'pixel-mean-global-std', // mean image subtracted, divided by one global std
      augment: 'shift', // random shift in [-4, 4], fill 0 after normalisation
      flip: true, // p = 0.5
      sampling: 'with-replacement', // each epoch draws 50,000 images with replacement
    },
    momentum: 0.9,
    eval: { atStart: true }, // its logs start with the untrained network's test error
  },
  neon: {
    name: 'neon',
    label: 'neon (Nervana ModelZoo)',
    source: 'NervanaSystems/ModelZoo cifar10_msra.py, neon 1.2.1',
    choices: {
      depth: 20,
      block: 'relu-bnbefore',
      shortcut: 'neon', // 1x1 stride-2 conv initialised to the identity, trained, no BN
      solver: 'sgd', // GradientDescentMomentum: v = 0.9 v - lr (g + 1e-4 p); p += v
      lr: 0.1,
      rho: 0.9,
      wd: 1e-4, // wdecay=0.0001 on every parameter
      bnm: 0.1, // BatchNorm rho = 0.9 in neon's convention
      epochs: 180, // --epochs 180
      batch: 128,
      schedule: { kind: 'neon' }, // Schedule([90, 135], 0.1)
      warmup: 'none',
    },
    model: {
      convBias: false, // Conv(..., batch_norm=True) has no bias
      logitBN: true, // Affine(nout=10, batch_norm=True, activation=Softmax)
      linearBias: false,
      bnEps: 1e-3, // neon BatchNorm eps
      bnRunningVar: 'biased',
      bnRunningVarInit: 0, // gmean and gvar start at 0
      init: { conv: 'he-normal', bnGamma: { mean: 1, std: 0 }, linear: 'he-normal' }, // Kaiming() on conv and affine
    },
    data: {
      preprocess: 'channel-mean', // per-channel mean subtracted, 0-255 scale, no std
      augment: 'neon-pad-crop', // 40x40 padded images, random 32x32 crop; test = centre crop
      flip: true,
      sampling: 'shuffle',
    },
    momentum: 0.9,
    eval: { atStart: true }, // neon evaluates every epoch (eval_freq 1); the lab also logs epoch 0
  },
};

/** Values that depend on the solver: gcr ran its adaptive solvers without weight decay (docs/protocols.md §3.1). */
export function solverDefaultsFor(protocol: ProtocolName, solver: SolverName): Pick<ExperimentConfig, 'lr' | 'rho' | 'wd'> {
  const p = PROTOCOLS[protocol].choices;
  switch (solver) {
    case 'sgd-nesterov':
    case 'sgd':
      return { lr: p.lr, rho: p.rho, wd: p.wd };
    case 'rmsprop':
      return { lr: 1e-2, rho: 0.9, wd: 0 }; // gcr's best RMSprop rate; alpha 0.9
    case 'adagrad':
      return { lr: 0.1, rho: p.rho, wd: 0 }; // gcr's best Adagrad rate
    case 'adadelta':
      return { lr: 1, rho: 0.3, wd: 0 }; // gcr: rho 0.3, no learning rate
    case 'adam':
      return { lr: 1e-3, rho: p.rho, wd: 0 }; // Kingma & Ba's default; not run by the seeds
  }
}
