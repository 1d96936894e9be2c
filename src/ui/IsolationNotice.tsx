// Says, when the page could not be made cross-origin isolated, why, and what it costs: WASM on one
// thread. Nothing when the page is isolated.
import type { Isolation } from './isolation.ts';

export function IsolationNotice({ isolation }: { isolation: Isolation }) {
  if (isolation.isolated) return null;
  return (
    <div className="notice warn" role="status" data-testid="isolation-notice">
      <strong>WASM runs on one thread here.</strong> Threads need a cross-origin isolated page, and this one is not: {isolation.reason}.
      Training works, only slower than with a thread per core. To get them, serve the lab with the headers in its <code>_headers</code>{' '}
      file, or over HTTPS so that its service worker can add them.
    </div>
  );
}
