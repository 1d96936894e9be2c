// Comparing stored runs on the page: runs selected from the history (at most
// MAX_COMPARE), one pinned as the baseline, the x-axis and smoothing of the overlaid curves, and the
// runs' whole series loaded from the run history for the charts. The selection is remembered in this
// browser (localStorage, validated when read back). Also the export of any stored run as a run bundle
// (a .zip, bundle-zip.ts) for the Runs list.
//
// The slice cannot watch the Runs list itself (slices get set/get only): the page calls syncCompare()
// whenever `runs` changes, which drops runs deleted while selected and loads (or reloads, when the
// stored run changed) the series of the selected ones. Joined into the page's one store by
// src/state/store.ts.

import type { StoreApi } from 'zustand/vanilla';
import { runToBundle } from './bundle-io.ts';
import { encodeRunZip, runZipFileName } from './bundle-zip.ts';
import { DEFAULT_SMOOTHING, X_AXES, type XAxis } from './curves.ts';
import type { CompareSlice, LabState } from './lab-state.ts';

/** More lines than this are hard to tell apart on one chart. */
export const MAX_COMPARE = 8;
/** Where the selection is remembered (this browser's localStorage). */
export const COMPARE_STORAGE_KEY = 'resnet-lab.compare';

type Set = StoreApi<LabState>['setState'];
type Get = StoreApi<LabState>['getState'];

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

interface Remembered {
  ids: string[];
  baseline?: string;
  axis: XAxis;
  smoothing: number;
}

interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

function storage(): StorageLike | undefined {
  try {
    return (globalThis as { localStorage?: StorageLike }).localStorage;
  } catch {
    return undefined; // a sandboxed page may throw on access
  }
}

/** Run ids as the run store makes them; anything else in a remembered selection is dropped. */
const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The remembered selection, checked field by field; a damaged entry gives the defaults. */
export function parseRemembered(text: string | null | undefined): Remembered {
  const fallback: Remembered = { ids: [], axis: 'epochs', smoothing: DEFAULT_SMOOTHING };
  if (!text) return fallback;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return fallback;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fallback;
  const o = v as Record<string, unknown>;
  const ids = Array.isArray(o.ids)
    ? [...new Set(o.ids.filter((x): x is string => typeof x === 'string' && ID.test(x)))].slice(0, MAX_COMPARE)
    : [];
  const baseline = typeof o.baseline === 'string' && ids.includes(o.baseline) ? o.baseline : undefined;
  const axis = X_AXES.includes(o.axis as XAxis) ? (o.axis as XAxis) : 'epochs';
  const smoothing = typeof o.smoothing === 'number' && o.smoothing >= 0 && o.smoothing < 1 ? o.smoothing : DEFAULT_SMOOTHING;
  return { ids, baseline, axis, smoothing };
}

export function compareSlice(set: Set, get: Get): CompareSlice {
  let remembered: Remembered;
  try {
    remembered = parseRemembered(storage()?.getItem(COMPARE_STORAGE_KEY));
  } catch {
    remembered = parseRemembered(undefined);
  }
  /** Loads under way, so one run is not read twice at once. */
  const inFlight = new Map<string, Promise<void>>();

  const remember = () => {
    const s = get();
    const value: Remembered = { ids: [...s.compareIds], baseline: s.compareBaseline, axis: s.compareAxis, smoothing: s.compareSmoothing };
    try {
      storage()?.setItem(COMPARE_STORAGE_KEY, JSON.stringify(value));
    } catch {
      // full or blocked storage: the selection is simply not remembered
    }
  };

  const load = (id: string): Promise<void> => {
    const running = inFlight.get(id);
    if (running) return running;
    set((s) => ({ compareLoading: [...s.compareLoading, id] }));
    const p = (async () => {
      try {
        const detail = await get().withHistory((store) => store.getRun(id));
        if (!detail) {
          set({ compareError: 'Runs are not saved in this browser, so there is nothing to compare.' });
          return;
        }
        set((s) => ({ compareDetails: { ...s.compareDetails, [id]: detail } }));
      } catch (e) {
        set({ compareError: `Could not load a run for Compare: ${message(e)}` });
      } finally {
        inFlight.delete(id);
        set((s) => ({ compareLoading: s.compareLoading.filter((x) => x !== id) }));
      }
    })();
    inFlight.set(id, p);
    return p;
  };

  const select = (ids: readonly string[]) => {
    const s = get();
    const next = [...s.compareIds];
    let refused = 0;
    for (const id of ids) {
      if (next.includes(id)) continue;
      if (next.length >= MAX_COMPARE) refused++;
      else next.push(id);
    }
    set({
      compareIds: next,
      compareError: refused > 0 ? `At most ${MAX_COMPARE} runs at a time: unselect one first.` : undefined,
    });
    remember();
    for (const id of next) if (!get().compareDetails[id]) void load(id);
  };

  const unselect = (id: string) => {
    const s = get();
    if (!s.compareIds.includes(id)) return;
    const compareIds = s.compareIds.filter((x) => x !== id);
    const { [id]: _dropped, ...compareDetails } = s.compareDetails;
    set({ compareIds, compareDetails, compareBaseline: s.compareBaseline === id ? undefined : s.compareBaseline, compareError: undefined });
    remember();
  };

  return {
    compareIds: remembered.ids,
    compareBaseline: remembered.baseline,
    compareAxis: remembered.axis,
    compareSmoothing: remembered.smoothing,
    compareDetails: {},
    compareLoading: [],

    toggleCompare(id, on) {
      const selected = get().compareIds.includes(id);
      if (on ?? !selected) select([id]);
      else unselect(id);
    },

    addToCompare(ids) {
      select(ids);
    },

    clearCompare() {
      set({ compareIds: [], compareBaseline: undefined, compareDetails: {}, compareError: undefined });
      remember();
    },

    setCompareBaseline(id) {
      if (!get().compareIds.includes(id)) return;
      set({ compareBaseline: id });
      remember();
    },

    setCompareAxis(axis) {
      if (!X_AXES.includes(axis)) return;
      set({ compareAxis: axis });
      remember();
    },

    setCompareSmoothing(weight) {
      if (!(weight >= 0 && weight < 1)) return;
      set({ compareSmoothing: weight });
      remember();
    },

    async syncCompare() {
      const s = get();
      if (s.runsState !== 'ready') return; // the list is not known yet: keep the remembered selection
      const byId = new Map(s.runs.map((r) => [r.id, r]));
      const gone = s.compareIds.filter((id) => !byId.has(id));
      if (gone.length > 0) {
        const compareIds = s.compareIds.filter((id) => byId.has(id));
        const compareDetails = Object.fromEntries(Object.entries(s.compareDetails).filter(([id]) => byId.has(id)));
        set({
          compareIds,
          compareDetails,
          compareBaseline: s.compareBaseline && byId.has(s.compareBaseline) ? s.compareBaseline : undefined,
        });
        remember();
      }
      // Load what is missing; reload a run stored again since (a run still training, a renamed one).
      const work: Promise<void>[] = [];
      for (const id of get().compareIds) {
        const d = get().compareDetails[id];
        const listed = byId.get(id)!;
        if (!d || d.meta.updatedAt !== listed.updatedAt) work.push(load(id));
      }
      await Promise.all(work);
    },

    async exportStoredRun(id) {
      const out = await get().withHistory(async (store) => {
        const detail = await store.getRun(id);
        const w = await store.loadFinalWeights(id);
        // The worker stores final weights as .safetensors bytes; the other form has no file of its own.
        const bundle = runToBundle(detail, w?.format === 'safetensors' ? w.bytes : null);
        return { fileName: runZipFileName(detail.meta.name), bytes: encodeRunZip(bundle) };
      });
      if (!out) throw new Error('Runs are not saved in this browser, so there is nothing to export.');
      return out;
    },
  };
}
