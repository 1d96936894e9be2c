// Node-only: the folder holding tfjs-backend-wasm's .wasm binaries, resolved the way Node resolves the
// package (so it follows hoisting and workspaces). Reaches node:module / node:path / node:fs through
// process.getBuiltinModule (Node >= 20.16) instead of static imports, so a browser bundle that happens
// to include this module pulls in nothing from Node.

interface NodeApis {
  createRequire(url: string): { resolve(id: string): string };
  dirname(p: string): string;
  join(...p: string[]): string;
  sep: string;
  existsSync(p: string): boolean;
}

function nodeApis(): NodeApis {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') {
    throw new Error('Resolving the wasm binaries needs Node >= 20.16 (process.getBuiltinModule).');
  }
  const mod = proc.getBuiltinModule('node:module') as Pick<NodeApis, 'createRequire'>;
  const path = proc.getBuiltinModule('node:path') as Pick<NodeApis, 'dirname' | 'join' | 'sep'>;
  const fs = proc.getBuiltinModule('node:fs') as Pick<NodeApis, 'existsSync'>;
  return { createRequire: mod.createRequire, dirname: path.dirname, join: path.join, sep: path.sep, existsSync: fs.existsSync };
}

/** Absolute folder (with a trailing separator) of the .wasm files, checked to exist. */
export function nodeWasmDir(): string {
  const api = nodeApis();
  const main = api.createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'); // dist/tf-backend-wasm.node.js
  const dir = api.dirname(main) + api.sep;
  const probe = api.join(dir, 'tfjs-backend-wasm-simd.wasm');
  if (!api.existsSync(probe)) {
    throw new Error(`tfjs-backend-wasm binaries not found next to ${main} (looked for ${probe}).`);
  }
  return dir;
}
