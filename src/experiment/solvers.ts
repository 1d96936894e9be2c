// The solvers a user can choose, by name. Their formulas (Torch optim's, neon's) are in
// src/train/solvers.ts; the defaults each protocol gives them are in protocols.ts.

export type SolverName = 'sgd-nesterov' | 'sgd' | 'rmsprop' | 'adagrad' | 'adadelta' | 'adam';
export const SOLVER_NAMES: readonly SolverName[] = ['sgd-nesterov', 'sgd', 'rmsprop', 'adagrad', 'adadelta', 'adam'];
