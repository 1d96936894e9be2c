// The committed binaries of the lab's wasm kernels are what their AssemblyScript source compiles to
// now (scripts/build-kernels.ts): editing kernels-as/ without `npm run kernels` fails here.

import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { BINARY_MODULE, binaryModuleText, KERNEL_SOURCE } from './build-kernels.ts';

describe('npm run kernels', () => {
  it(`${BINARY_MODULE} is what ${KERNEL_SOURCE} compiles to`, async () => {
    const committed = await readFile(new URL(`../${BINARY_MODULE}`, import.meta.url), 'utf8');
    expect(committed === (await binaryModuleText()), `${BINARY_MODULE} is stale: run \`npm run kernels\``).toBe(true);
  });
});
