// The direct filter gradient (filterGradTaps): dW of a convolution of any stride, tap by tap, from x
// framed channels-first (framing.ts: frameChannelsFirst, framePhases) and dy as tfjs keeps it.
// Not the Winograd filter gradients (winograd2.ts, winograd4.ts).

import { madd } from './simd';

/** Bytes of operands one block of rows should take: about one core's L1 data cache. */
const TAP_BLOCK_BYTES: i32 = 32768;

/**
 * The filter gradient of a convolution from x framed channels-first (frameChannelsFirst or
 * framePhases: channel ch's grid of n*r*c floats starts at float ch*plane) and dy [rows, wo, co] with
 * rows = n*ho, dy's row (img, i) being grid row img*r + i:
 *   out[t, ch, o] = sum over dy rows q in [r0, r1) and j < wo of
 *                   xf[taps[t] + ch*plane + (img*r + i)*c + j] * dy[q, j, o],
 * taps[t] (int32s) being tap t's float offset into the frame (the same as the matrix-product path's
 * offsets). Written in place of out [ntaps, ci, co]; ci a multiple of 4, co of 8. dy's padding grid
 * positions are never read: they are zeros and add nothing.
 *
 * Each block of rows (sized to stay in L1 across the taps) is summed from zero in registers, a tile
 * of 4 input channels x 8 output channels (8 accumulators: the 16 xmm registers leave room for two
 * dy vectors and a broadcast x), then added to out; each x value is broadcast once per tile and row
 * pixel, dy's 8 values loaded as two vectors.
 */
export function filterGradTaps(
  xf: usize, plane: i32, taps: usize, ntaps: i32, dy: usize, ho: i32, wo: i32, r: i32, c: i32,
  ci: i32, co: i32, r0: i32, r1: i32, out: usize,
): void {
  memory.fill(out, 0, <usize>(ntaps * ci * co) << 2);
  const ps = <usize>plane << 2;
  const dyRow = <usize>(wo * co) << 2;
  const dyPix = <usize>co << 2;
  const oc = <usize>co << 2;
  const block = max(1, TAP_BLOCK_BYTES / (wo * (ci + co) * 4));
  for (let b0 = r0; b0 < r1; b0 += block) {
    const b1 = min(b0 + block, r1);
    const img0 = b0 / ho;
    const i0 = b0 - img0 * ho;
    for (let t = 0; t < ntaps; t++) {
      const tapBase = xf + (<usize>load<i32>(taps + (<usize>t << 2)) << 2);
      const tapOut = out + (<usize>(t * ci * co) << 2);
      for (let cb = 0; cb < ci; cb += 4) {
        const chanBase = tapBase + <usize>cb * ps;
        for (let ob = 0; ob < co; ob += 8) {
          let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
          let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
          let img = img0;
          let i = i0;
          for (let q = b0; q < b1; q++) {
            let a = chanBase + (<usize>((img * r + i) * c) << 2);
            let b = dy + <usize>q * dyRow + (<usize>ob << 2);
            for (let j = 0; j < wo; j++) {
              const d0 = v128.load(b);
              const d1 = v128.load(b, 16);
              let s = v128.load32_splat(a);
              a00 = madd(s, d0, a00);
              a01 = madd(s, d1, a01);
              s = v128.load32_splat(a + ps);
              a10 = madd(s, d0, a10);
              a11 = madd(s, d1, a11);
              s = v128.load32_splat(a + 2 * ps);
              a20 = madd(s, d0, a20);
              a21 = madd(s, d1, a21);
              s = v128.load32_splat(a + 3 * ps);
              a30 = madd(s, d0, a30);
              a31 = madd(s, d1, a31);
              a += 4;
              b += dyPix;
            }
            if (++i == ho) {
              i = 0;
              img++;
            }
          }
          const o = tapOut + (<usize>(cb * co + ob) << 2);
          v128.store(o, f32x4.add(v128.load(o), a00));
          v128.store(o, f32x4.add(v128.load(o, 16), a01), 16);
          v128.store(o + oc, f32x4.add(v128.load(o + oc), a10));
          v128.store(o + oc, f32x4.add(v128.load(o + oc, 16), a11), 16);
          v128.store(o + 2 * oc, f32x4.add(v128.load(o + 2 * oc), a20));
          v128.store(o + 2 * oc, f32x4.add(v128.load(o + 2 * oc, 16), a21), 16);
          v128.store(o + 3 * oc, f32x4.add(v128.load(o + 3 * oc), a30));
          v128.store(o + 3 * oc, f32x4.add(v128.load(o + 3 * oc, 16), a31), 16);
        }
      }
    }
  }
}
