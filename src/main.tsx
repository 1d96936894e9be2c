// The page's entry. It first makes the page cross-origin isolated where it can (isolation.ts: this may
// reload the page once under a service worker), then makes the address bar safe for tfjs-core, which
// reads the query string as it loads (its `tfjsflags` debug flags) and throws on a malformed %-escape
// (url-guard.ts), and only then loads the page (boot.tsx), which still sees the query as it was opened.
// So this entry imports nothing that loads tfjs.
import { ensureIsolation } from './ui/isolation.ts';
import { guardAddressBar } from './ui/url-guard.ts';

const siteRoot = new URL(import.meta.env.BASE_URL, document.baseURI).href;
void ensureIsolation(siteRoot).then(async (isolation) => {
  const openedQuery = guardAddressBar();
  const { boot } = await import('./boot.tsx');
  boot(openedQuery, isolation);
});
