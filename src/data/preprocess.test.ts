// Tests for the training-set statistics and the per-protocol normalisers, on small synthetic splits
// (checked against a direct float64 computation) and on the real training set when present.
import { describe, expect, it } from 'vitest';
import { loadCifarDir } from './node-files.ts';
import { computeStats, makeNormalizer, normalizeImage } from './preprocess.ts';
import { NO_DATA_NOTE, realDataPresent, syntheticSplit } from './test-utils.ts';

describe('computeStats', () => {
  it('matches a direct computation: per-pixel mean in HWC order, channel means/stds, global n-1 std', () => {
    const s = syntheticSplit(37, 8);
    const stats = computeStats(s);
    const v = (i: number, c: number, p: number) => s.images[i * 3072 + c * 1024 + p]!;
    for (const [p, c] of [
      [0, 0],
      [31, 2],
      [500, 1],
      [1023, 2],
    ] as const) {
      let sum = 0;
      for (let i = 0; i < s.n; i++) sum += v(i, c, p);
      expect(stats.pixelMean[p * 3 + c]).toBeCloseTo(sum / s.n, 4);
    }
    const all: number[][] = [[], [], []];
    for (let i = 0; i < s.n; i++) for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) all[c]!.push(v(i, c, p));
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    for (let c = 0; c < 3; c++) {
      const m = mean(all[c]!);
      expect(stats.channelMean[c]).toBeCloseTo(m, 9);
      expect(stats.channelStd[c]).toBeCloseTo(Math.sqrt(mean(all[c]!.map((x) => (x - m) ** 2))), 9);
    }
    const flat = all.flat();
    const gm = mean(flat);
    expect(stats.globalMean).toBeCloseTo(gm, 9);
    expect(stats.globalStd).toBeCloseTo(Math.sqrt(flat.reduce((a, x) => a + (x - gm) ** 2, 0) / (flat.length - 1)), 9);
    expect(stats.n).toBe(37);
  });

  it('refuses an empty split', () => {
    expect(() => computeStats({ n: 0, images: new Uint8Array(0), labels: new Uint8Array(0) })).toThrow(/empty/);
  });
});

describe('makeNormalizer / normalizeImage', () => {
  const s = syntheticSplit(10, 4);
  const stats = computeStats(s);
  const out = new Float32Array(3072);
  const r = (c: number, p: number) => s.images[3 * 3072 + c * 1024 + p]!;

  it('paper: raw - pixel mean, 0-255 scale', () => {
    normalizeImage(s, 3, makeNormalizer(stats, 'pixel-mean'), out, 0);
    expect(out[100 * 3 + 2]).toBeCloseTo(r(2, 100) - stats.pixelMean[100 * 3 + 2]!, 4);
  });

  it('gcr: (raw - pixel mean) / global std', () => {
    normalizeImage(s, 3, makeNormalizer(stats, 'pixel-mean-global-std'), out, 0);
    expect(out[7 * 3 + 1]).toBeCloseTo((r(1, 7) - stats.pixelMean[7 * 3 + 1]!) / stats.globalStd, 5);
  });

  it('neon: raw - channel mean, 0-255 scale', () => {
    normalizeImage(s, 3, makeNormalizer(stats, 'channel-mean'), out, 0);
    expect(out[1023 * 3]).toBeCloseTo(r(0, 1023) - stats.channelMean[0], 4);
    expect(out[512 * 3 + 2]).toBeCloseTo(r(2, 512) - stats.channelMean[2], 4);
  });
});

describe('real training set', () => {
  it('has channel means 125.31 122.95 113.87, stds 62.99 62.09 66.70 and global std 64.15 (0-255)', async (ctx) => {
    if (!realDataPresent()) ctx.skip(NO_DATA_NOTE);
    const { train } = await loadCifarDir(undefined, { verifyMd5: false });
    const stats = computeStats(train);
    expect(stats.n).toBe(50_000);
    const round2 = (a: number[]) => a.map((x) => Math.round(x * 100) / 100);
    expect(round2(stats.channelMean)).toEqual([125.31, 122.95, 113.87]);
    expect(round2(stats.channelStd)).toEqual([62.99, 62.09, 66.7]);
    // gcr's single std of every value (around the global mean 120.71): 64.15, recorded here.
    expect(Math.round(stats.globalMean * 100) / 100).toBe(120.71);
    expect(Math.round(stats.globalStd * 100) / 100).toBe(64.15);
    // gcr-normalised training pixels average 0 and have std below 1 (per-pixel means vary).
    const norm = makeNormalizer(stats, 'pixel-mean-global-std');
    const x = new Float32Array(3072);
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < 50_000; i += 50) {
      normalizeImage(train, i, norm, x, 0);
      for (const v of x) {
        sum += v;
        sq += v * v;
      }
    }
    const count = 1000 * 3072;
    expect(Math.abs(sum / count)).toBeLessThan(0.05);
    expect(Math.sqrt(sq / count)).toBeGreaterThan(0.9);
    expect(Math.sqrt(sq / count)).toBeLessThan(1);
  });
});
