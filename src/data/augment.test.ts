// Tests for augmentation: translation keeps pixels and fills per protocol, the flip is a mirror,
// offsets and flips are drawn uniformly, and neon's mean padding matches numpy's np.pad(mode='mean').
import { describe, expect, it } from 'vitest';
import { createRng } from '../util/rng.ts';
import { md5Hex } from './cifar.ts';
import {
  augmentImage,
  computeNeonPad,
  computeNeonPadBytes,
  drawAugment,
  neonPadImage,
  newAugmentScratch,
  type AugmentParams,
} from './augment.ts';
import type { DataProtocol } from '../experiment/protocols.ts';
import { computeStats, makeNormalizer, type Normalizer } from './preprocess.ts';
import { syntheticSplit } from './test-utils.ts';

const IDENTITY: Normalizer = { offset: new Float32Array(3072), scale: 1 };
const split = syntheticSplit(4, 21);
const scratch = newAugmentScratch();

function run(index: number, aug: AugmentParams, fill: 'zero' | 'neon-mean', norm: Normalizer = IDENTITY): Float32Array {
  const out = new Float32Array(3072).fill(NaN);
  augmentImage(split, index, norm, aug, fill, out, 0, scratch);
  return out;
}
const raw = (i: number, c: number, y: number, x: number) => split.images[i * 3072 + c * 1024 + y * 32 + x]!;
const at = (out: Float32Array, y: number, x: number, c: number) => out[(y * 32 + x) * 3 + c]!;

describe('pad-crop / shift', () => {
  it('equals a 32x32 crop of the zero-padded 40x40 image, for every offset', () => {
    for (let dy = -4; dy <= 4; dy++) {
      for (let dx = -4; dx <= 4; dx++) {
        const out = run(1, { dx, dy, flip: false }, 'zero');
        // Paper's wording: pad 4 with zeros, crop at (cy, cx) = (4 - dy, 4 - dx).
        const cy = 4 - dy;
        const cx = 4 - dx;
        let mismatches = 0;
        for (let y = 0; y < 32; y++) {
          for (let x = 0; x < 32; x++) {
            const py = y + cy - 4;
            const px = x + cx - 4;
            for (let c = 0; c < 3; c++) {
              const expected = py >= 0 && py < 32 && px >= 0 && px < 32 ? raw(1, c, py, px) : 0;
              if (at(out, y, x, c) !== expected) mismatches++;
            }
          }
        }
        expect(mismatches, `dx=${dx} dy=${dy}`).toBe(0);
      }
    }
  });

  it('moves content by (dx, dy): a shifted image keeps the overlapping pixels and zero-fills (32-|dx|)(32-|dy|) of them', () => {
    const out = run(2, { dx: 3, dy: -2, flip: false }, 'zero');
    expect(at(out, 0, 3, 0)).toBe(raw(2, 0, 2, 0)); // content moved right 3 and up 2
    expect(at(out, 29, 31, 2)).toBe(raw(2, 2, 31, 28));
    let zeros = 0;
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++)
        if (y >= 30 || x < 3) zeros += at(out, y, x, 0) === 0 && at(out, y, x, 1) === 0 && at(out, y, x, 2) === 0 ? 1 : 0;
    expect(zeros).toBe(32 * 32 - 29 * 30);
  });

  it('fills with 0 after normalisation (the mean pixel), and normalises kept pixels', () => {
    const stats = computeStats(split);
    const norm = makeNormalizer(stats, 'pixel-mean-global-std');
    const out = run(0, { dx: -4, dy: 4, flip: false }, 'zero', norm);
    expect(at(out, 0, 0, 0)).toBe(0);
    expect(at(out, 10, 31, 1)).toBe(0);
    const p = (0 * 32 + 4) * 3 + 1; // source (0, 4) channel G lands at (4, 0); its mean is at source position
    expect(at(out, 4, 0, 1)).toBeCloseTo((raw(0, 1, 0, 4) - stats.pixelMean[p]!) / stats.globalStd, 5);
  });
});

describe('flip', () => {
  it('is a horizontal mirror of the translated image', () => {
    for (const [dx, dy] of [
      [0, 0],
      [3, -1],
      [-4, 4],
    ] as const) {
      const a = run(3, { dx, dy, flip: false }, 'zero');
      const b = run(3, { dx, dy, flip: true }, 'zero');
      const c = run(3, { dx, dy, flip: true }, 'neon-mean');
      const d = run(3, { dx, dy, flip: false }, 'neon-mean');
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          for (let ch = 0; ch < 3; ch++) {
            expect(at(b, y, x, ch)).toBe(at(a, y, 31 - x, ch));
            expect(at(c, y, x, ch)).toBe(at(d, y, 31 - x, ch));
          }
        }
      }
    }
  });

  it('with no shift keeps every pixel (same multiset per row)', () => {
    const out = run(0, { dx: 0, dy: 0, flip: true }, 'zero');
    for (let y = 0; y < 32; y++) {
      const got = Array.from({ length: 32 }, (_, x) => at(out, y, x, 0)).sort((p, q) => p - q);
      const src = Array.from({ length: 32 }, (_, x) => raw(0, 0, y, x)).sort((p, q) => p - q);
      expect(got).toEqual(src);
    }
  });
});

describe('drawAugment', () => {
  const proto = (augment: DataProtocol['augment'], flip: boolean): DataProtocol => ({
    preprocess: 'pixel-mean',
    augment,
    flip,
    sampling: 'shuffle',
  });

  it('draws dx, dy uniformly over [-4, 4] and flips about half the time', () => {
    const rng = createRng(5);
    const N = 90_000;
    const cx = new Map<number, number>();
    const cy = new Map<number, number>();
    let flips = 0;
    for (let i = 0; i < N; i++) {
      const a = drawAugment(proto('pad-crop', true), rng);
      cx.set(a.dx, (cx.get(a.dx) ?? 0) + 1);
      cy.set(a.dy, (cy.get(a.dy) ?? 0) + 1);
      if (a.flip) flips++;
    }
    const keys = [-4, -3, -2, -1, 0, 1, 2, 3, 4];
    expect([...cx.keys()].sort((a, b) => a - b)).toEqual(keys);
    expect([...cy.keys()].sort((a, b) => a - b)).toEqual(keys);
    // 10,000 expected each, sd ~94: 500 is more than 5 sd.
    for (const k of keys) {
      expect(Math.abs(cx.get(k)! - N / 9)).toBeLessThan(500);
      expect(Math.abs(cy.get(k)! - N / 9)).toBeLessThan(500);
    }
    expect(Math.abs(flips / N - 0.5)).toBeLessThan(0.01);
  });

  it("never flips when the protocol says no, and never shifts with 'none'", () => {
    const rng = createRng(6);
    for (let i = 0; i < 1000; i++) {
      expect(drawAugment(proto('shift', false), rng).flip).toBe(false);
      const a = drawAugment(proto('none', true), rng);
      expect([a.dx, a.dy]).toEqual([0, 0]);
    }
  });
});

describe("neon's mean padding", () => {
  // Same formula as the numpy reference run below, per channel c, row y, column x.
  function formulaImages(k: number): Uint8Array {
    const a = new Uint8Array(3072);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++) a[c * 1024 + y * 32 + x] = (c * 71 + y * y * 3 + x * 29 + ((x * y + k) % 7) * 11 + k * 13) % 256;
    return a;
  }

  it('matches numpy 2.4 np.pad(img, ((0,0),(4,4),(4,4)), mode="mean") on uint8 images byte for byte', () => {
    // Recorded with python3/numpy 2.4.6 from the same formula; these images have 54-60 row or
    // column sums that end in exactly .5 after division by 32, so half-to-even rounding is tested.
    const expected = ['3d7d871d771e4793428416b0847dec7c', '0c10396405e5aff0795da11fa3438945', 'dd50e6df59711f5af6d03593c2b9e591'];
    expected.forEach((md5, k) => {
      const padded = neonPadImage(formulaImages(k), 0);
      expect(md5Hex(padded), `image ${k}`).toBe(md5);
    });
    const p0 = neonPadImage(formulaImages(0), 0);
    expect([p0[0], p0[1600], p0[3200]]).toEqual([127, 128, 129]); // corners
    expect(Array.from(p0.subarray(4, 10))).toEqual([112, 116, 132, 128, 125, 137]); // top row, columns 0..5
  });

  it('fills the translated image with the row/column means, minus the channel mean', () => {
    const images = formulaImages(1);
    const one = { n: 1, images, labels: new Uint8Array(1) };
    const stats = computeStats(one);
    const norm = makeNormalizer(stats, 'channel-mean');
    const padded = neonPadImage(images, 0);
    for (const [dx, dy] of [
      [4, 4],
      [-4, -4],
      [2, -3],
      [0, 4],
    ] as const) {
      const out = new Float32Array(3072);
      augmentImage(one, 0, norm, { dx, dy, flip: false }, 'neon-mean', out, 0, scratch);
      // neon: crop the 40x40 PNG at corner (4 - dx, 4 - dy), then subtract the channel mean.
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          for (let c = 0; c < 3; c++) {
            const v = padded[c * 1600 + (y + 4 - dy) * 40 + (x + 4 - dx)]!;
            expect(out[(y * 32 + x) * 3 + c]).toBeCloseTo(v - stats.channelMean[c]!, 4);
          }
        }
      }
    }
  });

  it('rounds means half to even', () => {
    const images = new Uint8Array(3072);
    // Row 0 of channel 0: sixteen 1s and sixteen 0s -> mean 0.5 -> 0; row 1: 16 x 3 + 16 x 2 -> 2.5 -> 2.
    for (let x = 0; x < 16; x++) {
      images[x] = 1;
      images[32 + x] = 3;
      images[32 + 16 + x] = 2;
    }
    // Row 2: mean 1.5 -> 2.
    for (let x = 0; x < 32; x++) images[64 + x] = x < 16 ? 1 : 2;
    const pad = computeNeonPad(images, 0);
    expect(Array.from(pad.rowMean.subarray(0, 3))).toEqual([0, 2, 2]);
  });

  it('reads four bytes at a time to the same means as one at a time, at every extreme, and falls back on an unaligned view', () => {
    // Random images, all-255 ones (the largest lane sums: 32 x 255 per column), all-0 ones, columns
    // alternating 0 and 255 (even and odd lanes apart), and ties at .5 in every column (16 rows of
    // 2k + 1, 16 of 2k: mean 2k + 0.5, rounded to the even 2k).
    const n = 6;
    const images = new Uint8Array(n * 3072);
    let s = 12345;
    for (let i = 0; i < 3072; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      images[i] = s >>> 24;
    }
    images.fill(255, 3072, 2 * 3072);
    for (let i = 0; i < 3072; i++) images[3 * 3072 + i] = i % 2 === 0 ? 0 : 255;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++) images[4 * 3072 + c * 1024 + y * 32 + x] = 2 * ((x + c) % 100) + (y < 16 ? 1 : 0);
    }
    for (let i = 0; i < 3072; i++) images[5 * 3072 + i] = (i * 37 + (i >> 10) * 101) % 256;
    for (let k = 0; k < n; k++) {
      const words = computeNeonPad(images, k);
      const bytes = computeNeonPadBytes(images, k);
      expect(words, `image ${k}`).toEqual(bytes);
    }
    expect(Array.from(computeNeonPad(images, 1).colMean.subarray(0, 4))).toEqual([255, 255, 255, 255]);
    expect(Array.from(computeNeonPad(images, 4).colMean.subarray(0, 4))).toEqual([0, 2, 4, 6]); // 0.5, 2.5, 4.5, 6.5: to the even 2x
    // A view that starts one byte in: not 4-byte aligned, read one byte at a time, the same means.
    const shifted = new Uint8Array(n * 3072 + 1);
    shifted.set(images, 1);
    const view = shifted.subarray(1);
    for (let k = 0; k < n; k++) expect(computeNeonPad(view, k)).toEqual(computeNeonPadBytes(images, k));
  });
});
