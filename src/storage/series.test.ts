// The series in the run store: a 78,000-step series appended in chunks reads back exactly, steps
// that do not follow are refused, and the test error per evaluation keeps the best one.

import { describe, expect, it } from 'vitest';
import { RunNotFoundError } from './errors.ts';
import { approxBytes } from './sizes.ts';
import { CONFIG, dump, freshStore, steps } from './test-utils.ts';

describe('series', () => {
  it('stores 78,000 steps appended in 1,000s and reads back exactly the same; each append writes one chunk', async () => {
    const store = await freshStore();
    const run = await store.createRun({ config: CONFIG, backend: 'wasm' });
    const all = steps(1, 78000);
    // Watch what each append hands to IndexedDB: one chunk and the small run record, never the series.
    const proto = IDBObjectStore.prototype;
    const origPut = proto.put;
    const origAdd = proto.add;
    let written = 0;
    proto.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      written += approxBytes(value);
      return origPut.call(this, value, key);
    };
    proto.add = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      written += approxBytes(value);
      return origAdd.call(this, value, key);
    };
    const perAppend: number[] = [];
    try {
      for (let i = 0; i < all.length; i += 1000) {
        written = 0;
        await store.appendSteps(run.id, all.slice(i, i + 1000));
        perAppend.push(written);
      }
    } finally {
      proto.put = origPut;
      proto.add = origAdd;
    }
    expect(perAppend).toHaveLength(78);
    expect(Math.max(...perAppend)).toBeLessThan(1000 * 36 + 2000); // 36 bytes a step + the run record
    expect(Math.max(...perAppend) - Math.min(...perAppend)).toBeLessThan(64);

    const { steps: s, meta } = await store.getRun(run.id);
    expect(meta.lastStep).toBe(78000);
    expect(Array.from(s.step)).toEqual(all.map((p) => p.step));
    expect(Array.from(s.loss)).toEqual(all.map((p) => p.loss));
    expect(Array.from(s.lr)).toEqual(all.map((p) => p.lr)); // doubles: 0.1 stays 0.1
    expect(Array.from(s.trainError)).toEqual(all.map((p) => p.trainError));
    expect(Array.from(s.epoch)).toEqual(all.map((p) => p.epochFloat));
    expect(Array.from(s.ms)).toEqual(all.map((p) => p.ms));
    expect((await dump(store.name)).counts.steps).toBe(78);
    expect(meta.sizes.series).toBeGreaterThanOrEqual(78000 * 36);
  });

  it('refuses steps that do not follow the stored ones, writing nothing', async () => {
    const store = await freshStore();
    const run = await store.createRun({ config: CONFIG, backend: 'wasm' });
    await store.appendSteps(run.id, steps(1, 10));
    await expect(store.appendSteps(run.id, steps(10, 20))).rejects.toThrow(/end at step 10|ends at step 10/);
    await expect(store.appendSteps(run.id, [...steps(11, 12), { step: 12, loss: 1, lr: 0.1 }])).rejects.toThrow(/increasing order/);
    await expect(store.appendSteps('missing', steps(1, 2))).rejects.toBeInstanceOf(RunNotFoundError);
    const { steps: s, meta } = await store.getRun(run.id);
    expect(s.step.length).toBe(10);
    expect(meta.lastStep).toBe(10);
    await store.appendSteps(run.id, [{ step: 11, loss: 1.5, lr: 0.1 }]); // no trainError, epoch or time given: NaN
    const after = (await store.getRun(run.id)).steps;
    expect([after.trainError[10], after.epoch[10], after.ms[10]].every(Number.isNaN)).toBe(true);
  });

  it('keeps the test error per evaluation and the best one, also when an evaluation is replaced', async () => {
    const store = await freshStore();
    const run = await store.createRun({ config: CONFIG, backend: 'wasm' });
    await store.appendEpoch(run.id, { epoch: 0, step: 0, testError: 0.9, evaluated: 10000 });
    await store.appendEpoch(run.id, { epoch: 1, step: 391, testError: 0.5 });
    await store.appendEpoch(run.id, { epoch: 2, step: 782, testError: 0.6 });
    let meta = await store.getMeta(run.id);
    expect([meta.bestTestError, meta.bestEpoch]).toEqual([0.5, 1]);
    await store.appendEpoch(run.id, { epoch: 1, step: 391, testError: 0.7 }); // re-evaluated
    meta = await store.getMeta(run.id);
    expect([meta.bestTestError, meta.bestEpoch]).toEqual([0.6, 2]);
    expect((await store.getRun(run.id)).epochs).toEqual([
      { epoch: 0, step: 0, testError: 0.9, evaluated: 10000 },
      { epoch: 1, step: 391, testError: 0.7 },
      { epoch: 2, step: 782, testError: 0.6 },
    ]);
    await expect(store.appendEpoch(run.id, { epoch: 3, step: 1173, testError: NaN })).rejects.toThrow(/testError must be a finite number/);
  });
});
