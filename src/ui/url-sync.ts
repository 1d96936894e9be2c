// Keeps the address bar equal to the configuration (history.replaceState, no navigation), so the URL
// can be shared at any moment (with the opened link's claim, while the configuration is the claim's).
import { formatConfigQuery } from '../experiment/config.ts';
import type { LabStore } from '../state/store.ts';
import { withClaim } from '../experiment/claim.ts';
import { activeClaim } from '../state/workbench.ts';

export function shareUrl(query: string): string {
  const url = new URL(window.location.href);
  url.search = query;
  url.hash = '';
  return url.toString();
}

export function startUrlSync(store: LabStore): () => void {
  let last = '';
  const write = () => {
    // The opened link's claimed result stays in the address bar while the configuration is still its own.
    const state = store.getState();
    const query = withClaim(formatConfigQuery(state.config), activeClaim(state) ?? null);
    if (query === last) return;
    last = query;
    const url = new URL(window.location.href);
    url.search = query;
    window.history.replaceState(window.history.state, '', url);
  };
  write();
  return store.subscribe(write);
}
