// Hands the page's one store to the components (created in main.tsx with the worker client).
import { createContext, useContext, type ReactNode } from 'react';
import { useStore } from 'zustand';
import type { LabState, LabStore } from '../state/store.ts';

const StoreContext = createContext<LabStore | null>(null);

export function LabStoreProvider({ store, children }: { store: LabStore; children: ReactNode }) {
  return <StoreContext.Provider value={store}>{children}</StoreContext.Provider>;
}

export function useLabStore(): LabStore {
  const store = useContext(StoreContext);
  if (!store) throw new Error('useLab outside LabStoreProvider');
  return store;
}

/** A slice of the store; the component re-renders when the selected value changes. */
export function useLab<T>(selector: (s: LabState) => T): T {
  return useStore(useLabStore(), selector);
}
