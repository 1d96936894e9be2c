// CIFAR-10 binary format: constants, record parsing, MD5 checks against the official files, and
// loading from either cifar-10-binary.tar.gz or its six .bin files. Pure: no Node or DOM APIs, so
// the same code runs in the browser worker, in Node and in Vitest.
//
// Record format (docs/protocols.md §6.1): 1 label byte (0-9), then 1024 R, 1024 G, 1024 B bytes,
// each plane row-major 32x32. Each official .bin file holds 10,000 records.

import { md5 } from '@noble/hashes/legacy.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { baseName, gunzip, isGzip, readTar, type NamedFile } from './archive.ts';
import { CifarDataError, REFETCH_REMEDY } from './errors.ts';

export { CifarDataError, type CifarErrorCode } from './errors.ts';
export type { NamedFile } from './archive.ts';

export const CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;
export const NUM_CLASSES = 10;

export const IMAGE_SIZE = 32;
export const IMAGE_BYTES = 3072; // 3 x 32 x 32
export const RECORD_BYTES = 3073; // label + image
export const RECORDS_PER_FILE = 10_000;
export const BIN_FILE_BYTES = RECORDS_PER_FILE * RECORD_BYTES; // 30,730,000

export const CIFAR_DIR_NAME = 'cifar-10-batches-bin';
export const META_FILE = 'batches.meta.txt';
export const TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'] as const;
export const TEST_FILE = 'test_batch.bin';
export const CIFAR_BIN_FILES = [...TRAIN_FILES, TEST_FILE] as const;
export type CifarBinName = (typeof CIFAR_BIN_FILES)[number];

/** MD5 of each official file (docs/protocols.md §6.1). */
export const CIFAR_MD5: Readonly<Record<CifarBinName, string>> = {
  'data_batch_1.bin': '5dd7e06a14cb22eb9f671a540d1b7c25',
  'data_batch_2.bin': '5ea93a67294ea407fff1d09f752e9692',
  'data_batch_3.bin': '942cd6a4bcdd0dd3c604fbe906cb4421',
  'data_batch_4.bin': 'ae636b3ba5c66a11e91e8cb52e771fcb',
  'data_batch_5.bin': '53f37980c15c3d472c316c40844f3f0d',
  'test_batch.bin': '803d5f7f4d78ea53de84dbe85f74fb6d',
};

/** A set of images in the record's planar layout, labels separate. */
export interface CifarSplit {
  n: number;
  /** n * 3072 bytes; image i at i*3072: 1024 R, 1024 G, 1024 B, each row-major 32x32. */
  images: Uint8Array;
  /** n labels, 0..9 (index into CLASS_NAMES). */
  labels: Uint8Array;
}

export interface CifarData {
  train: CifarSplit; // 50,000 images, data_batch_1..5 in order
  test: CifarSplit; // 10,000 images, test_batch
}

export interface LoadProgress {
  stage: 'gunzip' | 'md5' | 'parse';
  /** The file being worked on. */
  file: string;
  /** Fraction of this stage done, 0..1. */
  fraction: number;
}
export type LoadProgressCallback = (p: LoadProgress) => void;

export function isCifarBinName(name: string): name is CifarBinName {
  return (CIFAR_BIN_FILES as readonly string[]).includes(name);
}

/** Copies records into images/labels starting at record `at`; checks labels. */
function unpackRecords(fileName: string, bytes: Uint8Array, images: Uint8Array, labels: Uint8Array, at: number): void {
  const n = bytes.length / RECORD_BYTES;
  for (let i = 0; i < n; i++) {
    const rec = i * RECORD_BYTES;
    const label = bytes[rec]!;
    if (label > 9) {
      throw new CifarDataError(
        'bad-label',
        fileName,
        `${fileName}: record ${i} (byte ${rec}) has label ${label}; CIFAR-10 labels are 0-9, so this is not a CIFAR-10 binary file or it is damaged.`,
        REFETCH_REMEDY,
      );
    }
    labels[at + i] = label;
    images.set(bytes.subarray(rec + 1, rec + RECORD_BYTES), (at + i) * IMAGE_BYTES);
  }
}

/**
 * Parses any whole number of CIFAR-10 records (the official files hold 10,000; the demo sample
 * fewer). Throws CifarDataError for an empty file, a partial record or a label outside 0..9.
 */
export function parseCifarRecords(fileName: string, bytes: Uint8Array): CifarSplit {
  if (bytes.length === 0) {
    throw new CifarDataError('empty', fileName, `${fileName} is empty (0 bytes).`, REFETCH_REMEDY);
  }
  if (bytes.length % RECORD_BYTES !== 0) {
    throw new CifarDataError(
      'wrong-size',
      fileName,
      `${fileName} is ${bytes.length} bytes, not a whole number of ${RECORD_BYTES}-byte CIFAR-10 records (the last one is cut off after ${bytes.length % RECORD_BYTES} bytes).`,
      REFETCH_REMEDY,
    );
  }
  const n = bytes.length / RECORD_BYTES;
  const split: CifarSplit = { n, images: new Uint8Array(n * IMAGE_BYTES), labels: new Uint8Array(n) };
  unpackRecords(fileName, bytes, split.images, split.labels, 0);
  return split;
}

/** Throws unless `bytes` has exactly the size of an official .bin file (10,000 records). */
export function checkCifarBinSize(fileName: string, bytes: Uint8Array): void {
  if (bytes.length === 0) {
    throw new CifarDataError('empty', fileName, `${fileName} is empty (0 bytes).`, REFETCH_REMEDY);
  }
  if (bytes.length < BIN_FILE_BYTES) {
    throw new CifarDataError(
      'truncated',
      fileName,
      `${fileName} is truncated: expected ${BIN_FILE_BYTES} bytes (10,000 records of ${RECORD_BYTES}), got ${bytes.length}.`,
      REFETCH_REMEDY,
    );
  }
  if (bytes.length > BIN_FILE_BYTES) {
    throw new CifarDataError(
      'wrong-size',
      fileName,
      `${fileName} is too long: expected ${BIN_FILE_BYTES} bytes (10,000 records of ${RECORD_BYTES}), got ${bytes.length}.`,
      REFETCH_REMEDY,
    );
  }
}

/** Parses one official .bin file: exactly 10,000 records, labels 0..9. (No MD5 check: see checkCifarMd5.) */
export function parseCifarBin(fileName: string, bytes: Uint8Array): CifarSplit {
  checkCifarBinSize(fileName, bytes);
  return parseCifarRecords(fileName, bytes);
}

/** Lower-case hex MD5 of the bytes. */
export function md5Hex(bytes: Uint8Array): string {
  return bytesToHex(md5(bytes));
}

/** Throws a 'checksum' CifarDataError unless `actualHex` is the official MD5 of `fileName` (a base name). */
export function assertCifarMd5(fileName: string, actualHex: string): void {
  const name = baseName(fileName);
  if (!isCifarBinName(name)) {
    throw new Error(`assertCifarMd5: ${fileName} is not one of the six CIFAR-10 .bin files (${CIFAR_BIN_FILES.join(', ')}).`);
  }
  const expected = CIFAR_MD5[name];
  if (actualHex.toLowerCase() !== expected) {
    throw new CifarDataError(
      'checksum',
      fileName,
      `${fileName} has the wrong checksum: MD5 ${actualHex}, the official file's is ${expected}; the file is damaged or not the official one.`,
      REFETCH_REMEDY,
    );
  }
}

/** Checks the MD5 of one of the six official files (by base name). */
export function checkCifarMd5(fileName: string, bytes: Uint8Array): void {
  assertCifarMd5(fileName, md5Hex(bytes));
}

/** Joins splits in order into one (copies). */
export function concatSplits(splits: readonly CifarSplit[]): CifarSplit {
  const n = splits.reduce((s, x) => s + x.n, 0);
  const out: CifarSplit = { n, images: new Uint8Array(n * IMAGE_BYTES), labels: new Uint8Array(n) };
  let at = 0;
  for (const s of splits) {
    out.images.set(s.images.subarray(0, s.n * IMAGE_BYTES), at * IMAGE_BYTES);
    out.labels.set(s.labels.subarray(0, s.n), at);
    at += s.n;
  }
  return out;
}

function missingError(where: string, missing: readonly string[], remedy: string): CifarDataError {
  return new CifarDataError('missing-file', missing[0] ?? where, `${where}: missing ${missing.join(', ')}.`, remedy);
}

/**
 * Unpacks cifar-10-binary.tar.gz: returns the six .bin files (base names, size- and MD5-checked)
 * and batches.meta.txt when present. Throws CifarDataError if it is not a gzip/tar archive,
 * lacks a file, or a file is damaged.
 */
export async function readCifarArchive(
  bytes: Uint8Array,
  onProgress?: LoadProgressCallback,
  archiveName = 'cifar-10-binary.tar.gz',
): Promise<NamedFile[]> {
  const tar = await gunzip(bytes, archiveName, (fraction) => onProgress?.({ stage: 'gunzip', file: archiveName, fraction }));
  const entries = readTar(tar, archiveName);
  const byName = new Map<string, Uint8Array>();
  for (const e of entries) {
    const name = baseName(e.name);
    if (isCifarBinName(name) || name === META_FILE) byName.set(name, e.bytes);
  }
  const missing = CIFAR_BIN_FILES.filter((f) => !byName.has(f));
  if (missing.length > 0) {
    throw missingError(
      archiveName,
      missing,
      'It is not the binary version of CIFAR-10: download cifar-10-binary.tar.gz (not the Python or MATLAB version) again.',
    );
  }
  const out: NamedFile[] = [];
  CIFAR_BIN_FILES.forEach((name, i) => {
    const fileBytes = byName.get(name)!;
    checkCifarBinSize(`${archiveName}: ${name}`, fileBytes);
    onProgress?.({ stage: 'md5', file: name, fraction: i / CIFAR_BIN_FILES.length });
    assertCifarMd5(name, md5Hex(fileBytes));
    out.push({ name, bytes: fileBytes });
  });
  onProgress?.({ stage: 'md5', file: TEST_FILE, fraction: 1 });
  const meta = byName.get(META_FILE);
  if (meta) out.push({ name: META_FILE, bytes: meta });
  return out;
}

export interface LoadOptions {
  /** Check each .bin file's MD5 against the official one (default true). */
  verifyMd5?: boolean;
  onProgress?: LoadProgressCallback;
}

/**
 * Loads CIFAR-10 from what a user chose or a script read: either the archive
 * (cifar-10-binary.tar.gz, recognised by its gzip header) or the six .bin files (matched by base
 * name; other files such as batches.meta.txt are ignored).
 */
export async function loadCifarFromFiles(files: readonly NamedFile[], options: LoadOptions = {}): Promise<CifarData> {
  const { verifyMd5 = true, onProgress } = options;
  if (files.length === 0) {
    throw missingError(
      'No files chosen',
      ['cifar-10-binary.tar.gz (or the six .bin files)'],
      'Choose cifar-10-binary.tar.gz, or the six .bin files from its cifar-10-batches-bin folder.',
    );
  }
  const archive = files.find((f) => isGzip(f.bytes) || /\.(tar\.gz|tgz)$/i.test(f.name));
  let bins: Map<string, Uint8Array>;
  if (archive) {
    const unpacked = await readCifarArchive(archive.bytes, onProgress, baseName(archive.name));
    bins = new Map(unpacked.map((f) => [f.name, f.bytes])); // size- and MD5-checked
  } else {
    bins = new Map();
    for (const f of files) {
      const name = baseName(f.name);
      if (isCifarBinName(name)) bins.set(name, f.bytes);
    }
    const missing = CIFAR_BIN_FILES.filter((f) => !bins.has(f));
    if (missing.length > 0) {
      throw missingError(
        'The chosen files',
        missing,
        'Choose all six .bin files from cifar-10-batches-bin, or the cifar-10-binary.tar.gz archive.',
      );
    }
    CIFAR_BIN_FILES.forEach((name, i) => {
      const bytes = bins.get(name)!;
      checkCifarBinSize(name, bytes);
      if (verifyMd5) {
        onProgress?.({ stage: 'md5', file: name, fraction: i / CIFAR_BIN_FILES.length });
        assertCifarMd5(name, md5Hex(bytes));
      }
    });
  }

  const train: CifarSplit = {
    n: TRAIN_FILES.length * RECORDS_PER_FILE,
    images: new Uint8Array(TRAIN_FILES.length * RECORDS_PER_FILE * IMAGE_BYTES),
    labels: new Uint8Array(TRAIN_FILES.length * RECORDS_PER_FILE),
  };
  TRAIN_FILES.forEach((name, i) => {
    onProgress?.({ stage: 'parse', file: name, fraction: i / CIFAR_BIN_FILES.length });
    unpackRecords(name, bins.get(name)!, train.images, train.labels, i * RECORDS_PER_FILE);
  });
  onProgress?.({ stage: 'parse', file: TEST_FILE, fraction: TRAIN_FILES.length / CIFAR_BIN_FILES.length });
  const test = parseCifarRecords(TEST_FILE, bins.get(TEST_FILE)!);
  onProgress?.({ stage: 'parse', file: TEST_FILE, fraction: 1 });
  return { train, test };
}

/** The small sample committed in public/demo (see its README), as paths under the site root. */
export const DEMO_TRAIN_PATH = 'demo/cifar10-demo-train.bin'; // 500 records: first 50 of each class of data_batch_1
export const DEMO_TEST_PATH = 'demo/cifar10-demo-test.bin'; // 200 records: first 20 of each class of test_batch

/**
 * Loads the demo sample through `read` (the browser: fetch relative to the app's base URL; Node:
 * readFile under public/). Same record format as the official files, any count.
 */
export async function loadCifarDemo(read: (path: string) => Promise<Uint8Array>): Promise<CifarData> {
  const [train, test] = await Promise.all([DEMO_TRAIN_PATH, DEMO_TEST_PATH].map(async (p) => parseCifarRecords(p, await read(p))));
  return { train: train!, test: test! };
}
