// Comparing stored runs on the page (issue 6): runs selected from the history, overlaid on one pair of
// charts against a pinned baseline, with a summary table. Joined into the page's one store by
// src/state/store.ts.

import type { StoreApi } from 'zustand/vanilla';
import type { LabState } from './store.ts';

export interface CompareSlice {
  /** Placeholder until the Compare view lands: stored run ids selected for comparison. */
  compareIds: readonly string[];
}

type Set = StoreApi<LabState>['setState'];
type Get = StoreApi<LabState>['getState'];

export function compareSlice(_set: Set, _get: Get): CompareSlice {
  return { compareIds: [] };
}
