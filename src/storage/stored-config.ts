// The one place where storage reads fields of a run's stored configuration (the share-URL query
// string, RunMeta.config), with the experiment module's parser: the seed and the words of a run's
// default name. What a query does not give stays undefined; nothing here fills in defaults.
import { parseConfigQuery } from '../experiment/config.ts';

export interface StoredConfigFields {
  depth?: string;
  protocol?: string;
  solver?: string;
  /** Undefined when the query has no valid seed. */
  seed?: number;
}

/** The fields storage uses, read from a query such as "protocol=gcr&depth=20&...&seed=7". */
export function readStoredConfig(query: string): StoredConfigFields {
  const { config, given } = parseConfigQuery(query);
  return {
    depth: given.has('depth') ? String(config.depth) : undefined,
    protocol: given.has('protocol') ? config.protocol : undefined,
    solver: given.has('solver') ? config.solver : undefined,
    seed: given.has('seed') ? config.seed : undefined,
  };
}
