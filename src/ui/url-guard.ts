// Makes the page's address bar safe before tfjs-core loads (main.tsx runs this first). tfjs-core
// decodes every query parameter with decodeURIComponent when it starts, looking for `tfjsflags`, and a
// malformed %-escape ("%ZZ", a cut UTF-8 sequence) throws there, before the page exists. It would also
// apply `tfjsflags=...` from a shared link to the page's tfjs. The address bar gets the query as the
// browser's lenient URLSearchParams reads it (re-encoded, strictly decodable), without tfjsflags; the
// lab's own parser still receives the original, and names what was wrong in its notice.

const TFJS_FLAGS = 'tfjsflags';

function strictlyDecodable(query: string): boolean {
  for (const part of query.split('&')) {
    try {
      decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * The query (without "?") to put in the address bar instead of `search`, or undefined when `search`
 * is safe as it is. Pure: tested in url-guard.test.ts.
 */
export function safeQuery(search: string): string | undefined {
  const query = search.startsWith('?') ? search.slice(1) : search;
  const params = new URLSearchParams(query);
  if (strictlyDecodable(query) && !params.has(TFJS_FLAGS)) return undefined;
  params.delete(TFJS_FLAGS);
  return params.toString();
}

/** Cleans the address bar if needed (history.replaceState); returns the query as the page was opened. */
export function guardAddressBar(): string {
  const opened = window.location.search;
  const safe = safeQuery(opened);
  if (safe !== undefined) {
    const url = new URL(window.location.href);
    url.search = safe;
    window.history.replaceState(window.history.state, '', url);
  }
  return opened;
}
