// Cross-origin isolation of the page, which tfjs-wasm needs to share memory between threads. Servers
// that send the headers (Vite's, or a host reading public/_headers) isolate the page by themselves;
// elsewhere (GitHub Pages and other static hosts) this registers public/coi-sw.js, a service worker
// that adds the headers, and reloads the page once under it. Where neither works, it says why, and
// the lab runs WASM on one thread. Runs before tfjs loads (main.tsx); not a cache, not an installer.

export type Isolation = { isolated: true; by: 'headers' | 'service worker' } | { isolated: false; reason: string };

/** Set across the one reload under the service worker, so that a page it cannot isolate is not reloaded again. */
const RELOADED_KEY = 'resnet-lab.isolation-reload';
const ACTIVATE_TIMEOUT_MS = 10_000;

function session(): Storage | undefined {
  try {
    return window.sessionStorage;
  } catch {
    return undefined; // storage blocked
  }
}

/** Resolves once the registration has an active worker, or rejects after `ms`. */
function activated(registration: ServiceWorkerRegistration, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service worker did not start within ${ms / 1000} s`)), ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    if (registration.active) return done();
    const worker = registration.installing ?? registration.waiting;
    if (!worker) return reject(new Error('the service worker was registered but is neither installing nor active'));
    worker.addEventListener('statechange', () => {
      if (worker.state === 'activated') done();
      if (worker.state === 'redundant') {
        clearTimeout(timer);
        reject(new Error('the service worker failed to install'));
      }
    });
  });
}

/**
 * The page's isolation, after making it isolated if it can: resolves at once when it is, or with the
 * reason when it cannot be; otherwise registers the service worker at `siteRoot` and reloads the page
 * (the promise then never resolves).
 */
export async function ensureIsolation(siteRoot: string): Promise<Isolation> {
  const store = session();
  if (globalThis.crossOriginIsolated) {
    store?.removeItem(RELOADED_KEY);
    return { isolated: true, by: navigator.serviceWorker?.controller ? 'service worker' : 'headers' };
  }
  if (!globalThis.isSecureContext) {
    return {
      isolated: false,
      reason: 'the page is not served over HTTPS or from localhost, where browsers allow neither shared memory nor service workers',
    };
  }
  if (!('serviceWorker' in navigator)) {
    return { isolated: false, reason: 'this browser offers no service worker here (a private window, or disabled)' };
  }
  if (store?.getItem(RELOADED_KEY)) {
    store.removeItem(RELOADED_KEY);
    return { isolated: false, reason: 'the page reloaded under the lab’s service worker and the browser still did not isolate it' };
  }
  if (!store) return { isolated: false, reason: 'session storage is blocked, which the one reload under the service worker needs' };
  try {
    const registration = await navigator.serviceWorker.register(new URL('coi-sw.js', siteRoot), { scope: siteRoot });
    await activated(registration, ACTIVATE_TIMEOUT_MS);
  } catch (e) {
    return {
      isolated: false,
      reason: `the service worker that adds the headers could not start: ${e instanceof Error ? e.message : String(e)}`,
    };
  }
  store.setItem(RELOADED_KEY, '1');
  window.location.reload();
  return new Promise<never>(() => {});
}
