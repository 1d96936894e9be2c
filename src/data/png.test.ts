// Tests of the minimal PNG codec (png.ts): round trips through every filter type, and errors that
// name the file for damaged or cut-short files. CIFAR-10's own copy is tested in cifar-png.test.ts.

import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PngError, crc32, decodePng, encodePng, filterImage, type PngImage } from './png.ts';

const deflate = (d: Uint8Array) => deflateSync(d);

/** Rows of noise, smooth ramps and flat runs, so that the chooser uses every filter type. */
function testImage(width: number, height: number, channels: 1 | 3): PngImage {
  const pixels = new Uint8Array(width * height * channels);
  let h = 12345;
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < width * channels; i++) {
      h = (Math.imul(h, 1103515245) + 12345) | 0;
      const kind = y % 4;
      pixels[y * width * channels + i] =
        kind === 0 ? h >>> 24 : kind === 1 ? (i * 3 + y) & 255 : kind === 2 ? (y * 7) & 255 : (i + 2 * y + (h >>> 30)) & 255;
    }
  }
  return { width, height, channels, pixels };
}

async function caught(f: () => Promise<unknown>): Promise<PngError> {
  try {
    await f();
  } catch (e) {
    expect(e).toBeInstanceOf(PngError);
    return e as PngError;
  }
  throw new Error('expected a PngError');
}

describe('png', () => {
  it('crc32 gives the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  for (const channels of [1, 3] as const) {
    it(`round-trips ${channels === 1 ? 'greyscale' : 'RGB'} through every filter type`, async () => {
      const image = testImage(37, 64, channels);
      const filtered = filterImage(image);
      const types = new Set(Array.from({ length: image.height }, (_, y) => filtered[y * (image.width * channels + 1)]));
      expect([...types].sort()).toEqual([0, 1, 2, 3, 4]);
      const decoded = await decodePng('t.png', encodePng(image, deflate));
      expect(decoded.width).toBe(37);
      expect(decoded.height).toBe(64);
      expect(decoded.channels).toBe(channels);
      expect(Buffer.from(decoded.pixels).equals(Buffer.from(image.pixels))).toBe(true);
    });
  }

  it('says which file and chunk fails its CRC', async () => {
    const png = encodePng(testImage(8, 8, 3), deflate);
    png[50] ^= 1; // inside IDAT's data
    const e = await caught(() => decodePng('damaged.png', png));
    expect(e.message).toMatch(/^damaged\.png .*IDAT chunk at byte 33 fails its CRC check/);
  });

  it('says when the compressed data is damaged (CRC intact)', async () => {
    const image = testImage(16, 16, 3);
    const png = encodePng(image, (d) => {
      const z = deflateSync(d);
      z[z.length - 1] ^= 0xff; // the zlib stream's Adler-32
      return z;
    });
    const e = await caught(() => decodePng('bad-zlib.png', png));
    expect(e.message).toMatch(/bad-zlib\.png .*compressed image data is damaged/);
  });

  it('says when the file is cut short or not a PNG', async () => {
    const png = encodePng(testImage(8, 8, 1), deflate);
    expect((await caught(() => decodePng('short.png', png.subarray(0, png.length - 20)))).message).toMatch(/short\.png .*cut short/);
    expect((await caught(() => decodePng('page.html', new TextEncoder().encode('<!doctype html>')))).message).toMatch(
      /page\.html .*PNG signature/,
    );
  });
});
