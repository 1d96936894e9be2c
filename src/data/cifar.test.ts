// Tests for CIFAR-10 record parsing, the MD5 checks, and loading from an archive or .bin files:
// each kind of damage must give a CifarDataError naming the file, the problem and the remedy.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BIN_FILE_BYTES,
  CIFAR_BIN_FILES,
  CifarDataError,
  CLASS_NAMES,
  checkCifarMd5,
  loadCifarFromFiles,
  md5Hex,
  parseCifarBin,
  parseCifarRecords,
  readCifarArchive,
  RECORD_BYTES,
  type NamedFile,
} from './cifar.ts';
import { DEFAULT_CIFAR_DIR } from './node-files.ts';
import { gzipFast, makeTar, NO_DATA_NOTE, realDataPresent, sameBytes, syntheticRecords } from './test-utils.ts';

async function caught(f: () => unknown): Promise<CifarDataError> {
  try {
    await f();
  } catch (e) {
    expect(e).toBeInstanceOf(CifarDataError);
    return e as CifarDataError;
  }
  throw new Error('expected a CifarDataError, nothing was thrown');
}

const HAS_DATA = realDataPresent();
const realBin = (name: string) => new Uint8Array(readFileSync(join(DEFAULT_CIFAR_DIR, name)));

describe('parseCifarRecords / parseCifarBin', () => {
  it('splits records into planar images and labels', () => {
    const bytes = syntheticRecords(25, 3);
    const s = parseCifarRecords('demo.bin', bytes);
    expect(s.n).toBe(25);
    expect(Array.from(s.labels)).toEqual(Array.from({ length: 25 }, (_, i) => i % 10));
    for (const i of [0, 7, 24]) {
      expect(sameBytes(s.images.subarray(i * 3072, (i + 1) * 3072), bytes.subarray(i * RECORD_BYTES + 1, (i + 1) * RECORD_BYTES))).toBe(
        true,
      );
    }
  });

  it('accepts exactly 10,000 records for an official file', () => {
    const s = parseCifarBin('data_batch_1.bin', syntheticRecords(10_000, 5));
    expect(s.n).toBe(10_000);
    expect(s.images.length).toBe(30_720_000);
  });

  it('reports a truncated file with expected and actual sizes', async () => {
    const e = await caught(() => parseCifarBin('data_batch_2.bin', syntheticRecords(9_999, 1)));
    expect(e.code).toBe('truncated');
    expect(e.fileName).toBe('data_batch_2.bin');
    expect(e.message).toContain('data_batch_2.bin is truncated: expected 30730000 bytes');
    expect(e.message).toContain(`got ${9_999 * RECORD_BYTES}`);
    expect(e.message).toContain('npm run data');
  });

  it('reports a file that is too long, one with a partial record, and an empty one', async () => {
    const long = new Uint8Array(BIN_FILE_BYTES + 1);
    expect((await caught(() => parseCifarBin('test_batch.bin', long))).code).toBe('wrong-size');
    const partial = await caught(() => parseCifarRecords('demo.bin', new Uint8Array(RECORD_BYTES * 2 + 100)));
    expect(partial.code).toBe('wrong-size');
    expect(partial.message).toMatch(/not a whole number of 3073-byte CIFAR-10 records \(the last one is cut off after 100 bytes\)/);
    expect((await caught(() => parseCifarRecords('x.bin', new Uint8Array(0)))).code).toBe('empty');
    expect((await caught(() => parseCifarBin('x.bin', new Uint8Array(0)))).message).toMatch(/x\.bin is empty/);
  });

  it('reports a label outside 0..9 with the record number', async () => {
    const bytes = syntheticRecords(30, 2);
    bytes[17 * RECORD_BYTES] = 10;
    const e = await caught(() => parseCifarRecords('demo.bin', bytes));
    expect(e.code).toBe('bad-label');
    expect(e.message).toMatch(/record 17 .* has label 10; CIFAR-10 labels are 0-9/);
  });

  it('has the ten class names in label order', () => {
    expect(CLASS_NAMES).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
  });
});

describe('MD5', () => {
  it('computes standard MD5 (RFC 1321 test vectors)', () => {
    expect(md5Hex(new Uint8Array(0))).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(md5Hex(new TextEncoder().encode('abc'))).toBe('900150983cd24fb0d6963f7d28e17f72');
  });

  it('rejects a file that is not the official one, naming both checksums', async () => {
    const e = await caught(() => checkCifarMd5('data_batch_3.bin', syntheticRecords(10_000, 9)));
    expect(e.code).toBe('checksum');
    expect(e.message).toMatch(
      /data_batch_3\.bin has the wrong checksum: MD5 [0-9a-f]{32}, the official file's is 942cd6a4bcdd0dd3c604fbe906cb4421/,
    );
  });

  it('accepts the real test_batch.bin and rejects it with one byte altered', async (ctx) => {
    if (!HAS_DATA) ctx.skip(NO_DATA_NOTE);
    const bytes = realBin('test_batch.bin');
    checkCifarMd5('test_batch.bin', bytes);
    bytes[1_234_567] ^= 1;
    expect((await caught(() => checkCifarMd5('test_batch.bin', bytes))).code).toBe('checksum');
  });
});

/** Six full-size synthetic files; record 0 of file k has label k. Built once (about 1 s). */
let bins6: NamedFile[] | undefined;
function syntheticBins(): NamedFile[] {
  bins6 ??= CIFAR_BIN_FILES.map((name, k) => ({ name, bytes: syntheticRecords(10_000, 100 + k, (i) => (i + k) % 10) }));
  return bins6;
}

/** data_batch_1.bin as given, the other five as 10-byte placeholders (checks stop at the first file). */
function firstFileOnly(first: Uint8Array): NamedFile[] {
  return CIFAR_BIN_FILES.map((name, k) => ({ name, bytes: k === 0 ? first : new Uint8Array(10) }));
}

describe('readCifarArchive', () => {
  it('lists what is missing from an archive', async () => {
    const tar = makeTar([
      { name: 'cifar-10-batches-bin/data_batch_1.bin', bytes: new Uint8Array(10) },
      { name: 'cifar-10-batches-bin/readme.html', bytes: new Uint8Array(10) },
    ]);
    const e = await caught(() => readCifarArchive(gzipFast(tar)));
    expect(e.code).toBe('missing-file');
    expect(e.message).toContain('missing data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin, test_batch.bin');
    expect(e.message).toMatch(/not the binary version/);
  });

  it('checks sizes and MD5s of the files inside', async () => {
    const tarOf = (files: NamedFile[]) => makeTar(files.map((b) => ({ name: `cifar-10-batches-bin/${b.name}`, bytes: b.bytes })));
    const t = await caught(() => readCifarArchive(gzipFast(tarOf(firstFileOnly(new Uint8Array(1000))))));
    expect(t.code).toBe('truncated');
    expect(t.message).toContain('data_batch_1.bin is truncated: expected 30730000 bytes (10,000 records of 3073), got 1000');
    const wrong = tarOf(firstFileOnly(syntheticRecords(10_000, 4)));
    const w = await caught(() => readCifarArchive(gzipFast(wrong)));
    expect(w.code).toBe('checksum');
    expect(w.fileName).toBe('data_batch_1.bin');
  });

  it('rejects a gzip that holds no tar, and bytes that are not gzip', async () => {
    expect((await caught(() => readCifarArchive(gzipFast(new Uint8Array(4096).fill(65))))).code).toBe('not-tar');
    expect((await caught(() => readCifarArchive(new TextEncoder().encode('<html>')))).code).toBe('not-gzip');
  });
});

describe('loadCifarFromFiles', () => {
  it('loads the six .bin files in any order, in data_batch_1..5 order, ignoring other files', async () => {
    const bins = syntheticBins();
    const files = [{ name: 'batches.meta.txt', bytes: new Uint8Array(5) }, ...[...bins].reverse()];
    const progress: string[] = [];
    const { train, test } = await loadCifarFromFiles(files, { verifyMd5: false, onProgress: (p) => progress.push(`${p.stage}:${p.file}`) });
    expect(train.n).toBe(50_000);
    expect(test.n).toBe(10_000);
    // Record 0 of data_batch_k has label k % 10 (syntheticBins), images follow the files' order.
    expect([0, 10_000, 20_000, 30_000, 40_000].map((i) => train.labels[i])).toEqual([0, 1, 2, 3, 4]);
    expect(test.labels[0]).toBe(5);
    expect(sameBytes(train.images.subarray(20_000 * 3072, 20_000 * 3072 + 3072), bins[2]!.bytes.subarray(1, RECORD_BYTES))).toBe(true);
    expect(progress).toContain('parse:test_batch.bin');
    expect(progress.some((p) => p.startsWith('md5'))).toBe(false);
  });

  it('verifies MD5s by default', async () => {
    const e = await caught(() => loadCifarFromFiles(firstFileOnly(syntheticRecords(10_000, 4))));
    expect(e.code).toBe('checksum');
    expect(e.fileName).toBe('data_batch_1.bin');
  });

  it('says which files are missing, or that nothing was chosen', async () => {
    const e = await caught(() => loadCifarFromFiles(firstFileOnly(new Uint8Array(10)).slice(0, 4), { verifyMd5: false }));
    expect(e.code).toBe('missing-file');
    expect(e.message).toContain('missing data_batch_5.bin, test_batch.bin');
    expect((await caught(() => loadCifarFromFiles([]))).code).toBe('missing-file');
  });

  it('treats a .tar.gz by name as an archive even when it is not gzip', async () => {
    const e = await caught(() => loadCifarFromFiles([{ name: 'cifar-10-binary.tar.gz', bytes: new TextEncoder().encode('Not Found') }]));
    expect(e.code).toBe('not-gzip');
    expect(e.fileName).toBe('cifar-10-binary.tar.gz');
  });

  it('loads a real cifar-10-binary.tar.gz built from public/data, same as the files', async (ctx) => {
    if (!HAS_DATA) ctx.skip(NO_DATA_NOTE);
    const bins = CIFAR_BIN_FILES.map((name) => ({ name, bytes: realBin(name) }));
    const tar = makeTar([
      { name: 'cifar-10-batches-bin/', type: '5' },
      ...bins.map((b) => ({ name: `cifar-10-batches-bin/${b.name}`, bytes: b.bytes })),
      { name: 'cifar-10-batches-bin/batches.meta.txt', bytes: new TextEncoder().encode(`${CLASS_NAMES.join('\n')}\n`) },
    ]);
    const stages = new Set<string>();
    const unpacked = await readCifarArchive(gzipFast(tar), (p) => stages.add(p.stage)); // MD5-checked
    expect(unpacked.map((f) => f.name)).toEqual([...CIFAR_BIN_FILES, 'batches.meta.txt']);
    expect([...stages]).toEqual(['gunzip', 'md5']);
    const fromArchive = await loadCifarFromFiles(unpacked, { verifyMd5: false });
    expect(fromArchive.train.n).toBe(50_000);
    const testLabels = Uint8Array.from({ length: 10_000 }, (_, i) => bins[5]!.bytes[i * RECORD_BYTES]!);
    expect(sameBytes(fromArchive.test.labels, testLabels)).toBe(true);
    expect(sameBytes(fromArchive.train.images.subarray(0, 3072), bins[0]!.bytes.subarray(1, RECORD_BYTES))).toBe(true);
  });
});
