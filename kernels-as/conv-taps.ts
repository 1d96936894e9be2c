// The direct convolution (convTaps), tap by tap from x framed channels-last (framing.ts:
// frameChannelsLast): the forward pass and the input gradient (a convolution with the rotated filter)
// of any kernel size and stride. The Winograd kernels use it for their per-tile matrix products.
// Not the filter gradient (filter-grad-taps.ts).

import { madd } from './simd';

/**
 * A convolution with stride s from x's channels-last frame (frameChannelsLast): for the output rows q
 * in [r0, r1) of n*ho (row (img, i) reading from grid row img*r + s*i, pixel j from grid column s*j),
 *   y[q, j, o] = sum over taps t and channels ch of xp[(grid pixel of (q, j) + taps[t])*ci + ch] * w[t, ch, o],
 * taps[t] (int32s) being tap t's pixel offset (kh*c + kw for a plain kernel), w [ntaps, ci, co] and y
 * [n*ho, wo, co] dense. co a multiple of 8. masks, where not 0: an int32 per 8 output channels whose
 * bit t is clear where tap t's weights for those channels are all zero, so that tap is skipped (the
 * strided input gradient's phase-regrouped filter: of its 2x2 taps x 4 phases, 9 are real).
 *
 * Output-stationary: a tile of 4 pixels x 8 output channels is summed in registers (8 accumulators)
 * over every tap and input channel, then stored; per input channel, the tile's 8 weights are two
 * vector loads and each pixel's x value one broadcast. Pixels past a row's last multiple of 4 take a
 * tile of 1 pixel. The inner step is filterGradTaps' written out again on purpose: an AssemblyScript
 * function cannot hand eight v128 accumulators back to its caller except through memory, which would
 * cost 16 loads and stores per call of 8 to 64 steps.
 */
export function convTaps(
  xp: usize, taps: usize, ntaps: i32, w: usize, ci: i32, co: i32, ho: i32, wo: i32, r: i32, c: i32, s: i32,
  masks: usize, r0: i32, r1: i32, y: usize,
): void {
  const tapBytes = <usize>ci * (<usize>co << 2);
  const px = <usize>ci << 2;
  const step = <usize>s * px; // from one output pixel's input to the next's
  const wRow = <usize>co << 2;
  const wo4 = wo & ~3;
  let img = r0 / ho;
  let i = r0 - img * ho;
  for (let q = r0; q < r1; q++) {
    const gridRow = <usize>((img * r + s * i) * c);
    const yRow = y + <usize>q * <usize>wo * wRow;
    for (let j = 0; j < wo4; j += 4) {
      const pix = xp + (gridRow + <usize>(s * j)) * px;
      for (let ob = 0; ob < co; ob += 8) {
        let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
        let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
        let wb = w + (<usize>ob << 2);
        const mask = masks != 0 ? load<i32>(masks + (<usize>(ob >> 3) << 2)) : -1;
        for (let t = 0; t < ntaps; t++) {
          if ((mask & (1 << t)) == 0) {
            wb += tapBytes; // a tap whose weights for these 8 channels are all zero
            continue;
          }
          let a = pix + <usize>load<i32>(taps + (<usize>t << 2)) * px;
          for (let ch = 0; ch < ci; ch++) {
            const w0 = v128.load(wb);
            const w1 = v128.load(wb, 16);
            let v = v128.load32_splat(a);
            a00 = madd(v, w0, a00);
            a01 = madd(v, w1, a01);
            v = v128.load32_splat(a + step);
            a10 = madd(v, w0, a10);
            a11 = madd(v, w1, a11);
            v = v128.load32_splat(a + 2 * step);
            a20 = madd(v, w0, a20);
            a21 = madd(v, w1, a21);
            v = v128.load32_splat(a + 3 * step);
            a30 = madd(v, w0, a30);
            a31 = madd(v, w1, a31);
            a += 4;
            wb += wRow;
          }
        }
        const o = yRow + <usize>j * wRow + (<usize>ob << 2);
        v128.store(o, a00);
        v128.store(o, a01, 16);
        v128.store(o + wRow, a10);
        v128.store(o + wRow, a11, 16);
        v128.store(o + 2 * wRow, a20);
        v128.store(o + 2 * wRow, a21, 16);
        v128.store(o + 3 * wRow, a30);
        v128.store(o + 3 * wRow, a31, 16);
      }
    }
    for (let j = wo4; j < wo; j++) {
      const pix = xp + (gridRow + <usize>(s * j)) * px;
      for (let ob = 0; ob < co; ob += 8) {
        let a00 = f32x4.splat(0), a01 = f32x4.splat(0);
        let wb = w + (<usize>ob << 2);
        const mask = masks != 0 ? load<i32>(masks + (<usize>(ob >> 3) << 2)) : -1;
        for (let t = 0; t < ntaps; t++) {
          if ((mask & (1 << t)) == 0) {
            wb += tapBytes;
            continue;
          }
          let a = pix + <usize>load<i32>(taps + (<usize>t << 2)) * px;
          for (let ch = 0; ch < ci; ch++) {
            const v = v128.load32_splat(a);
            a00 = madd(v, v128.load(wb), a00);
            a01 = madd(v, v128.load(wb, 16), a01);
            a += 4;
            wb += wRow;
          }
        }
        const o = yRow + <usize>j * wRow + (<usize>ob << 2);
        v128.store(o, a00);
        v128.store(o, a01, 16);
      }
    }
    if (++i == ho) {
      i = 0;
      img++;
    }
  }
}

