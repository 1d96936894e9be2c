// Per-protocol input normalisation: the protocol's data options (DataProtocol), the training-set
// statistics they need (DataStats) and the map from raw 0-255 bytes to network inputs
// (docs/protocols.md §3.5):
//   'pixel-mean'            paper: the per-pixel mean image subtracted, 0-255 scale.
//   'pixel-mean-global-std' gcr: the mean image subtracted, then divided by one scalar, the std of every
//                           raw training value (Torch's std(): n-1 denominator).
//   'channel-mean'          neon: the three channel means subtracted, 0-255 scale, no division.
// Test images use the training statistics in every protocol. Not here: augmentation (augment.ts).

import type { DataProtocol } from '../experiment/protocols.ts';
import type { CifarSplit } from './cifar.ts';

/** Training-set statistics, all on the 0-255 scale. Structured-clone safe (worker messages). */
export interface DataStats {
  /** Images they were computed from. */
  n: number;
  /** Per-pixel mean image, 3072 values in HWC order: index (y*32 + x)*3 + c. */
  pixelMean: Float32Array;
  /** Mean of each channel over all training pixels (R, G, B). */
  channelMean: [number, number, number];
  /** Standard deviation of each channel over all training pixels (population form). */
  channelStd: [number, number, number];
  /** Mean of every value of the training set. */
  globalMean: number;
  /** Standard deviation of every value of the training set, n-1 denominator (Torch's std()). */
  globalStd: number;
}

/**
 * One pass over the training images; every sum is of integers and exact in float64, so the
 * numbers do not depend on summation order. All statistics are
 * computed whatever the protocol (they cost one pass together); `_protocol` is accepted so callers
 * can state which protocol they load for.
 */
export function computeStats(train: CifarSplit, _protocol?: DataProtocol): DataStats {
  const { n, images } = train;
  if (n <= 0) throw new RangeError('computeStats: the training split is empty');
  const pixelSum = new Float64Array(3072); // planar order, as stored
  const sq = [0, 0, 0];
  // Per image, per-pixel integer sums fit easily in float64 (max 50,000 x 255 per pixel).
  for (let i = 0; i < n; i++) {
    const base = i * 3072;
    for (let c = 0; c < 3; c++) {
      let s2 = 0;
      const off = base + c * 1024;
      for (let p = 0; p < 1024; p++) {
        const v = images[off + p]!;
        pixelSum[c * 1024 + p] += v;
        s2 += v * v;
      }
      sq[c]! += s2;
    }
  }
  const pixelMean = new Float32Array(3072);
  const chSum = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < 1024; p++) {
      const s = pixelSum[c * 1024 + p]!;
      chSum[c]! += s;
      pixelMean[p * 3 + c] = s / n;
    }
  }
  const perChannel = n * 1024;
  const channelMean = chSum.map((s) => s / perChannel) as [number, number, number];
  const channelStd = chSum.map((s, c) => Math.sqrt(Math.max(0, sq[c]! / perChannel - (s / perChannel) ** 2))) as [number, number, number];
  const total = perChannel * 3;
  const sumAll = chSum[0]! + chSum[1]! + chSum[2]!;
  const sqAll = sq[0]! + sq[1]! + sq[2]!;
  const globalMean = sumAll / total;
  // sum((v - m)^2) = sum(v^2) - sum(v)^2 / N, both terms exact integers / one division.
  const globalStd = Math.sqrt(Math.max(0, (sqAll - (sumAll * sumAll) / total) / (total - 1)));
  return { n, pixelMean, channelMean, channelStd, globalMean, globalStd };
}

/** The affine map of a preprocessing: input = (raw - offset[(y*32 + x)*3 + c]) * scale. */
export interface Normalizer {
  offset: Float32Array; // 3072, HWC
  scale: number;
}

export function makeNormalizer(stats: DataStats, preprocess: DataProtocol['preprocess']): Normalizer {
  switch (preprocess) {
    case 'pixel-mean':
      return { offset: stats.pixelMean, scale: 1 };
    case 'pixel-mean-global-std':
      return { offset: stats.pixelMean, scale: 1 / stats.globalStd };
    case 'channel-mean': {
      const offset = new Float32Array(3072);
      for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) offset[p * 3 + c] = stats.channelMean[c]!;
      return { offset, scale: 1 };
    }
  }
}

/**
 * Writes image `index` of `split`, normalised and without augmentation, into `out` at
 * `outOffset` in HWC order ([32, 32, 3] floats).
 */
export function normalizeImage(split: CifarSplit, index: number, norm: Normalizer, out: Float32Array, outOffset: number): void {
  const src = split.images;
  const base = index * 3072;
  const { offset, scale } = norm;
  for (let p = 0; p < 1024; p++) {
    const o = outOffset + p * 3;
    const m = p * 3;
    out[o] = (src[base + p]! - offset[m]!) * scale;
    out[o + 1] = (src[base + 1024 + p]! - offset[m + 1]!) * scale;
    out[o + 2] = (src[base + 2048 + p]! - offset[m + 2]!) * scale;
  }
}
