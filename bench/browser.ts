// The browser part of `npm run bench`: builds the bench page (bench/browser/, a second Vite entry with
// its own inline config: no minification, since tfjs-wasm starts its threads from function text), serves
// it with the cross-origin-isolation headers tfjs-wasm's threads need (and public/data at /data, as the
// lab's preview does), and drives it in headless Debian Chromium through playwright-core with the
// launch flags of docs/protocols.md §7. One worker per backend, then the lab's own worker for the loop.

import { createServer, type Server } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { BenchRecord } from './core.ts';
import type { BenchPlan } from './plan.ts';
import type { ProfileRequest, WorkerBackend } from './browser/messages.ts';
import type { Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../scripts/chromium.ts';

const ROOT = resolve(import.meta.dirname, '..');
const PAGE_DIR = join(ROOT, 'bench', 'browser');
const OUT_DIR = join(ROOT, 'bench-results', 'browser-build');
const DATA_DIR = join(ROOT, 'public', 'data');

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.css': 'text/css',
  '.bin': 'application/octet-stream',
  '.txt': 'text/plain',
};

async function buildPage(log: (l: string) => void): Promise<void> {
  const { build } = await import('vite');
  const t0 = performance.now();
  await build({
    configFile: false,
    root: PAGE_DIR,
    base: '/',
    logLevel: 'warn',
    build: { outDir: OUT_DIR, emptyOutDir: true, target: 'es2022', minify: false, chunkSizeWarningLimit: 16384 },
    worker: { format: 'es' },
    optimizeDeps: { exclude: ['@tensorflow/tfjs-backend-wasm'] },
  });
  log(`bench page built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** Files of the build, and /data/... from public/data; cross-origin isolated. */
function serve(): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let path = decodeURIComponent(url.pathname);
    if (path === '/') path = '/index.html';
    const [dir, rel] = path.startsWith('/data/') ? [DATA_DIR, path.slice('/data'.length)] : [OUT_DIR, path];
    const file = normalize(join(dir, rel));
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    if (!file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('Content-Type', MIME[extname(file)] ?? 'application/octet-stream');
    res.setHeader('Content-Length', String(statSync(file).size));
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

export interface BrowserOptions {
  backends: WorkerBackend[];
  /** Also run the lab's own worker for the loop (and the block variants). */
  labLoop: boolean;
}

export interface BrowserMeta {
  browser: string;
  cores: number;
  crossOriginIsolated: boolean;
}

/** Builds and serves the bench page, opens it in headless Chromium, runs `use`, closes everything. */
async function withBenchPage<T>(log: (l: string) => void, use: (page: Page, meta: BrowserMeta) => Promise<T>): Promise<T | undefined> {
  if (!existsSync(CHROMIUM_PATH)) {
    log(`no Chromium at ${CHROMIUM_PATH}: browser numbers skipped (sh scripts/ensure-chromium.sh installs it)`);
    return undefined;
  }
  await buildPage(log);
  const server = await serve();
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => log(`  [page] ${m.text()}`));
    page.on('pageerror', (e) => log(`  [page error] ${e.message}`));
    const port = (server.address() as AddressInfo).port;
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => document.title === 'bench ready', undefined, { timeout: 60_000 });
    const meta = {
      browser: `Chromium ${browser.version()}`,
      cores: await page.evaluate(() => navigator.hardwareConcurrency),
      crossOriginIsolated: await page.evaluate(() => globalThis.crossOriginIsolated),
    };
    log(`browser: ${meta.browser}, cross-origin isolated: ${meta.crossOriginIsolated}, ${meta.cores} cores`);
    return await use(page, meta);
  } finally {
    await browser.close();
    server.close();
  }
}

export async function runBrowserBench(
  plan: BenchPlan,
  opts: BrowserOptions,
  log: (l: string) => void,
): Promise<{ records: BenchRecord[]; meta?: BrowserMeta }> {
  const out: BenchRecord[] = [];
  const meta = await withBenchPage(log, async (page, meta) => {
    for (const backend of opts.backends) {
      try {
        out.push(...(await page.evaluate(([b, p]) => window.benchApi.worker(b, p), [backend, plan] as const)));
      } catch (e) {
        log(`browser ${backend} failed: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    if (opts.labLoop) {
      try {
        out.push(...(await page.evaluate((runs) => window.benchApi.labLoop(runs), [plan.loop, ...plan.variants])));
      } catch (e) {
        log(`the lab worker's loop failed: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    return meta;
  });
  return { records: out, meta };
}

/** bench/profile.ts --browser: one profiled step in a bench worker; its report's lines. */
export async function profileInBrowser(
  backend: WorkerBackend,
  options: ProfileRequest['options'],
  log: (l: string) => void,
): Promise<string[]> {
  const lines = await withBenchPage(log, (page) => page.evaluate(([b, o]) => window.benchApi.profile(b, o), [backend, options] as const));
  return lines ?? [];
}
