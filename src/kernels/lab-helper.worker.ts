// A helper thread of the lab's wasm kernels (lab-threads.ts): started by lab-wasm.ts in the training
// worker, it gets the compiled module, tfjs-wasm's shared memory and its control block, then runs
// kernel parts until told to stop.

import { helperLoop, LAB_POOL_OPS } from './lab-threads.ts';

self.onmessage = (e: MessageEvent<{ module: WebAssembly.Module; memory: WebAssembly.Memory; ctrlPtr: number }>) => {
  self.onmessage = null;
  helperLoop(e.data.module, e.data.memory, e.data.ctrlPtr, LAB_POOL_OPS);
  self.close();
};
