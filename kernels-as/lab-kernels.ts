// The lab's own WebAssembly SIMD kernels (AssemblyScript): the entry file `npm run kernels` compiles
// (scripts/build-kernels.ts) into src/kernels/lab-wasm.binary.ts, loaded by src/kernels/lab-wasm.ts.
// It holds no code: it names the wasm module's exports, one family per file.
// The module imports tfjs-backend-wasm's memory and owns none: every pointer is a byte offset into that
// heap (a tensor's memoryOffset, or a work area the caller malloc'd there); no data segment and no
// start function, so instantiating it writes nothing. In the relaxed-SIMD builds the product loops'
// multiply-adds fuse into one FMA (simd.ts, madd). Convolutions of training (conv-backprop.ts): 3x3
// stride 1 by Winograd F(4x4, 3x3) where the output size is a multiple of 4, F(2x2, 3x3) where it is
// even, else directly, tap by tap; the filter gradient likewise.

/** Batch norm forward and backward, with an optional ReLU. */
export { bnMoments, bnGrad } from './batchnorm';
/** SGD step, ReLU gradient, add-then-ReLU. */
export { sgdStep, reluGrad, addRelu } from './elementwise';
/** Operands copied into the layouts the convolution kernels read. */
export { copyRows, frameChannelsFirst, frameChannelsLast, packGrid, depthToSpaceCrop, framePhases } from './framing';
/** The direct convolution and filter gradient. */
export { convTaps } from './conv-taps';
export { filterGradTaps } from './filter-grad-taps';
/** Winograd F(2x2, 3x3) and F(4x4, 3x3). */
export { winogradFilter, convWinograd, filterGradWinograd, winogradFilterGrad } from './winograd2';
export { winogradFilter4, convWinograd4, filterGradWinograd4, winogradFilterGrad4 } from './winograd4';
