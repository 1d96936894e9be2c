// Tests of the served data's compact copy as the worker loads it (data-source.ts loadServedData),
// with the copy `npm run build` makes (scripts/vite-data.ts, from its cache) behind a fake fetch and
// an in-memory DataCache, on a site without the .bin files: the first load fetches and keeps every file, a kept file that fails its
// check is fetched again, and a load with everything kept fetches nothing. Needs `npm run data`.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compactCifarCopy } from '../../scripts/vite-data.ts';
import { DEFAULT_CIFAR_DIR } from '../data/node-files.ts';
import { NO_DATA_NOTE, realDataPresent } from '../data/test-utils.ts';
import { memoryDataCache } from './data-cache.ts';
import { loadServedData, type FetchBytes } from './data-source.ts';

const HAS_DATA = realDataPresent();

function site(files: Map<string, Uint8Array>) {
  const requests: string[] = [];
  const fetchBytes: FetchBytes = async (path, onProgress) => {
    requests.push(path);
    const bytes = files.get(path);
    if (bytes) onProgress?.(1);
    return bytes?.slice();
  };
  return { fetchBytes, requests };
}

describe('loadServedData with the compact copy', () => {
  it('finds nothing on a site without data', async () => {
    const { fetchBytes, requests } = site(new Map());
    expect(await loadServedData(fetchBytes, () => {}, { cache: memoryDataCache() })).toBeUndefined();
    expect(requests).toEqual(['data/cifar-10-batches-bin/data_batch_1.bin', 'data/cifar-10-png/labels.bin']);
  });

  it('keeps the files after the first load, refetches a damaged kept one, then fetches nothing', async (ctx) => {
    if (!HAS_DATA) ctx.skip(NO_DATA_NOTE);
    const copy = (await compactCifarCopy(DEFAULT_CIFAR_DIR, join('node_modules', '.cache', 'resnet-lab-data')))!;
    const files = new Map(copy.files.map((f) => [`data/cifar-10-png/${f}`, new Uint8Array(readFileSync(join(copy.dir, f)))]));
    const { fetchBytes, requests } = site(files);
    const cache = memoryDataCache();
    const stages = new Set<string>();

    const first = (await loadServedData(fetchBytes, (stage) => stages.add(stage), { cache }))!;
    expect(first.info.label).toBe('CIFAR-10 (50,000 training, 10,000 test images)');
    expect(first.info.origin).toBe("this site's data/cifar-10-png/ (lossless PNG copy)");
    expect(first.data.train.n).toBe(50_000);
    expect(requests).toHaveLength(8); // the .bin a dev server would have, then the copy's 7 files
    expect(requests[0]).toBe('data/cifar-10-batches-bin/data_batch_1.bin');
    expect([...cache.files.keys()].sort()).toEqual([...files.keys()].sort());
    expect([...stages]).toEqual(['download', 'gunzip', 'parse']);

    const kept = cache.files.get('data/cifar-10-png/test_batch.png')!;
    kept[kept.length - 100] ^= 1;
    requests.length = 0;
    const second = (await loadServedData(fetchBytes, () => {}, { cache }))!;
    expect(requests).toEqual([
      'data/cifar-10-batches-bin/data_batch_1.bin',
      'data/cifar-10-png/labels.bin',
      'data/cifar-10-png/test_batch.png',
    ]); // which of the two was wrong is not known
    expect(second.info.origin).toMatch(/, partly kept by this browser$/);
    expect(
      Buffer.from(cache.files.get('data/cifar-10-png/test_batch.png')!).equals(Buffer.from(files.get('data/cifar-10-png/test_batch.png')!)),
    ).toBe(true);

    requests.length = 0;
    const third = (await loadServedData(fetchBytes, () => {}, { cache }))!;
    expect(requests).toEqual(['data/cifar-10-batches-bin/data_batch_1.bin']); // nothing of the copy
    expect(third.info.origin).toBe("this site's data/cifar-10-png/ (lossless PNG copy), kept by this browser");
    expect(Buffer.from(third.data.test.images).equals(Buffer.from(first.data.test.images))).toBe(true);
  });

  it('fails with the file named when the site itself serves a damaged copy', async (ctx) => {
    if (!HAS_DATA) ctx.skip(NO_DATA_NOTE);
    const copy = (await compactCifarCopy(DEFAULT_CIFAR_DIR, join('node_modules', '.cache', 'resnet-lab-data')))!;
    const files = new Map(copy.files.map((f) => [`data/cifar-10-png/${f}`, new Uint8Array(readFileSync(join(copy.dir, f)))]));
    const labels = files.get('data/cifar-10-png/labels.bin')!;
    labels[5] = (labels[5]! + 1) % 10;
    const cache = memoryDataCache();
    await expect(loadServedData(site(files).fetchBytes, () => {}, { cache })).rejects.toThrow(
      /^data_batch_1\.bin decoded from data\/cifar-10-png\/data_batch_1\.png has the wrong checksum/,
    );
    expect(cache.files.size).toBe(0);
  });
});
