// Training-time augmentation, fused with normalisation so each output float is written once:
// translate by (dx, dy) in [-4, 4] with a protocol's fill, then maybe mirror. All three protocols are
// one formula (docs/protocols.md §3.6): with S the image extended past its 32x32 border by the fill,
// out(y, x) = S(y - dy, x' - dx), x' = flip ? 31 - x : x.
//   'pad-crop' (paper) and 'shift' (gcr): the fill is 0 after normalisation (the mean pixel).
//   'neon-pad-crop' (neon): the 40x40 numpy mean padding, each mean rounded half to even; the crop's
//       corner in [0, 8] x [0, 8]; test images use the centre crop, the original image.
//   'none': no translation (flip still applies if the protocol asks for it).
// Padded pixels are normalised with the normaliser's offset at the nearest in-image position (exact
// for neon's channel-mean offset). Not here: the statistics (preprocess.ts), batching (batches.ts).

import type { Rng } from '../util/rng.ts';
import type { CifarSplit } from './cifar.ts';
import type { DataProtocol } from '../experiment/protocols.ts';
import type { Normalizer } from './preprocess.ts';

export const MAX_SHIFT = 4;

export interface AugmentParams {
  dx: number; // -4..4, positive moves the content right
  dy: number; // -4..4, positive moves the content down
  flip: boolean;
}

export const NO_AUGMENT: Readonly<AugmentParams> = { dx: 0, dy: 0, flip: false };

/** Draws one image's augmentation: dy, then dx (uniform in [-4, 4]), then the flip (p = 0.5). */
export function drawAugment(protocol: DataProtocol, rng: Rng, out: AugmentParams = { dx: 0, dy: 0, flip: false }): AugmentParams {
  if (protocol.augment === 'none') {
    out.dx = 0;
    out.dy = 0;
  } else {
    out.dy = rng.nextInt(2 * MAX_SHIFT + 1) - MAX_SHIFT;
    out.dx = rng.nextInt(2 * MAX_SHIFT + 1) - MAX_SHIFT;
  }
  out.flip = protocol.flip && rng.nextFloat() < 0.5;
  return out;
}

/** Mean of integers, rounded half-to-even as numpy's ndarray.round does. */
function roundMean(sum: number, count: number): number {
  const q = Math.floor(sum / count);
  const r = sum - q * count;
  if (2 * r > count) return q + 1;
  if (2 * r < count) return q;
  return q % 2 === 0 ? q : q + 1;
}

/**
 * neon's pad values for one planar image: colMean[c*32 + x] (the rows above and below),
 * rowMean[c*32 + y] (the columns left and right), corner[c]; each an integer 0..255.
 */
export interface NeonPad {
  colMean: Uint8Array; // 96
  rowMean: Uint8Array; // 96
  corner: Uint8Array; // 3
}

export function newNeonPad(): NeonPad {
  return { colMean: new Uint8Array(96), rowMean: new Uint8Array(96), corner: new Uint8Array(3) };
}

/** Mean of 32 integers, rounded half-to-even: roundMean(sum, 32) without a division. */
function roundMean32(sum: number): number {
  const q = sum >> 5;
  const r = sum & 31;
  return r > 16 || (r === 16 && (q & 1) === 1) ? q + 1 : q;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const EVEN = new Int32Array(8); // scratch; the function below is synchronous
const ODD = new Int32Array(8);

/**
 * Computes neon's np.pad(mode='mean') values for image `index` (planar bytes) into `pad`. Reads the
 * image four bytes at a time: each 32-bit word's even and odd bytes are added as two 16-bit lanes
 * (w & 0x00ff00ff and (w >>> 8) & 0x00ff00ff), so 8 words give a row's sum and 8 lane accumulators
 * the 32 column sums; no lane can overflow (32 rows x 255 = 8,160 < 65,536). Exact integer sums, as
 * computeNeonPadBytes' one byte at a time (the fallback for a big-endian engine or an unaligned view).
 */
export function computeNeonPad(images: Uint8Array, index: number, pad: NeonPad = newNeonPad()): NeonPad {
  const base = images.byteOffset + index * 3072;
  if (!LITTLE_ENDIAN || base % 4 !== 0) return computeNeonPadBytes(images, index, pad);
  const words = new Uint32Array(images.buffer, base, 768);
  for (let c = 0; c < 3; c++) {
    EVEN.fill(0);
    ODD.fill(0);
    for (let y = 0; y < 32; y++) {
      const row = c * 256 + y * 8;
      let t = 0;
      for (let k = 0; k < 8; k++) {
        const w = words[row + k]!;
        const e = w & 0x00ff00ff;
        const o = (w >>> 8) & 0x00ff00ff;
        EVEN[k] += e;
        ODD[k] += o;
        t += e + o;
      }
      pad.rowMean[c * 32 + y] = roundMean32((t & 0xffff) + (t >>> 16));
    }
    let colSum = 0;
    for (let k = 0; k < 8; k++) {
      // Word k holds columns 4k..4k+3, byte 0 the first (little-endian).
      const e = EVEN[k]!;
      const o = ODD[k]!;
      const m0 = roundMean32(e & 0xffff);
      const m1 = roundMean32(o & 0xffff);
      const m2 = roundMean32(e >>> 16);
      const m3 = roundMean32(o >>> 16);
      const at = c * 32 + 4 * k;
      pad.colMean[at] = m0;
      pad.colMean[at + 1] = m1;
      pad.colMean[at + 2] = m2;
      pad.colMean[at + 3] = m3;
      colSum += m0 + m1 + m2 + m3;
    }
    pad.corner[c] = roundMean32(colSum);
  }
  return pad;
}

const COL_SUMS = new Int32Array(32); // scratch; the function below is synchronous

/** computeNeonPad one byte at a time: the plain form of the same sums. */
export function computeNeonPadBytes(images: Uint8Array, index: number, pad: NeonPad = newNeonPad()): NeonPad {
  const base = index * 3072;
  const colSums = COL_SUMS;
  for (let c = 0; c < 3; c++) {
    const plane = base + c * 1024;
    colSums.fill(0);
    for (let y = 0; y < 32; y++) {
      let s = 0;
      const row = plane + y * 32;
      for (let x = 0; x < 32; x++) {
        const v = images[row + x]!;
        s += v;
        colSums[x] += v;
      }
      pad.rowMean[c * 32 + y] = roundMean(s, 32);
    }
    let colSum = 0;
    for (let x = 0; x < 32; x++) {
      const m = roundMean(colSums[x]!, 32);
      pad.colMean[c * 32 + x] = m;
      colSum += m;
    }
    pad.corner[c] = roundMean(colSum, 32);
  }
  return pad;
}

/**
 * The whole 40x40 padded uint8 image neon wrote to its PNGs, planar [3][40][40]. For tests and
 * pictures; training uses computeNeonPad + augmentImage, which never builds it.
 */
export function neonPadImage(images: Uint8Array, index: number): Uint8Array {
  const pad = computeNeonPad(images, index);
  const out = new Uint8Array(3 * 40 * 40);
  for (let c = 0; c < 3; c++) {
    for (let py = 0; py < 40; py++) {
      for (let px = 0; px < 40; px++) {
        const y = py - 4;
        const x = px - 4;
        const yIn = y >= 0 && y < 32;
        const xIn = x >= 0 && x < 32;
        out[c * 1600 + py * 40 + px] =
          yIn && xIn
            ? images[index * 3072 + c * 1024 + y * 32 + x]!
            : xIn
              ? pad.colMean[c * 32 + x]!
              : yIn
                ? pad.rowMean[c * 32 + y]!
                : pad.corner[c]!;
      }
    }
  }
  return out;
}

/** Reusable per-sampler scratch space. */
export interface AugmentScratch {
  neonPad: NeonPad;
}
export function newAugmentScratch(): AugmentScratch {
  return { neonPad: newNeonPad() };
}

/**
 * Writes image `index` of `split`, translated, maybe mirrored and normalised, into `out` at
 * `outOffset` as [32, 32, 3] floats (HWC). `fill` chooses what lies beyond the border:
 * 'zero' = 0 after normalisation (paper, gcr), 'neon-mean' = neon's row/column means.
 */
export function augmentImage(
  split: CifarSplit,
  index: number,
  norm: Normalizer,
  aug: Readonly<AugmentParams>,
  fill: 'zero' | 'neon-mean',
  out: Float32Array,
  outOffset: number,
  scratch: AugmentScratch,
): void {
  const src = split.images;
  const base = index * 3072;
  const { offset, scale } = norm;
  const { dx, dy, flip } = aug;
  const neon = fill === 'neon-mean';
  let pad: NeonPad | undefined;
  if (neon && (dx !== 0 || dy !== 0)) pad = computeNeonPad(src, index, scratch.neonPad);

  for (let y = 0; y < 32; y++) {
    const sy = y - dy;
    const rowOut = outOffset + y * 96;
    const yIn = sy >= 0 && sy < 32;
    if (!yIn && !pad) {
      out.fill(0, rowOut, rowOut + 96);
      continue;
    }
    const cy = sy < 0 ? 0 : sy > 31 ? 31 : sy; // clamped, for the offset of padded pixels
    for (let x = 0; x < 32; x++) {
      const sx = (flip ? 31 - x : x) - dx;
      const o = rowOut + x * 3;
      if (yIn && sx >= 0 && sx < 32) {
        const p = sy * 32 + sx;
        const m = p * 3;
        out[o] = (src[base + p]! - offset[m]!) * scale;
        out[o + 1] = (src[base + 1024 + p]! - offset[m + 1]!) * scale;
        out[o + 2] = (src[base + 2048 + p]! - offset[m + 2]!) * scale;
      } else if (!pad) {
        out[o] = 0;
        out[o + 1] = 0;
        out[o + 2] = 0;
      } else {
        const cx = sx < 0 ? 0 : sx > 31 ? 31 : sx;
        const m = (cy * 32 + cx) * 3;
        for (let c = 0; c < 3; c++) {
          const v = yIn ? pad.rowMean[c * 32 + sy]! : sx >= 0 && sx < 32 ? pad.colMean[c * 32 + sx]! : pad.corner[c]!;
          out[o + c] = (v - offset[m + c]!) * scale;
        }
      }
    }
  }
}

/** The fill a protocol's augmentation uses. */
export function fillFor(augment: DataProtocol['augment']): 'zero' | 'neon-mean' {
  return augment === 'neon-pad-crop' ? 'neon-mean' : 'zero';
}
