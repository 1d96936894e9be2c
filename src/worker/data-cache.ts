// The browser's own copy of the site's data files (Cache Storage), so that a reload does not download
// CIFAR-10 again. Only files that passed their check are put here (see data-source.ts); one that fails
// later is dropped. Best effort: where Cache Storage is missing (a non-secure context), refused or
// full, the lab simply fetches from the site. Not a cache of anything else, and not a service worker.

/** Files kept by path under the site root ("data/..."). */
export interface DataCache {
  get(path: string): Promise<Uint8Array | undefined>;
  put(path: string, bytes: Uint8Array): Promise<void>;
  drop(path: string): Promise<void>;
}

export const DATA_CACHE_NAME = 'resnet-lab-data-v1';

/**
 * The Cache Storage of this browser, or undefined where there is none. Keys are the paths resolved
 * against `keyBase` (by default the worker script's own URL, which is stable for a deployed site), so
 * two labs on one origin keep their own copies.
 */
export async function openDataCache(
  name = DATA_CACHE_NAME,
  keyBase: string | undefined = globalThis.location?.href,
): Promise<DataCache | undefined> {
  const storage = (globalThis as { caches?: CacheStorage }).caches;
  if (!storage || !keyBase) return undefined;
  let cache: Cache;
  try {
    cache = await storage.open(name);
  } catch {
    return undefined; // e.g. SecurityError where storage is blocked
  }
  const key = (path: string) => new URL(path, keyBase).href;
  return {
    async get(path) {
      try {
        const hit = await cache.match(key(path));
        return hit ? new Uint8Array(await hit.arrayBuffer()) : undefined;
      } catch {
        return undefined;
      }
    },
    async put(path, bytes) {
      try {
        const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) };
        await cache.put(key(path), new Response(bytes as BlobPart, { headers }));
      } catch {
        // QuotaExceededError and the like: the data is not kept, which is all it costs.
      }
    },
    async drop(path) {
      try {
        await cache.delete(key(path));
      } catch {
        // Nothing to do: a copy that cannot be deleted fails its check again next time and is refetched.
      }
    },
  };
}

/** A DataCache in memory, for tests and for hosts without Cache Storage that still want the interface. */
export function memoryDataCache(): DataCache & { files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  return {
    files,
    get: async (path) => files.get(path)?.slice(),
    put: async (path, bytes) => void files.set(path, bytes.slice()),
    drop: async (path) => void files.delete(path),
  };
}
