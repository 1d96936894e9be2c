// WebAssembly relaxed SIMD in Node. Chromium and Node 22+ have it on; Node 20's V8 has it
// behind --experimental-wasm-relaxed-simd. The lab's Node programs (the CLI and the benchmarks) turn
// that flag on when they start, before any wasm module compiles, so that the lab's own kernels load
// their build with fused multiply-adds (src/kernels/lab-wasm.ts; `npx tsx bench/profile.ts
// --no-relaxed-simd` compares).
// The unit tests leave it off, so the plain-SIMD build stays tested in-process; the relaxed one is
// tested in a child process (src/kernels/lab-wasm.test.ts).

import { setFlagsFromString } from 'node:v8';
import { LAB_WASM_PLAIN_RELAXED } from '../kernels/lab-wasm.binary.ts';

/** Turns relaxed SIMD on where this Node has it behind a flag; returns whether it is on now. */
export function enableRelaxedSimd(): boolean {
  const probe = Uint8Array.from(atob(LAB_WASM_PLAIN_RELAXED), (c) => c.charCodeAt(0));
  if (WebAssembly.validate(probe)) return true;
  setFlagsFromString('--experimental-wasm-relaxed-simd');
  return WebAssembly.validate(probe);
}
