// Tests for the Node loader: folder loading and order, missing and damaged files, the folder check,
// atomic writes, and the real data set when present.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CIFAR_BIN_FILES, CifarDataError, RECORD_BYTES } from './cifar.ts';
import { checkCifarDir, loadCifarDir, writeFileAtomic } from './node-files.ts';
import { NO_DATA_NOTE, realDataPresent, sameBytes, syntheticRecords } from './test-utils.ts';

let dir: string;
const files = CIFAR_BIN_FILES.map((name, k) => ({ name, bytes: syntheticRecords(10_000, 200 + k, (i) => (i * 3 + k) % 10) }));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'resnet-lab-node-files-'));
  for (const f of files) await writeFile(join(dir, f.name), f.bytes);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadCifarDir', () => {
  it('concatenates data_batch_1..5 in order and reads test_batch (MD5 check off)', async () => {
    const { train, test } = await loadCifarDir(dir, { verifyMd5: false });
    expect([train.n, test.n]).toEqual([50_000, 10_000]);
    for (let k = 0; k < 5; k++) {
      expect(train.labels[k * 10_000 + 1]).toBe((3 + k) % 10);
      const img = train.images.subarray((k * 10_000 + 9_999) * 3072, (k * 10_000 + 10_000) * 3072);
      expect(sameBytes(img, files[k]!.bytes.subarray(9_999 * RECORD_BYTES + 1, 10_000 * RECORD_BYTES))).toBe(true);
    }
  });

  it('checks MD5s by default', async () => {
    await expect(loadCifarDir(dir)).rejects.toMatchObject({ name: 'CifarDataError', code: 'checksum' });
  });

  it('names a missing file and says to run npm run data', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'resnet-lab-empty-'));
    try {
      const err = await loadCifarDir(empty).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CifarDataError);
      expect((err as CifarDataError).code).toBe('missing-file');
      expect((err as CifarDataError).message).toMatch(
        /^data_batch_1\.bin, data_batch_2\.bin, data_batch_3\.bin, data_batch_4\.bin, data_batch_5\.bin and test_batch\.bin are missing from .*Run `npm run data`/,
      );
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('names the one missing file, whichever it is', async () => {
    for (const gone of ['data_batch_3.bin', 'test_batch.bin']) {
      const partial = await mkdtemp(join(tmpdir(), 'resnet-lab-partial-'));
      try {
        for (const f of files) if (f.name !== gone) await writeFile(join(partial, f.name), f.bytes);
        const err = await loadCifarDir(partial, { verifyMd5: false }).catch((e: unknown) => e);
        expect((err as CifarDataError).code).toBe('missing-file');
        expect((err as CifarDataError).message).toBe(
          `${gone} is missing from ${partial}. Run \`npm run data\` to download and check the data set.`,
        );
      } finally {
        await rm(partial, { recursive: true, force: true });
      }
    }
  });
});

describe('checkCifarDir', () => {
  it('lists missing files, wrong sizes and wrong MD5s', async () => {
    const d = await mkdtemp(join(tmpdir(), 'resnet-lab-check-'));
    try {
      await writeFile(join(d, 'data_batch_1.bin'), files[0]!.bytes);
      await writeFile(join(d, 'data_batch_2.bin'), files[1]!.bytes.subarray(0, 100));
      const r = await checkCifarDir(d);
      expect(r.ok).toBe(false);
      expect(r.problems[0]).toMatch(/^data_batch_1\.bin: MD5 [0-9a-f]{32}, expected 5dd7e06a14cb22eb9f671a540d1b7c25$/);
      expect(r.problems[1]).toBe('data_batch_2.bin: 100 bytes, expected 30730000');
      expect(r.problems.slice(2)).toEqual([
        'data_batch_3.bin: missing',
        'data_batch_4.bin: missing',
        'data_batch_5.bin: missing',
        'test_batch.bin: missing',
      ]);
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});

describe('writeFileAtomic', () => {
  it('replaces a file and leaves no temporary file', async () => {
    const p = join(dir, 'atomic.txt');
    await writeFileAtomic(p, 'one');
    await writeFileAtomic(p, new TextEncoder().encode('two'));
    expect(await readFile(p, 'utf8')).toBe('two');
    expect((await readdir(dir)).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('throws and leaves no temporary file when the write fails', async () => {
    const p = join(dir, 'no-such-dir', 'x.txt');
    await expect(writeFileAtomic(p, 'x')).rejects.toThrow();
    expect((await readdir(dir)).filter((f) => f.includes('partial'))).toEqual([]);
  });
});

describe('real data', () => {
  it('loads with MD5 checks: 5,000 training and 1,000 test images per class', async (ctx) => {
    if (!realDataPresent()) ctx.skip(NO_DATA_NOTE);
    expect((await checkCifarDir()).ok).toBe(true);
    const { train, test } = await loadCifarDir();
    const count = (labels: Uint8Array) => labels.reduce((c, l) => (c[l]++, c), new Array<number>(10).fill(0));
    expect(count(train.labels)).toEqual(new Array(10).fill(5000));
    expect(count(test.labels)).toEqual(new Array(10).fill(1000));
    expect(Array.from(train.labels.subarray(0, 10))).toEqual([6, 9, 9, 4, 1, 1, 2, 7, 8, 3]); // data_batch_1 starts frog, truck, truck, deer, ...
  });
});
