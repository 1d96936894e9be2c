// The page's experiment queue (issue 6): several experiments (a whole published table, or one
// configuration with N seeds) run one after another in the worker, surviving reloads like any run.
// Joined into the page's one store by src/state/store.ts.

import type { StoreApi } from 'zustand/vanilla';
import type { LabState } from './store.ts';
import type { LabEngine } from '../worker/protocol.ts';

export interface QueueSlice {
  /** Placeholder until the queue lands: no items. */
  queueItems: readonly unknown[];
}

type Set = StoreApi<LabState>['setState'];
type Get = StoreApi<LabState>['getState'];

export function queueSlice(_set: Set, _get: Get, _engine: LabEngine): QueueSlice {
  return { queueItems: [] };
}
