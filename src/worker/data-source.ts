// Where the worker's CIFAR-10 comes from: the .bin files `npm run data` put in public/data (served by
// the dev server and the preview), the site's compact PNG copy that `npm run build` puts in
// dist/data/cifar-10-png (kept by the browser after the first visit, data-cache.ts), the demo sample in
// public/demo, or files the user chose (the official cifar-10-binary.tar.gz or its six .bin files,
// MD5-checked). Reading, decoding and checking is src/data's; this file only fetches bytes, keeps
// them, and reports progress.

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
import { CifarDataError } from '../data/errors.ts';
import { CIFAR_PNG_DIR, CIFAR_PNG_LABELS, cifarPngLabels, cifarPngName, decodeCifarPng } from '../data/cifar-png.ts';
import { openDataCache, type DataCache } from './data-cache.ts';
import type { DataInfo, DataStage, NamedBytes } from './protocol.ts';

/** Bytes of a path under the site root ("data/...", "demo/..."), or undefined when it is not there. */
export type FetchBytes = (path: string, onProgress?: (fraction: number) => void) => Promise<Uint8Array | undefined>;
export type DataProgress = (stage: DataStage, file: string, fraction: number) => void;

export interface LoadedData {
  data: CifarData;
  info: DataInfo;
}

const count = (n: number) => n.toLocaleString('en-US');

const PNG_DIR = `data/${CIFAR_PNG_DIR}`;

interface Got {
  bytes: Uint8Array;
  /** Read from the browser's copy rather than the site. */
  kept: boolean;
}

/**
 * The site's compact copy (src/data/cifar-png.ts), from the browser's cache where it has the files and
 * from the site otherwise; undefined when the site has none. Each file is decoded into the official
 * .bin bytes and MD5-checked; only checked files are kept. A kept file that fails is dropped and
 * fetched again, and only a fresh copy that fails is an error.
 */
async function loadCompactData(
  fetchBytes: FetchBytes,
  progress: DataProgress,
  cache: DataCache | undefined,
): Promise<LoadedData | undefined> {
  const files = CIFAR_BIN_FILES.length;
  const fetchFresh = async (path: string, name: string, i: number): Promise<Got | undefined> => {
    const bytes = await fetchBytes(path, (f) => progress('download', name, (i + f) / files));
    return bytes && { bytes, kept: false };
  };
  const read = async (path: string, name: string, i: number): Promise<Got | undefined> => {
    const bytes = await cache?.get(path);
    if (bytes) progress('download', name, (i + 1) / files);
    return bytes ? { bytes, kept: true } : fetchFresh(path, name, i);
  };

  const labelsPath = `${PNG_DIR}/${CIFAR_PNG_LABELS}`;
  let labels = await read(labelsPath, CIFAR_PNG_LABELS, 0);
  if (!labels) return undefined;
  const splits: CifarSplit[] = [];
  let test: CifarSplit | undefined;
  let kept = 0;
  const pathOf = (i: number) => `${PNG_DIR}/${cifarPngName(CIFAR_BIN_FILES[i]!)}`;
  const start = (i: number) => {
    const got = read(pathOf(i), cifarPngName(CIFAR_BIN_FILES[i]!), i);
    got.catch(() => {}); // awaited in its turn; an earlier file's error must not leave it unhandled
    return got;
  };
  let next = start(0);
  for (const [i, bin] of CIFAR_BIN_FILES.entries()) {
    const name = cifarPngName(bin);
    const path = pathOf(i);
    const need = (got: Got | undefined): Got => {
      if (got) return got;
      throw new Error(
        `This site has ${labelsPath} but not ${path}: its copy of CIFAR-10 is incomplete. Rebuild it with \`npm run build\` after \`npm run data\`.`,
      );
    };
    let png = need(await next);
    // The next file downloads while this one decodes.
    if (i + 1 < files) next = start(i + 1);
    progress('gunzip', name, i / files);
    let bytes: Uint8Array;
    try {
      bytes = await decodeCifarPng(bin, path, png.bytes, cifarPngLabels(labels.bytes, bin));
    } catch (e) {
      if (!(e instanceof CifarDataError) || !cache || (!png.kept && !labels.kept)) throw e;
      // A kept copy that fails its check (damaged on disk, or an older copy): drop it, fetch again.
      if (labels.kept) {
        await cache.drop(labelsPath);
        labels = (await fetchFresh(labelsPath, CIFAR_PNG_LABELS, i)) ?? labels;
      }
      if (png.kept) {
        await cache.drop(path);
        png = need(await fetchFresh(path, name, i));
      }
      progress('gunzip', name, i / files);
      bytes = await decodeCifarPng(bin, path, png.bytes, cifarPngLabels(labels.bytes, bin));
    }
    if (png.kept) kept++;
    else await cache?.put(path, png.bytes);
    progress('parse', name, (i + 1) / files);
    const split = parseCifarRecords(bin, bytes);
    if (bin === TEST_FILE) test = split;
    else splits.push(split);
  }
  if (!labels.kept) await cache?.put(labelsPath, labels.bytes);
  const keptText = kept === files && labels.kept ? ', kept by this browser' : kept > 0 ? ', partly kept by this browser' : '';
  return fullData(splits, test!, `this site's ${PNG_DIR}/ (lossless PNG copy)${keptText}`);
}

export interface ServedDataOptions {
  /** Where the browser keeps the files: by default its Cache Storage where there is one; null for none. */
  cache?: DataCache | null;
}

/**
 * The full data set served with the site: the .bin files of public/data where the server has them
 * (the dev server and `vite preview`: nothing to decode), else its compact PNG copy (a built site on
 * any host); undefined when it has neither.
 */
export async function loadServedData(
  fetchBytes: FetchBytes,
  progress: DataProgress,
  options: ServedDataOptions = {},
): Promise<LoadedData | undefined> {
  const bins = await loadBinData(fetchBytes, progress);
  if (bins) return bins;
  const cache = options.cache === undefined ? await openDataCache() : (options.cache ?? undefined);
  return loadCompactData(fetchBytes, progress, cache);
}

/** The six .bin files of public/data, or undefined when the server has none of them. */
async function loadBinData(fetchBytes: FetchBytes, progress: DataProgress): Promise<LoadedData | undefined> {
  const splits: CifarSplit[] = [];
  let test: CifarSplit | undefined;
  for (const [i, name] of CIFAR_BIN_FILES.entries()) {
    const path = `data/${CIFAR_DIR_NAME}/${name}`;
    const bytes = await fetchBytes(path, (f) => progress('download', name, (i + f) / CIFAR_BIN_FILES.length));
    if (bytes === undefined) {
      if (i === 0) return undefined; // not there at all
      throw new Error(`public/data has ${CIFAR_BIN_FILES[0]} but not ${name}: run \`npm run data\` again.`);
    }
    // `npm run data` checked every MD5 when it wrote the files (atomically); the size is checked here.
    checkCifarBinSize(name, bytes);
    progress('parse', name, (i + 1) / CIFAR_BIN_FILES.length);
    const split = parseCifarRecords(name, bytes);
    if (name === TEST_FILE) test = split;
    else splits.push(split);
  }
  return fullData(splits, test!, 'public/data (npm run data)');
}

/** The full data set from its five training splits and its test split, labelled with where it came from. */
function fullData(trainSplits: CifarSplit[], test: CifarSplit, origin: string): LoadedData {
  const train = concatSplits(trainSplits);
  const label = `CIFAR-10 (${count(train.n)} training, ${count(test.n)} test images)`;
  return { data: { train, test }, info: { kind: 'full', label, train: train.n, test: test.n, origin } };
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
