// Tests for the committed demo sample in public/demo: its format and class balance always, and
// that it is exactly what scripts/make-demo-sample.ts takes from the real data when present.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_TEST_PATH, DEMO_TRAIN_PATH, loadCifarDemo, RECORD_BYTES } from '../src/data/cifar.ts';
import { DEFAULT_CIFAR_DIR } from '../src/data/node-files.ts';
import { NO_DATA_NOTE, realDataPresent, sameBytes, syntheticRecords } from '../src/data/test-utils.ts';
import { firstPerClass } from './make-demo-sample.ts';

const readPublic = async (p: string) => new Uint8Array(await readFile(join('public', p)));

describe('firstPerClass', () => {
  it('keeps the first k records of each class, in file order', () => {
    // Labels 9, 9, 8, 8, ..., 0, 0, then 0..9 repeated: the first two of each class are records 0-19.
    const records = syntheticRecords(60, 2, (i) => (i < 20 ? 9 - (i >> 1) : i % 10));
    expect(sameBytes(firstPerClass(records, 2), records.subarray(0, 20 * RECORD_BYTES))).toBe(true);
    const three = firstPerClass(records, 3); // records 0-19, then the first of each class after them (20-29)
    expect(sameBytes(three, records.subarray(0, 30 * RECORD_BYTES))).toBe(true);
    const fewClasses = syntheticRecords(40, 2, (i) => i % 3);
    expect(() => firstPerClass(fewClasses, 2)).toThrow(/only 6 records found for 2 per class/); // classes 3-9 absent
  });
});

describe('public/demo', () => {
  it('holds 500 training and 200 test records, 50 and 20 per class', async () => {
    const { train, test } = await loadCifarDemo(readPublic);
    expect([train.n, test.n]).toEqual([500, 200]);
    const count = (labels: Uint8Array) => labels.reduce((c, l) => (c[l]++, c), new Array<number>(10).fill(0));
    expect(count(train.labels)).toEqual(new Array(10).fill(50));
    expect(count(test.labels)).toEqual(new Array(10).fill(20));
  });

  it('is exactly the first records of each class of data_batch_1 and test_batch', async (ctx) => {
    if (!realDataPresent()) ctx.skip(NO_DATA_NOTE);
    for (const [demo, source, perClass] of [
      [DEMO_TRAIN_PATH, 'data_batch_1.bin', 50],
      [DEMO_TEST_PATH, 'test_batch.bin', 20],
    ] as const) {
      const src = new Uint8Array(await readFile(join(DEFAULT_CIFAR_DIR, source)));
      const committed = await readPublic(demo);
      expect(sameBytes(committed, firstPerClass(src, perClass))).toBe(true);
      // Spot check by hand: the first demo record is the file's first record.
      expect(sameBytes(committed.subarray(0, RECORD_BYTES), src.subarray(0, RECORD_BYTES))).toBe(true);
    }
  });
});
