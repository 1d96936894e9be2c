// From a user's configuration to everything a run needs: the network spec, the solver settings and the
// data protocol, with the protocol profile's hidden details filled in. Also the one-line description
// the page and the CLI show. Pure: no tensors.

import type { ExperimentConfig } from '../experiment/config.ts';
import { countTrainableParams, type ResNetSpec } from '../model/resnet.ts';
import type { DataProtocol } from '../experiment/protocols.ts';
import { PROTOCOLS, type ProtocolProfile } from '../experiment/protocols.ts';
import { defaultSolverSettings, type SolverSettings } from './solvers.ts';
import { describeSchedule } from '../experiment/schedules.ts';

export interface Experiment {
  config: ExperimentConfig;
  protocol: ProtocolProfile;
  spec: ResNetSpec;
  solver: SolverSettings;
  data: DataProtocol;
}

export function modelSpec(config: Pick<ExperimentConfig, 'protocol' | 'depth' | 'block' | 'shortcut'>): ResNetSpec {
  const p = PROTOCOLS[config.protocol];
  return { ...p.model, depth: config.depth, block: config.block, shortcut: config.shortcut, numClasses: 10 };
}

export function resolveExperiment(config: ExperimentConfig): Experiment {
  const protocol = PROTOCOLS[config.protocol];
  const solver: SolverSettings = {
    ...defaultSolverSettings(config.solver),
    momentum: protocol.momentum,
    weightDecay: config.wd,
    rho: config.rho,
  };
  return { config, protocol, spec: modelSpec(config), solver, data: protocol.data };
}

const BLOCK_LABELS: Record<ExperimentConfig['block'], string> = {
  'relu-bnbefore': 'paper block (BN before add, ReLU after)',
  'norelu-bnbefore': 'BN before add, no final ReLU',
  'relu-bnafter': 'BN after add, ReLU after',
  'norelu-bnafter': 'BN after add, no final ReLU',
};

const SOLVER_LABELS: Record<ExperimentConfig['solver'], string> = {
  'sgd-nesterov': 'SGD+Nesterov',
  sgd: 'SGD+momentum',
  rmsprop: 'RMSprop',
  adagrad: 'Adagrad',
  adadelta: 'Adadelta',
  adam: 'Adam',
};

/** Millions with two decimals, as the paper's Table 6 writes them (0.27M, 1.73M). */
function formatParams(n: number): string {
  return `${(n / 1e6).toFixed(2)}M`;
}

/** "ResNet-56, 0.85M parameters, paper block, option A, SGD+Nesterov 0.1, BN momentum 0.1 (Torch convention)" */
export function describeExperiment(config: ExperimentConfig): string {
  const spec = modelSpec(config);
  const solver =
    config.solver === 'adadelta'
      ? `Adadelta rho ${config.rho}`
      : `${SOLVER_LABELS[config.solver]} ${config.lr}${config.solver === 'rmsprop' ? ` alpha ${config.rho}` : ''}`;
  const bnm = config.bnm === 'dynamic' ? 'BN momentum dynamic 1/(1+k)' : `BN momentum ${config.bnm} (Torch convention)`;
  const shortcut = config.shortcut === 'neon' ? 'neon shortcut' : `option ${config.shortcut}`;
  const wd = config.wd > 0 ? `, wd ${config.wd}` : '';
  return (
    `ResNet-${config.depth}, ${formatParams(countTrainableParams(spec))} parameters, ${BLOCK_LABELS[config.block]}, ` +
    `${shortcut}, ${solver}${wd}, ${bnm}, ${config.protocol} protocol, ` +
    `${config.epochs} epochs (lr ${describeSchedule(config.schedule, config.warmup, config.lr)}), batch ${config.batch}`
  );
}
