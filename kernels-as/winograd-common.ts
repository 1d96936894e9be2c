// What F(2x2, 3x3) (winograd2.ts) and F(4x4, 3x3) (winograd4.ts) share: where an output tile lies
// (tileOut), the padding between transformed matrices (WINOGRAD_PAD), and the filter gradient's
// per-tile products summed over tiles (addProducts). Not exported from the wasm module.

import { madd } from './simd';

/**
 * Byte offset of output tile g's top-left pixel in a tensor [n*ho, wo, co] (rows yRow bytes, pixels
 * oRow bytes) cut into size x size tiles: nt tiles across, th tile rows per image, tile g in row g / nt.
 */
@inline
export function tileOut(g: i32, nt: i32, th: i32, ho: i32, size: i32, yRow: usize, oRow: usize): usize {
  const tr = g / nt;
  const img = tr / th;
  const ti = tr - img * th;
  const tj = g - tr * nt;
  return <usize>(img * ho + size * ti) * yRow + <usize>(size * tj) * oRow;
}

/**
 * Bytes added after each of a block's transformed matrices. Without it, 64 tiles of 16 channels put
 * them exactly 4 KiB apart, and the streams a transform reads or writes fall into the same cache sets.
 */
export const WINOGRAD_PAD: usize = 64;

/**
 * uK [ci, co] += vK^T wK over b tiles (vK [b, ci] and wK [b, co] rows ci and co floats apart): 4
 * input x 8 output channels in registers over the tiles (filterGradTaps' inner step, see there).
 */
export function addProducts(vK: usize, wK: usize, uK: usize, ci: i32, co: i32, b: i32): void {
  const px = <usize>ci << 2;
  const oRow = <usize>co << 2;
  for (let cb = 0; cb < ci; cb += 4) {
    for (let ob = 0; ob < co; ob += 8) {
      let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
      let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
      let a = vK + (<usize>cb << 2);
      let bq = wK + (<usize>ob << 2);
      for (let t = 0; t < b; t++) {
        const d0 = v128.load(bq);
        const d1 = v128.load(bq, 16);
        let s = v128.load32_splat(a);
        a00 = madd(s, d0, a00);
        a01 = madd(s, d1, a01);
        s = v128.load32_splat(a + 4);
        a10 = madd(s, d0, a10);
        a11 = madd(s, d1, a11);
        s = v128.load32_splat(a + 8);
        a20 = madd(s, d0, a20);
        a21 = madd(s, d1, a21);
        s = v128.load32_splat(a + 12);
        a30 = madd(s, d0, a30);
        a31 = madd(s, d1, a31);
        a += px;
        bq += oRow;
      }
      const o = uK + (<usize>(cb * co + ob) << 2);
      v128.store(o, f32x4.add(v128.load(o), a00));
      v128.store(o, f32x4.add(v128.load(o, 16), a01), 16);
      v128.store(o + oRow, f32x4.add(v128.load(o + oRow), a10));
      v128.store(o + oRow, f32x4.add(v128.load(o + oRow, 16), a11), 16);
      v128.store(o + 2 * oRow, f32x4.add(v128.load(o + 2 * oRow), a20));
      v128.store(o + 2 * oRow, f32x4.add(v128.load(o + 2 * oRow, 16), a21), 16);
      v128.store(o + 3 * oRow, f32x4.add(v128.load(o + 3 * oRow), a30));
      v128.store(o + 3 * oRow, f32x4.add(v128.load(o + 3 * oRow, 16), a31), 16);
    }
  }
}
