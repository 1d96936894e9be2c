// ResNet Lab's service worker for cross-origin isolation on static hosts that cannot send headers
// (GitHub Pages and the like). It adds Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy to
// every same-origin response under its scope, which makes the page cross-origin isolated, so that
// tfjs-wasm may share memory between threads. It caches nothing and touches no other origin.
// Registered by src/ui/isolation.ts only when the page is not isolated already.

const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (new URL(request.url).origin !== self.location.origin) return;
  // A request Chromium may send for a devtools-opened file; fetch() refuses it outside same-origin mode.
  if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
  event.respondWith(
    fetch(request).then((response) => {
      if (response.type === 'opaque' || response.type === 'opaqueredirect' || response.status === 0) return response;
      const headers = new Headers(response.headers);
      for (const [name, value] of Object.entries(ISOLATION_HEADERS)) headers.set(name, value);
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    }),
  );
});
