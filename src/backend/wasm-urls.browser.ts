// Browser-only: the URLs Vite serves the three tfjs-backend-wasm binaries at (dev server and build).
// Imported dynamically by setup.ts only outside Node, so Node never sees the `?url` imports.

import plainUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import simdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import threadedSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

/** File map for setWasmPaths: binary name -> URL. */
export const WASM_FILE_URLS: Record<string, string> = {
  'tfjs-backend-wasm.wasm': plainUrl,
  'tfjs-backend-wasm-simd.wasm': simdUrl,
  'tfjs-backend-wasm-threaded-simd.wasm': threadedSimdUrl,
};
