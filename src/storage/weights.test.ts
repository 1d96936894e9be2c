// Final weights in the run store: both weight forms round-trip, and saving them can free the
// run's checkpoints.

import { describe, expect, it } from 'vitest';
import { CONFIG, dump, fakeCheckpoint, freshStore } from './test-utils.ts';

describe('final weights', () => {
  it('round-trips both weight forms and can free the checkpoints', async () => {
    const store = await freshStore();
    const run = await store.createRun({ config: CONFIG, backend: 'wasm' });
    expect(await store.loadFinalWeights(run.id)).toBeUndefined();
    const values = { 'conv1.weight': new Float32Array([1, 2, 3]), 'fc.bias': new Float32Array(10).fill(0.5) };
    await store.saveFinalWeights(run.id, { format: 'values', values, steps: 42 });
    expect(await store.loadFinalWeights(run.id)).toEqual({ format: 'values', values, steps: 42 });
    await store.saveCheckpoint(run.id, fakeCheckpoint(42));
    const bytes = Uint8Array.from({ length: 4096 }, (_, i) => i % 251);
    await store.saveFinalWeights(run.id, { format: 'safetensors', bytes }, { dropCheckpoints: true });
    expect(await store.loadFinalWeights(run.id)).toEqual({ format: 'safetensors', bytes });
    const meta = await store.getMeta(run.id);
    expect(meta.checkpoints).toEqual([]);
    expect(meta.sizes).toMatchObject({ checkpoints: 0 });
    expect(meta.sizes.weights).toBeGreaterThanOrEqual(4096);
    expect((await dump(store.name)).counts).toMatchObject({ checkpoints: 0, weights: 1 });
  });
});
