// Tests of the compact CIFAR-10 copy (cifar-png.ts) on the real records of public/data: encoded and
// decoded, each file gives back the official bytes and MD5; damage gives an error naming the file.
// The tests that need the real data skip without it (`npm run data`).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CIFAR_MD5, RECORDS_PER_FILE, md5Hex } from './cifar.ts';
import { decodeCifarPng, encodeCifarPng } from './cifar-png.ts';
import { CifarDataError } from './errors.ts';
import { DEFAULT_CIFAR_DIR } from './node-files.ts';
import { NO_DATA_NOTE, realDataPresent, syntheticRecords } from './test-utils.ts';

const HAS_DATA = realDataPresent();
const deflate = (d: Uint8Array) => deflateSync(d, { level: 9, memLevel: 9 });

async function caught(f: () => Promise<unknown>): Promise<CifarDataError> {
  try {
    await f();
  } catch (e) {
    expect(e).toBeInstanceOf(CifarDataError);
    return e as CifarDataError;
  }
  throw new Error('expected a CifarDataError');
}

describe('cifar-png', () => {
  it('decodes test_batch.bin back to the official bytes and MD5, and is smaller', async (ctx) => {
    if (!HAS_DATA) ctx.skip(NO_DATA_NOTE);
    const bin = new Uint8Array(readFileSync(join(DEFAULT_CIFAR_DIR, 'test_batch.bin')));
    const { png, labels } = encodeCifarPng(bin, deflate);
    expect(labels.length).toBe(RECORDS_PER_FILE);
    expect(png.length).toBeLessThan(bin.length * 0.75);
    const decoded = await decodeCifarPng('test_batch.bin', 'data/cifar-10-png/test_batch.png', png, labels);
    expect(Buffer.from(decoded).equals(Buffer.from(bin))).toBe(true);
    expect(md5Hex(decoded)).toBe(CIFAR_MD5['test_batch.bin']);

    // A wrong label passes the PNG's own checks and fails the MD5, naming the file.
    const wrong = labels.slice();
    wrong[123] = (wrong[123]! + 1) % 10;
    const e = await caught(() => decodeCifarPng('test_batch.bin', 'data/cifar-10-png/test_batch.png', png, wrong));
    expect(e.code).toBe('checksum');
    expect(e.message).toMatch(/^test_batch\.bin decoded from data\/cifar-10-png\/test_batch\.png has the wrong checksum/);
  });

  it('names the PNG when it is damaged', async () => {
    const { png, labels } = encodeCifarPng(syntheticRecords(RECORDS_PER_FILE), (d) => deflateSync(d, { level: 1 }));
    png[1000] ^= 0x40;
    const e = await caught(() => decodeCifarPng('data_batch_2.bin', 'data/cifar-10-png/data_batch_2.png', png, labels));
    expect(e.code).toBe('corrupt');
    expect(e.fileName).toBe('data/cifar-10-png/data_batch_2.png');
    expect(e.message).toMatch(/data_batch_2\.png .*fails its CRC check.*Reload the page/);
  });

  it('refuses a PNG of the wrong shape', async () => {
    const { png, labels } = encodeCifarPng(syntheticRecords(500), (d) => deflateSync(d, { level: 1 }));
    const e = await caught(() => decodeCifarPng('data_batch_3.bin', 'x/data_batch_3.png', png, labels));
    expect(e.code).toBe('wrong-size');
    expect(e.message).toMatch(/x\/data_batch_3\.png is a 32x16000 RGB PNG with 500 labels/);
  });
});
