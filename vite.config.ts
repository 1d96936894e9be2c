// Vite configuration of the lab (the web app): React, the training worker as an ES module, and the
// cross-origin-isolation headers that let tfjs-wasm use threads (SharedArrayBuffer), sent by both the
// dev server (`npm run dev`, `npm start`) and the production preview (`vite preview`, used by e2e).
//
// The CIFAR-10 files that `npm run data` puts in public/data (184 MB) are served from there by the dev
// server and the preview, but are not copied into dist/: a build stays small, and the page falls back to
// the demo sample or the user's own files when /data is absent.

import { cpSync, createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Connect, Plugin } from 'vite';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const CROSS_ORIGIN_ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

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
  plugins: [react(), publicWithoutData()],
  server: { headers: CROSS_ORIGIN_ISOLATION },
  preview: { headers: CROSS_ORIGIN_ISOLATION },
  build: { copyPublicDir: false, target: 'es2022', chunkSizeWarningLimit: 4096, rolldownOptions: KEEP_NAMES },
  worker: { format: 'es', rolldownOptions: KEEP_NAMES },
  // tfjs-wasm finds its .wasm files through URLs given at run time; pre-bundling would move its JS away from them.
  optimizeDeps: { exclude: ['@tensorflow/tfjs-backend-wasm'] },
});
