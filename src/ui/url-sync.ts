// Keeps the address bar equal to the configuration (history.replaceState, no navigation), so the URL
// can be shared at any moment.
import { formatConfigQuery } from '../state/config.ts';
import type { LabStore } from '../state/store.ts';

export function shareUrl(query: string): string {
  const url = new URL(window.location.href);
  url.search = query;
  url.hash = '';
  return url.toString();
}

export function startUrlSync(store: LabStore): () => void {
  let last = '';
  const write = () => {
    const query = formatConfigQuery(store.getState().config);
    if (query === last) return;
    last = query;
    const url = new URL(window.location.href);
    url.search = query;
    window.history.replaceState(window.history.state, '', url);
  };
  write();
  return store.subscribe(write);
}
