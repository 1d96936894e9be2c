// The training worker's entry: one engine, answering the page. Everything else is in engine.ts.
import { Engine } from './engine.ts';
import { browserHost } from './browser-host.ts';
import { serve, type MessagePortLike } from './serve.ts';

// The site's root: Vite's BASE_URL is '/' on the dev server and './' in the build (which runs at any
// path), where this worker's chunk lies one folder down, in assets/ (build.assetsDir).
const siteRoot = new URL(import.meta.env.BASE_URL, new URL(/* @vite-ignore */ '..', import.meta.url)).href;

serve(new Engine(browserHost(siteRoot)), self as unknown as MessagePortLike);
