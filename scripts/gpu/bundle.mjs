// Bundles the lab's side of the GPU run (bench/gpu-run.ts) into one ES module for Node 20 with
// esbuild, so the GPU server needs no node_modules but Dawn for Node's package (kept external: it loads
// its dawn.node beside itself). Vite's `?url` imports (the wasm binaries' URLs, for the browser) become
// empty strings, and the wasm and webgl backends stay out: the run uses webgpu only. Not the packing.
//
//   node scripts/gpu/bundle.mjs OUTFILE

import { build } from 'esbuild';

const outfile = process.argv[2];
if (!outfile) throw new Error('usage: node scripts/gpu/bundle.mjs OUTFILE');

const viteUrls = {
  name: 'vite-url-imports',
  setup(b) {
    b.onResolve({ filter: /\?url$/ }, (args) => ({ path: args.path, namespace: 'vite-url' }));
    b.onLoad({ filter: /.*/, namespace: 'vite-url' }, () => ({ contents: 'export default "";', loader: 'js' }));
  },
};

await build({
  entryPoints: ['bench/gpu-run.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile,
  logLevel: 'warning',
  external: ['webgpu', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgl'],
  plugins: [viteUrls],
  // Some bundled CommonJS code calls require(); give the ES module one.
  banner: { js: "import { createRequire as labRequire } from 'node:module'; const require = labRequire(import.meta.url);" },
});
