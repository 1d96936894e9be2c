// How much storage the browser grants the lab: navigator.storage.estimate() where it exists (pages
// and workers in current browsers), nothing in Node. The run store asks before large writes so that a
// checkpoint that cannot fit is refused up front, with a report of what to delete, instead of failing
// half way (a failed write keeps the previous checkpoint either way).

export interface StorageEstimateResult {
  /** Bytes this origin uses. */
  usage: number;
  /** Bytes this origin may use. */
  quota: number;
}

/** Returns undefined where the browser cannot say (the store then writes and handles a refusal). */
export type EstimateFn = () => Promise<StorageEstimateResult | undefined>;

interface StorageManagerLike {
  estimate?: () => Promise<{ usage?: number; quota?: number }>;
  persist?: () => Promise<boolean>;
  persisted?: () => Promise<boolean>;
}

function storageManager(): StorageManagerLike | undefined {
  const nav = (globalThis as { navigator?: { storage?: StorageManagerLike } }).navigator;
  return nav?.storage;
}

/** navigator.storage.estimate(), or undefined where it is missing or fails. */
export const browserEstimate: EstimateFn = async () => {
  const sm = storageManager();
  if (!sm?.estimate) return undefined;
  try {
    const { usage, quota } = await sm.estimate();
    if (typeof usage !== 'number' || typeof quota !== 'number' || !(quota > 0)) return undefined;
    return { usage, quota };
  } catch {
    return undefined;
  }
};

/**
 * Ask the browser not to evict the lab's storage under pressure (navigator.storage.persist, pages
 * only). Returns whether storage is persistent, or undefined where the API is missing. Call it from the
 * page when the first run starts; browsers may grant it silently, ask the user, or refuse.
 */
export async function requestPersistentStorage(): Promise<boolean | undefined> {
  const sm = storageManager();
  if (!sm?.persist) return undefined;
  try {
    if (sm.persisted && (await sm.persisted())) return true;
    return await sm.persist();
  } catch {
    return undefined;
  }
}

/** Extra room asked for beyond a write's own size: IndexedDB's encoding, indexes, the journal. */
export function withMargin(bytes: number): number {
  return Math.ceil(bytes * 1.1) + 1024 * 1024;
}
