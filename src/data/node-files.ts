// Node-only file access for CIFAR-10: load the six .bin files from a folder (the CLI, tests,
// scripts), check a folder without loading it, and write files atomically. The browser uses
// loadCifarFromFiles in cifar.ts instead. MD5 here uses node:crypto (several times faster than the
// pure-JS one) against the same official table.

import { createHash } from 'node:crypto';
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assertCifarMd5,
  BIN_FILE_BYTES,
  CIFAR_BIN_FILES,
  CIFAR_DIR_NAME,
  CIFAR_MD5,
  checkCifarBinSize,
  concatSplits,
  parseCifarRecords,
  TEST_FILE,
  TRAIN_FILES,
  type CifarBinName,
  type CifarData,
} from './cifar.ts';
import { CifarDataError } from './errors.ts';

/** Where `npm run data` puts the files, relative to the repository root. */
export const DEFAULT_DATA_ROOT = 'public/data';
export const DEFAULT_CIFAR_DIR = `${DEFAULT_DATA_ROOT}/${CIFAR_DIR_NAME}`;

const NODE_REMEDY = 'Run `npm run data` to download and check the data set.';

export function md5HexNode(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

async function readOrMissing(path: string, name: string, dir: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CifarDataError('missing-file', path, `${name} is missing from ${dir}.`, NODE_REMEDY);
    }
    throw err;
  }
}

export interface LoadDirOptions {
  /** Check each file's MD5 against the official one (default true). */
  verifyMd5?: boolean;
}

/** Loads train (data_batch_1..5, in order) and test (test_batch) from a cifar-10-batches-bin folder. */
export async function loadCifarDir(dir: string = DEFAULT_CIFAR_DIR, options: LoadDirOptions = {}): Promise<CifarData> {
  const { verifyMd5 = true } = options;
  const load = async (name: CifarBinName) => {
    const path = join(dir, name);
    const bytes = await readOrMissing(path, name, dir);
    checkCifarBinSize(path, bytes);
    if (verifyMd5) assertCifarMd5(path, md5HexNode(bytes));
    return parseCifarRecords(path, bytes);
  };
  // Every file is tried, and the error does not depend on which read finishes first: all missing
  // files are named at once (the fix for each is the same), else the first problem in file order.
  const names: CifarBinName[] = [...TRAIN_FILES, TEST_FILE];
  const settled = await Promise.allSettled(names.map(load));
  const missing = names.filter((_, i) => {
    const r = settled[i]!;
    return r.status === 'rejected' && r.reason instanceof CifarDataError && r.reason.code === 'missing-file';
  });
  if (missing.length > 1) {
    const list = `${missing.slice(0, -1).join(', ')} and ${missing[missing.length - 1]}`;
    throw new CifarDataError('missing-file', dir, `${list} are missing from ${dir}.`, NODE_REMEDY);
  }
  const failed = missing.length === 1 ? settled[names.indexOf(missing[0]!)] : settled.find((r) => r.status === 'rejected');
  if (failed?.status === 'rejected') throw failed.reason;
  const splits = settled.map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof load>>>).value);
  return { train: concatSplits(splits.slice(0, TRAIN_FILES.length)), test: splits[TRAIN_FILES.length]! };
}

/** Reads a file of CIFAR-10 records of any count (e.g. the demo sample in public/demo). */
export async function loadCifarRecordsFile(path: string) {
  const bytes = new Uint8Array(await readFile(path));
  return parseCifarRecords(path, bytes);
}

export interface DirCheck {
  ok: boolean;
  /** One line per file that is missing, of the wrong size or of the wrong MD5. */
  problems: string[];
}

/** Checks that the six .bin files exist with the official sizes and MD5s, without parsing them. */
export async function checkCifarDir(dir: string = DEFAULT_CIFAR_DIR): Promise<DirCheck> {
  const problems: string[] = [];
  for (const name of CIFAR_BIN_FILES) {
    const path = join(dir, name);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      problems.push(`${name}: missing`);
      continue;
    }
    if (size !== BIN_FILE_BYTES) {
      problems.push(`${name}: ${size} bytes, expected ${BIN_FILE_BYTES}`);
      continue;
    }
    const md5 = md5HexNode(new Uint8Array(await readFile(path)));
    if (md5 !== CIFAR_MD5[name]) problems.push(`${name}: MD5 ${md5}, expected ${CIFAR_MD5[name]}`);
  }
  return { ok: problems.length === 0, problems };
}

/**
 * Writes a file so that readers see either the old content or the whole new one: write a temporary
 * file beside it, then rename (atomic on one file system). An interrupted run leaves only a
 * "*.partial-*" file, which no check accepts.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${path}.partial-${process.pid}-${Date.now()}`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
