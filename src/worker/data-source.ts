// Where the worker's CIFAR-10 comes from: the files `npm run data` put in public/data (served by the
// dev server and the preview), the demo sample in public/demo, or files the user chose (the official
// cifar-10-binary.tar.gz or its six .bin files, MD5-checked). Reading and checking is src/data's; this
// file only fetches bytes and reports progress.

import {
  CIFAR_BIN_FILES,
  CIFAR_DIR_NAME,
  TEST_FILE,
  checkCifarBinSize,
  concatSplits,
  loadCifarFromFiles,
  parseCifarRecords,
  type CifarData,
  type CifarSplit,
} from '../data/cifar.ts';
import type { DataInfo, DataStage, NamedBytes } from './protocol.ts';

/** Bytes of a path under the site root ("data/...", "demo/..."), or undefined when it is not there. */
export type FetchBytes = (path: string, onProgress?: (fraction: number) => void) => Promise<Uint8Array | undefined>;
export type DataProgress = (stage: DataStage, file: string, fraction: number) => void;

export interface LoadedData {
  data: CifarData;
  info: DataInfo;
}

const count = (n: number) => n.toLocaleString('en-US');

/** The full data set from public/data, or undefined when `npm run data` has not been run. */
export async function loadServedData(fetchBytes: FetchBytes, progress: DataProgress): Promise<LoadedData | undefined> {
  const splits: CifarSplit[] = [];
  let test: CifarSplit | undefined;
  for (const [i, name] of CIFAR_BIN_FILES.entries()) {
    const path = `data/${CIFAR_DIR_NAME}/${name}`;
    const bytes = await fetchBytes(path, (f) => progress('download', name, (i + f) / CIFAR_BIN_FILES.length));
    if (bytes === undefined) {
      if (i === 0) return undefined; // not there at all: the caller falls back to the demo sample
      throw new Error(`public/data has ${CIFAR_BIN_FILES[0]} but not ${name}: run \`npm run data\` again.`);
    }
    // `npm run data` checked every MD5 when it wrote the files (atomically); the size is checked here.
    checkCifarBinSize(name, bytes);
    progress('parse', name, (i + 1) / CIFAR_BIN_FILES.length);
    const split = parseCifarRecords(name, bytes);
    if (name === TEST_FILE) test = split;
    else splits.push(split);
  }
  const train = concatSplits(splits);
  return {
    data: { train, test: test! },
    info: {
      kind: 'full',
      label: `CIFAR-10 (${count(train.n)} training, ${count(test!.n)} test images)`,
      train: train.n,
      test: test!.n,
      origin: 'public/data (npm run data)',
    },
  };
}

export const DEMO_FILES = { train: 'demo/cifar10-demo-train.bin', test: 'demo/cifar10-demo-test.bin' } as const;

/** The demo sample: a few hundred real CIFAR-10 images in the official record format. */
export async function loadDemoData(fetchBytes: FetchBytes, progress: DataProgress): Promise<LoadedData> {
  const trainBytes = await fetchBytes(DEMO_FILES.train, (f) => progress('download', DEMO_FILES.train, f / 2));
  const testBytes = await fetchBytes(DEMO_FILES.test, (f) => progress('download', DEMO_FILES.test, 0.5 + f / 2));
  if (!trainBytes || !testBytes) {
    throw new Error(
      `The demo sample (public/${DEMO_FILES.train}, public/${DEMO_FILES.test}) is missing, and so is the full data set: run \`npm run data\`, or choose cifar-10-binary.tar.gz below.`,
    );
  }
  const train = parseCifarRecords(DEMO_FILES.train, trainBytes);
  const test = parseCifarRecords(DEMO_FILES.test, testBytes);
  return {
    data: { train, test },
    info: {
      kind: 'demo',
      label: `demo sample (${count(train.n)} training, ${count(test.n)} test images of CIFAR-10): enough to try the lab, not to compare with the papers`,
      train: train.n,
      test: test.n,
      origin: 'public/demo',
    },
  };
}

/** cifar-10-binary.tar.gz or the six .bin files chosen by the user, MD5-checked. */
export async function loadUserFiles(files: NamedBytes[], progress: DataProgress): Promise<LoadedData> {
  const data = await loadCifarFromFiles(files, {
    verifyMd5: true,
    onProgress: (p) => progress(p.stage, p.file, p.fraction),
  });
  return {
    data,
    info: {
      kind: 'full',
      label: `CIFAR-10 (${count(data.train.n)} training, ${count(data.test.n)} test images)`,
      train: data.train.n,
      test: data.test.n,
      origin: files.map((f) => f.name).join(', '),
    },
  };
}

/** Reads a response body with progress (Content-Length when the server sends it). */
export async function readWithProgress(response: Response, onProgress?: (fraction: number) => void): Promise<Uint8Array> {
  const total = Number(response.headers.get('Content-Length') ?? 0);
  if (!response.body || !total) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onProgress?.(1);
    return bytes;
  }
  const out = new Uint8Array(total);
  let at = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (at + value.byteLength > total) throw new Error(`${response.url} sent more bytes than its Content-Length (${total})`);
    out.set(value, at);
    at += value.byteLength;
    onProgress?.(at / total);
  }
  if (at !== total) throw new Error(`${response.url} ended after ${at} of ${total} bytes`);
  return out;
}
