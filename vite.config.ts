// Vite configuration of the lab (the web app): React, the training worker as an ES module, and the
// cross-origin-isolation headers that let tfjs-wasm use threads (SharedArrayBuffer), sent by both the
// dev server (`npm run dev`, `npm start`) and the production preview (`vite preview`, used by e2e).
// The production build also carries a Content-Security-Policy (a header from `vite preview`, and a
// <meta> tag in dist/index.html for any other static host); the dev server has none, since Vite's
// React refresh injects an inline script there.
//
// The CIFAR-10 files that `npm run data` puts in public/data (184 MB) are served from there by the dev
// server and the preview, but are not copied into dist/ as they are: the build carries a compact lossless
// copy instead (scripts/vite-data.ts; LAB_NO_DATA=1 leaves it out), and without either the page falls
// back to the demo sample or the user's own files.

import { cpSync, createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Connect, Plugin } from 'vite';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { cifarDataCopy } from './scripts/vite-data.ts';

const CROSS_ORIGIN_ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/**
 * The production build's Content-Security-Policy: no 'unsafe-eval', no inline scripts, nothing from
 * another host. What the lab needs beyond 'self', and why:
 *  - script-src 'wasm-unsafe-eval': compiling WebAssembly (tfjs-wasm's .wasm binaries) is blocked by
 *    any script-src without it; it allows WebAssembly.compile/instantiate only, not eval or Function.
 *  - script-src blob: and worker-src blob: tfjs-wasm's threads (pthreads) are Workers started from a
 *    blob: URL holding its worker script, and each then importScripts() the backend's factory, which
 *    tfjs hands over as a Blob (the source text of one function). Without them the wasm backend does
 *    not start. Only the page's own code (tfjs) makes these blob: URLs.
 *  - img-src data: blob: test images drawn by the workbench, and downloads prepared as blob: URLs.
 *  - style-src 'self': the CSS file only; React's style props go through the CSSOM, which CSP allows.
 * frame-ancestors is header-only (a <meta> CSP ignores it), so the meta tag leaves it out.
 */
const CSP_DIRECTIVES = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval' blob:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "style-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
];
export const CONTENT_SECURITY_POLICY = [...CSP_DIRECTIVES, "frame-ancestors 'none'"].join('; ');

/** Writes the policy into the built index.html as a <meta http-equiv> tag (build only). */
function cspMetaTag(): Plugin {
  return {
    name: 'resnet-lab:csp-meta',
    apply: 'build',
    transformIndexHtml: () => [
      { tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: CSP_DIRECTIVES.join('; ') }, injectTo: 'head-prepend' },
    ],
  };
}

const PUBLIC_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), 'public');
const DATA_DIR = join(PUBLIC_DIR, 'data');

/** Serves GET/HEAD /data/... from public/data (files only, no listing, no path outside it). */
function serveDataDir(): Connect.NextHandleFunction {
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const url = new URL(req.url ?? '/', 'http://localhost');
    let path: string;
    try {
      path = normalize(join(DATA_DIR, decodeURIComponent(url.pathname)));
    } catch {
      return next();
    }
    if (!path.startsWith(DATA_DIR + sep) || !existsSync(path) || !statSync(path).isFile()) return next();
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', String(statSync(path).size));
    for (const [k, v] of Object.entries(CROSS_ORIGIN_ISOLATION)) res.setHeader(k, v);
    if (req.method === 'HEAD') return void res.end();
    createReadStream(path).pipe(res);
  };
}

/** Copies public/ into the build without public/data, and serves public/data in `vite preview`. */
function publicWithoutData(): Plugin {
  let outDir = 'dist';
  return {
    name: 'resnet-lab:public-without-data',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    writeBundle() {
      if (!existsSync(PUBLIC_DIR)) return;
      for (const entry of readdirSync(PUBLIC_DIR)) {
        if (entry === 'data') continue;
        cpSync(join(PUBLIC_DIR, entry), join(outDir, entry), { recursive: true });
      }
    },
    configurePreviewServer(server) {
      server.middlewares.use('/data', serveDataDir());
    },
  };
}

// tfjs-wasm starts its threads from the text of a function in its bundled code (fn.toString()), which
// then runs in a worker of its own. Renaming variables breaks it ("e is not defined"), and so does
// compressing (`typeof _scriptDir !== "undefined" && _scriptDir` becomes a bare `_scriptDir`): the
// minifier only removes whitespace and comments.
const KEEP_NAMES = { output: { minify: { compress: false, mangle: false, codegen: true } } };

export default defineConfig({
  // Relative asset paths: the built site runs from any folder of any static host.
  base: './',
  plugins: [react(), publicWithoutData(), cifarDataCopy({ publicDir: PUBLIC_DIR }), cspMetaTag()],
  server: { headers: CROSS_ORIGIN_ISOLATION },
  preview: { headers: { ...CROSS_ORIGIN_ISOLATION, 'Content-Security-Policy': CONTENT_SECURITY_POLICY } },
  build: { copyPublicDir: false, target: 'es2022', chunkSizeWarningLimit: 4096, rolldownOptions: KEEP_NAMES },
  worker: { format: 'es', rolldownOptions: KEEP_NAMES },
  // Pre-bundled for the dev server like every dependency: its ES build imports a CommonJS file
  // (wasm-out/*.worker.js) that only the bundler turns into named exports. The .wasm files are found
  // through the `?url` imports of src/backend/wasm-urls.browser.ts, wherever the JS ends up. Listed so
  // that the dynamic imports of src/backend/setup.ts are bundled at start, not discovered (and the page
  // reloaded) on first use.
  optimizeDeps: {
    include: [
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-backend-cpu',
      '@tensorflow/tfjs-backend-wasm',
      '@tensorflow/tfjs-backend-webgl',
      '@tensorflow/tfjs-backend-webgpu',
    ],
  },
});
