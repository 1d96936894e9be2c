// Tests for the batch sampler (shuffled epochs, sampling with replacement, epoch accounting,
// determinism and bit-exact resume) and for test batches. Images carry their own index in their
// first pixels so the order can be read back from the output.
import { describe, expect, it } from 'vitest';
import { createRng } from '../util/rng.ts';
import { BatchSampler, IMAGE_FLOATS, shuffledIndices, testBatches, type SamplerState } from './batches.ts';
import type { CifarSplit } from './cifar.ts';
import type { DataProtocol } from '../experiment/protocols.ts';
import { computeStats, makeNormalizer, normalizeImage, type DataStats } from './preprocess.ts';
import { sameBytes, syntheticSplit } from './test-utils.ts';

/** Image i has R(0,0) = i % 256 and R(0,1) = i >> 8; label i % 10. */
function indexedSplit(n: number): CifarSplit {
  const s = syntheticSplit(n, 77);
  for (let i = 0; i < n; i++) {
    s.images[i * 3072] = i & 255;
    s.images[i * 3072 + 1] = i >> 8;
  }
  return s;
}
/** Statistics that make every normaliser the identity (offset 0, scale 1). */
const ZERO_STATS: DataStats = {
  n: 1,
  pixelMean: new Float32Array(3072),
  channelMean: [0, 0, 0],
  channelStd: [1, 1, 1],
  globalMean: 0,
  globalStd: 1,
};
const PLAIN = (sampling: DataProtocol['sampling']): DataProtocol => ({ preprocess: 'pixel-mean', augment: 'none', flip: false, sampling });
const indicesOf = (x: Float32Array, n: number) =>
  Array.from({ length: n }, (_, b) => x[b * IMAGE_FLOATS]! + 256 * x[b * IMAGE_FLOATS + 3]!);

describe("BatchSampler, 'shuffle'", () => {
  it('visits every image once per epoch, in a new order each epoch', () => {
    const s = indexedSplit(100);
    const sampler = new BatchSampler(s, ZERO_STATS, PLAIN('shuffle'), createRng(1));
    const epochs: number[][] = [[], []];
    const done: boolean[] = [];
    for (let k = 0; k < 20; k++) {
      const b = sampler.next(10);
      epochs[Math.floor(k / 10)]!.push(...indicesOf(b.x, 10));
      done.push(b.epochDone);
      expect(Array.from(b.y)).toEqual(indicesOf(b.x, 10).map((i) => i % 10));
    }
    const all = Array.from({ length: 100 }, (_, i) => i);
    expect([...epochs[0]!].sort((a, b) => a - b)).toEqual(all);
    expect([...epochs[1]!].sort((a, b) => a - b)).toEqual(all);
    expect(epochs[0]).not.toEqual(epochs[1]);
    expect(epochs[0]).not.toEqual(all);
    expect(done.map((d, i) => (d ? i : -1)).filter((i) => i >= 0)).toEqual([9, 19]);
    expect(sampler.imagesSeen).toBe(200);
    expect(sampler.epochFloat).toBe(2);
  });

  it('completes a batch that passes the end of an epoch from the next permutation', () => {
    const s = indexedSplit(100);
    const sampler = new BatchSampler(s, ZERO_STATS, PLAIN('shuffle'), createRng(2));
    const seen: number[] = [];
    const meta: [number, boolean][] = [];
    for (let k = 0; k < 7; k++) {
      const b = sampler.next(30); // 210 images: epochs end inside batches 4 (120) and 7 (210)
      seen.push(...indicesOf(b.x, 30));
      meta.push([b.epoch, b.epochDone]);
    }
    expect(meta).toEqual([
      [0, false],
      [0, false],
      [0, false],
      [1, true],
      [1, false],
      [1, false],
      [2, true],
    ]);
    const all = Array.from({ length: 100 }, (_, i) => i);
    expect(seen.slice(0, 100).sort((a, b) => a - b)).toEqual(all);
    expect(seen.slice(100, 200).sort((a, b) => a - b)).toEqual(all);
    expect(sampler.stepsPerEpoch(30)).toBe(4);
    expect(sampler.stepsPerEpoch(128)).toBe(1);
  });

  it('shuffledIndices is a uniform permutation (position of each element spread evenly)', () => {
    const rng = createRng(3);
    const counts = Array.from({ length: 5 }, () => new Array<number>(5).fill(0));
    for (let t = 0; t < 20_000; t++) {
      const p = shuffledIndices(5, rng);
      p.forEach((v, pos) => counts[v]![pos]!++);
    }
    for (const row of counts) for (const c of row) expect(Math.abs(c - 4000)).toBeLessThan(300); // sd ~57
  });
});

describe("BatchSampler, 'with-replacement'", () => {
  it('draws every image equally often, with repeats inside an epoch (about 63% distinct)', () => {
    const n = 100;
    const s = indexedSplit(n);
    const sampler = new BatchSampler(s, ZERO_STATS, PLAIN('with-replacement'), createRng(4));
    const counts = new Array<number>(n).fill(0);
    let distinctSum = 0;
    const epochs = 1000;
    let epochDone = 0;
    for (let e = 0; e < epochs; e++) {
      const b = sampler.next(100);
      const idx = indicesOf(b.x, 100);
      idx.forEach((i) => counts[i]!++);
      distinctSum += new Set(idx).size;
      if (b.epochDone) epochDone++;
    }
    expect(epochDone).toBe(epochs);
    // Each count ~ Binomial(100,000, 1/100): mean 1000, sd ~31.5.
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(160);
    // Expected distinct per 100 draws: 100 (1 - 0.99^100) = 63.4.
    expect(Math.abs(distinctSum / epochs - 63.4)).toBeLessThan(0.5);
  });

  it("counts an epoch when images seen crosses a multiple of n, as gcr's trainForever does", () => {
    const sampler = new BatchSampler(indexedSplit(100), ZERO_STATS, PLAIN('with-replacement'), createRng(5));
    const done = Array.from({ length: 10 }, () => sampler.next(32).epochDone);
    // 32, 64, 96, 128*, 160, 192, 224*, 256, 288, 320*
    expect(done).toEqual([false, false, false, true, false, false, true, false, false, true]);
  });
});

describe('BatchSampler determinism and resume', () => {
  const split = syntheticSplit(300, 9);
  const stats = computeStats(split);
  const protocols: Record<string, DataProtocol> = {
    paper: { preprocess: 'pixel-mean', augment: 'pad-crop', flip: true, sampling: 'shuffle' },
    gcr: { preprocess: 'pixel-mean-global-std', augment: 'shift', flip: true, sampling: 'with-replacement' },
    neon: { preprocess: 'channel-mean', augment: 'neon-pad-crop', flip: true, sampling: 'shuffle' },
  };

  for (const [name, protocol] of Object.entries(protocols)) {
    it(`${name}: same seed gives the same batches; a restored state continues bit-exactly`, () => {
      const a = new BatchSampler(split, stats, protocol, createRng(10));
      const b = new BatchSampler(split, stats, protocol, createRng(10));
      const c = new BatchSampler(split, stats, protocol, createRng(11));
      const xa = a.next(64);
      expect(sameBytes(xa.x, b.next(64).x)).toBe(true);
      expect(sameBytes(xa.x, c.next(64).x)).toBe(false);
      // Stop mid-permutation (after 64 + 5 * 50 = 314 images: the second epoch has begun).
      for (let k = 0; k < 5; k++) a.next(50);
      const state = JSON.parse(JSON.stringify(a.getState())) as SamplerState;
      const resumed = new BatchSampler(split, stats, protocol, createRng(999));
      resumed.setState(state);
      for (let k = 0; k < 12; k++) {
        const p = a.next(37);
        const q = resumed.next(37);
        expect(sameBytes(p.x, q.x), `batch ${k}`).toBe(true);
        expect(Array.from(p.y)).toEqual(Array.from(q.y));
        expect([p.imagesSeen, p.epoch, p.epochDone]).toEqual([q.imagesSeen, q.epoch, q.epochDone]);
      }
    });
  }

  it('resumes from a state taken before the first batch', () => {
    const p = protocols.paper!;
    const a = new BatchSampler(split, stats, p, createRng(12));
    const resumed = new BatchSampler(split, stats, p, createRng(0));
    resumed.setState(a.getState());
    expect(sameBytes(a.next(20).x, resumed.next(20).x)).toBe(true);
  });

  it('refuses a state from another split or sampling mode', () => {
    const a = new BatchSampler(split, stats, protocols.paper!, createRng(1));
    a.next(10);
    const state = a.getState();
    expect(() => new BatchSampler(syntheticSplit(10), stats, protocols.paper!, createRng(1)).setState(state)).toThrow(
      /split of 300 images/,
    );
    expect(() => new BatchSampler(split, stats, protocols.gcr!, createRng(1)).setState(state)).toThrow(/'shuffle' sampling/);
  });

  it('writes into given buffers, returning exact-length views, and rejects small ones', () => {
    const a = new BatchSampler(split, stats, protocols.gcr!, createRng(3));
    const b = new BatchSampler(split, stats, protocols.gcr!, createRng(3));
    const buf = { x: new Float32Array(100 * IMAGE_FLOATS), y: new Int32Array(100) };
    const got = a.next(64, buf);
    expect(got.x.length).toBe(64 * IMAGE_FLOATS);
    expect(got.x.buffer).toBe(buf.x.buffer);
    expect(sameBytes(got.x, b.next(64).x)).toBe(true);
    expect(() => a.next(101, buf)).toThrow(RangeError);
    expect(() => a.next(0)).toThrow(RangeError);
  });

  it('augments training batches: few images come out unchanged', () => {
    const sampler = new BatchSampler(split, stats, protocols.neon!, createRng(4));
    const norm = makeNormalizer(stats, 'channel-mean');
    const plain = new Float32Array(IMAGE_FLOATS);
    // Count batch images equal to some un-augmented training image.
    const b = sampler.next(256);
    let unchanged = 0;
    for (let k = 0; k < 256; k++) {
      const img = b.x.subarray(k * IMAGE_FLOATS, (k + 1) * IMAGE_FLOATS);
      for (let i = 0; i < split.n; i++) {
        normalizeImage(split, i, norm, plain, 0);
        if (sameBytes(img, plain)) {
          unchanged++;
          break;
        }
      }
    }
    // Unchanged only when dx = dy = 0 and no flip: 1/81 * 1/2, about 1.6 of 256.
    expect(unchanged).toBeLessThan(10);
  });
});

describe('testBatches', () => {
  const split = syntheticSplit(1000, 13);
  const stats = computeStats(split);

  it('covers the split in order with a smaller last batch, never augmented', () => {
    const protocol: DataProtocol = { preprocess: 'channel-mean', augment: 'neon-pad-crop', flip: true, sampling: 'shuffle' };
    const batches = [...testBatches(split, stats, protocol, 300)];
    expect(batches.map((b) => [b.start, b.n, b.x.length, b.y.length])).toEqual([
      [0, 300, 300 * IMAGE_FLOATS, 300],
      [300, 300, 300 * IMAGE_FLOATS, 300],
      [600, 300, 300 * IMAGE_FLOATS, 300],
      [900, 100, 100 * IMAGE_FLOATS, 100],
    ]);
    const norm = makeNormalizer(stats, 'channel-mean');
    const expected = new Float32Array(IMAGE_FLOATS);
    for (const i of [0, 299, 300, 999]) {
      const b = batches.find((t) => i >= t.start && i < t.start + t.n)!;
      normalizeImage(split, i, norm, expected, 0);
      const k = i - b.start;
      expect(sameBytes(b.x.subarray(k * IMAGE_FLOATS, (k + 1) * IMAGE_FLOATS), expected)).toBe(true);
      expect(b.y[k]).toBe(split.labels[i]);
    }
    // Deterministic: a second pass gives the same numbers.
    const again = [...testBatches(split, stats, protocol, 300)];
    expect(sameBytes(again[3]!.x, batches[3]!.x)).toBe(true);
  });

  it('stops after `total` images and can reuse one buffer', () => {
    const protocol: DataProtocol = { preprocess: 'pixel-mean-global-std', augment: 'shift', flip: true, sampling: 'with-replacement' };
    const buf = { x: new Float32Array(128 * IMAGE_FLOATS), y: new Int32Array(128) };
    const sizes = [...testBatches(split, stats, protocol, 128, 300, buf)].map((b) => {
      expect(b.x.buffer).toBe(buf.x.buffer);
      return b.n;
    });
    expect(sizes).toEqual([128, 128, 44]);
  });
});
