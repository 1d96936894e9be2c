// Tells the store when the page's tab is hidden and shown again (the Page Visibility API), so it can
// say afterwards whether the browser slowed training in the background (src/state/throttle.ts).
import type { LabStore } from '../../state/store.ts';

export function startVisibilityWatch(store: LabStore): () => void {
  const onChange = () => {
    if (document.visibilityState === 'hidden') store.getState().tabHidden();
    else store.getState().tabVisible();
  };
  document.addEventListener('visibilitychange', onChange);
  return () => document.removeEventListener('visibilitychange', onChange);
}
