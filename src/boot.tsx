// The page, started by main.tsx once the address bar is safe for tfjs: one training engine (the
// worker), one store, the URL kept in sync, then the UI. Start-up loads the data (public/data, else the
// demo sample) and picks the backend in the worker.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createLabEngine } from './worker/client.ts';
import { createLabStore } from './state/store.ts';
import { openRunStore } from './storage/run-store.ts';
import { startVisibilityWatch } from './ui/runs/visibility.ts';
import { App } from './ui/App.tsx';
import { LabStoreProvider } from './ui/store-context.tsx';
import { startUrlSync } from './ui/url-sync.ts';
import { savedBackendChoice, startBackend } from './ui/backend-memory.ts';
import type { Isolation } from './ui/isolation.ts';
import './ui/styles.css';

/**
 * `openedQuery`: the query the page was opened with (before main.tsx cleaned the address bar);
 * `isolation`: whether the page could be made cross-origin isolated (threads for WASM).
 */
export function boot(openedQuery: string, isolation: Isolation): void {
  const engine = createLabEngine();
  // The run history: the worker records runs; the page lists them and offers Resume (src/state/runs-slice.ts).
  const store = createLabStore(engine, openedQuery, { openHistory: () => openRunStore() });
  startUrlSync(store);
  startVisibilityWatch(store);

  createRoot(document.getElementById('root')!).render(
    <StrictMode>
      <LabStoreProvider store={store}>
        <App isolation={isolation} />
      </LabStoreProvider>
    </StrictMode>,
  );

  void store.getState().loadData({ kind: 'served' });
  void startBackend(store, savedBackendChoice());
}
