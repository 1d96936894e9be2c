// The page's entry. tfjs-core reads the page's query string as it loads (its `tfjsflags` debug flags)
// and throws on a malformed %-escape, which would leave a blank page for a link like "?depth=5%E0%A4%A".
// So this entry imports nothing that loads tfjs: it first makes the address bar safe (url-guard.ts),
// then loads the page (boot.tsx), which still sees the query as it was opened, for its notice.
import { guardAddressBar } from './ui/url-guard.ts';

const openedQuery = guardAddressBar();
void import('./boot.tsx').then(({ boot }) => boot(openedQuery));
