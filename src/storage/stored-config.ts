// The one place where storage reads fields of a run's stored configuration (the share-URL query
// string, RunMeta.config): the seed and the words of a run's default name. Not a config parser: it
// reads keys as text, so storage needs neither tfjs nor the page's config module. Swap the body for
// the experiment module's parser once one exists without tfjs.

export interface StoredConfigFields {
  depth?: string;
  protocol?: string;
  solver?: string;
  /** Undefined when the query has no seed key or a non-numeric one. */
  seed?: number;
}

/** The fields storage uses, read from a query such as "protocol=gcr&depth=20&...&seed=7". */
export function readStoredConfig(config: string): StoredConfigFields {
  let q: URLSearchParams;
  try {
    q = new URLSearchParams(config.startsWith('?') ? config.slice(1) : config);
  } catch {
    q = new URLSearchParams();
  }
  const text = (k: string) => q.get(k) || undefined;
  const seed = q.get('seed') === null ? NaN : Number(q.get('seed'));
  return { depth: text('depth'), protocol: text('protocol'), solver: text('solver'), seed: Number.isFinite(seed) ? seed : undefined };
}
