// The stride-1 3x3 convolution and its filter gradient by Winograd's F(4x4, 3x3) (Lavin & Gray 2016):
// winogradFilter4, convWinograd4, filterGradWinograd4 and winogradFilterGrad4, winograd2.ts's
// counterparts with 6x6 input patches. x is (n, h, w, ci) as tfjs keeps it; ho and wo multiples of 4.
// 36 products per 4x4 tile and channel pair (F(2x2, 3x3): 64, convTaps: 144), and 36 transformed
// values per 16 output pixels instead of 64; coefficients up to 5, 8 and 1/24 cost some rounding
// (tested against tfjs-cpu). Interpolation points 0, 1, -1, 2, -2 and infinity:
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1],
//   G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1],
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
// Not F(2x2, 3x3) (winograd2.ts) nor the direct kernels (conv-taps.ts).

import { convTaps } from './conv-taps';
import { madd } from './simd';
import { WINOGRAD_PAD, addProducts, tileOut } from './winograd-common';


/** Stores G (a, b, c): a/4, -(a+b+c)/6, -(a-b+c)/6, (a/4+b/2+c)/6, (a/4-b/2+c)/6, c at p + k*n. */
@inline
function filterCol6(a: v128, b: v128, c: v128, p: usize, n: usize): void {
  const q = f32x4.mul(a, f32x4.splat(0.25));
  const h = f32x4.mul(b, f32x4.splat(0.5));
  const sixth = f32x4.splat(<f32>(1.0 / 6.0));
  const ac = f32x4.add(a, c);
  const qc = f32x4.add(q, c);
  v128.store(p, q);
  v128.store(p + n, f32x4.mul(f32x4.add(ac, b), f32x4.neg(sixth)));
  v128.store(p + 2 * n, f32x4.mul(f32x4.sub(ac, b), f32x4.neg(sixth)));
  v128.store(p + 3 * n, f32x4.mul(f32x4.add(qc, h), sixth));
  v128.store(p + 4 * n, f32x4.mul(f32x4.sub(qc, h), sixth));
  v128.store(p + 5 * n, c);
}

/**
 * The filter w [3, 3, ci, co] in F(4x4, 3x3) form: u [36, ci, co], u[6i + j] = (G g G^T)[i][j] for
 * every (ch, o), through tmp (18 vectors of scratch: G g). ci * co a multiple of 4.
 */
export function winogradFilter4(w: usize, ci: i32, co: i32, u: usize, tmp: usize): void {
  const n = <usize>(ci * co) << 2;
  for (let off: usize = 0; off < n; off += 16) {
    const p = w + off;
    // G g, column by column: tmp[3i + col].
    for (let col: usize = 0; col < 3; col++) {
      filterCol6(v128.load(p + col * n), v128.load(p + (3 + col) * n), v128.load(p + (6 + col) * n), tmp + (col << 4), 48);
    }
    // Each row of G g times G^T.
    for (let i: usize = 0; i < 6; i++) {
      const r = tmp + i * 48;
      filterCol6(v128.load(r), v128.load(r, 16), v128.load(r, 32), u + off + 6 * i * n, n);
    }
  }
}

/** Stores B^T (d0 .. d5) at p + k*n (see above). */
@inline
function inputCol6(d0: v128, d1: v128, d2: v128, d3: v128, d4: v128, d5: v128, p: usize, n: usize): void {
  const four = f32x4.splat(4), five = f32x4.splat(-5), two = f32x4.splat(2);
  const s12 = f32x4.add(d1, d2), d12 = f32x4.sub(d1, d2);
  const d31 = f32x4.sub(d3, d1), d42 = f32x4.sub(d4, d2);
  v128.store(p, madd(four, d0, madd(five, d2, d4)));
  v128.store(p + n, madd(f32x4.neg(four), s12, f32x4.add(d3, d4)));
  v128.store(p + 2 * n, madd(four, d12, f32x4.sub(d4, d3)));
  v128.store(p + 3 * n, madd(two, d31, d42));
  v128.store(p + 4 * n, madd(f32x4.neg(two), d31, d42));
  v128.store(p + 5 * n, madd(four, d1, madd(five, d3, d5)));
}

/** Rows 0 and 5 of B^T d (d's rows at r0 .. r5, columns px bytes apart), each times B, at out0 and out5 (V[k] vk bytes apart). */
@inline
function inputRows05(r0: usize, r1: usize, r2: usize, r3: usize, r4: usize, r5: usize, px: usize, out0: usize, out5: usize, vk: usize): void {
  const zero = f32x4.splat(0), four = f32x4.splat(4), five = f32x4.splat(-5), two = f32x4.splat(2);
  let t0_0 = zero, t0_1 = zero, t0_2 = zero, t0_3 = zero, t0_4 = zero, t0_5 = zero;
  let t5_0 = zero, t5_1 = zero, t5_2 = zero, t5_3 = zero, t5_4 = zero, t5_5 = zero;
  {
    const a0 = v128.load(r0), a1 = v128.load(r1), a2 = v128.load(r2), a3 = v128.load(r3), a4 = v128.load(r4), a5 = v128.load(r5);
    t0_0 = madd(four, a0, madd(five, a2, a4));
    t5_0 = madd(four, a1, madd(five, a3, a5));
  }
  {
    const a0 = v128.load(r0 + 1 * px), a1 = v128.load(r1 + 1 * px), a2 = v128.load(r2 + 1 * px), a3 = v128.load(r3 + 1 * px), a4 = v128.load(r4 + 1 * px), a5 = v128.load(r5 + 1 * px);
    t0_1 = madd(four, a0, madd(five, a2, a4));
    t5_1 = madd(four, a1, madd(five, a3, a5));
  }
  {
    const a0 = v128.load(r0 + 2 * px), a1 = v128.load(r1 + 2 * px), a2 = v128.load(r2 + 2 * px), a3 = v128.load(r3 + 2 * px), a4 = v128.load(r4 + 2 * px), a5 = v128.load(r5 + 2 * px);
    t0_2 = madd(four, a0, madd(five, a2, a4));
    t5_2 = madd(four, a1, madd(five, a3, a5));
  }
  {
    const a0 = v128.load(r0 + 3 * px), a1 = v128.load(r1 + 3 * px), a2 = v128.load(r2 + 3 * px), a3 = v128.load(r3 + 3 * px), a4 = v128.load(r4 + 3 * px), a5 = v128.load(r5 + 3 * px);
    t0_3 = madd(four, a0, madd(five, a2, a4));
    t5_3 = madd(four, a1, madd(five, a3, a5));
  }
  {
    const a0 = v128.load(r0 + 4 * px), a1 = v128.load(r1 + 4 * px), a2 = v128.load(r2 + 4 * px), a3 = v128.load(r3 + 4 * px), a4 = v128.load(r4 + 4 * px), a5 = v128.load(r5 + 4 * px);
    t0_4 = madd(four, a0, madd(five, a2, a4));
    t5_4 = madd(four, a1, madd(five, a3, a5));
  }
  {
    const a0 = v128.load(r0 + 5 * px), a1 = v128.load(r1 + 5 * px), a2 = v128.load(r2 + 5 * px), a3 = v128.load(r3 + 5 * px), a4 = v128.load(r4 + 5 * px), a5 = v128.load(r5 + 5 * px);
    t0_5 = madd(four, a0, madd(five, a2, a4));
    t5_5 = madd(four, a1, madd(five, a3, a5));
  }
  inputCol6(t0_0, t0_1, t0_2, t0_3, t0_4, t0_5, out0, vk);
  inputCol6(t5_0, t5_1, t5_2, t5_3, t5_4, t5_5, out5, vk);
}

/** Rows 1 and 2 of B^T d, each times B (as inputRows05). */
@inline
function inputRows12(r1: usize, r2: usize, r3: usize, r4: usize, px: usize, out1: usize, out2: usize, vk: usize): void {
  const zero = f32x4.splat(0), four = f32x4.splat(4), five = f32x4.splat(-5), two = f32x4.splat(2);
  let t1_0 = zero, t1_1 = zero, t1_2 = zero, t1_3 = zero, t1_4 = zero, t1_5 = zero;
  let t2_0 = zero, t2_1 = zero, t2_2 = zero, t2_3 = zero, t2_4 = zero, t2_5 = zero;
  {
    const a1 = v128.load(r1), a2 = v128.load(r2), a3 = v128.load(r3), a4 = v128.load(r4);
    t1_0 = madd(f32x4.neg(four), f32x4.add(a1, a2), f32x4.add(a3, a4));
    t2_0 = madd(four, f32x4.sub(a1, a2), f32x4.sub(a4, a3));
  }
  {
    const a1 = v128.load(r1 + 1 * px), a2 = v128.load(r2 + 1 * px), a3 = v128.load(r3 + 1 * px), a4 = v128.load(r4 + 1 * px);
    t1_1 = madd(f32x4.neg(four), f32x4.add(a1, a2), f32x4.add(a3, a4));
    t2_1 = madd(four, f32x4.sub(a1, a2), f32x4.sub(a4, a3));
  }
  {
    const a1 = v128.load(r1 + 2 * px), a2 = v128.load(r2 + 2 * px), a3 = v128.load(r3 + 2 * px), a4 = v128.load(r4 + 2 * px);
    t1_2 = madd(f32x4.neg(four), f32x4.add(a1, a2), f32x4.add(a3, a4));
    t2_2 = madd(four, f32x4.sub(a1, a2), f32x4.sub(a4, a3));
  }
  {
    const a1 = v128.load(r1 + 3 * px), a2 = v128.load(r2 + 3 * px), a3 = v128.load(r3 + 3 * px), a4 = v128.load(r4 + 3 * px);
    t1_3 = madd(f32x4.neg(four), f32x4.add(a1, a2), f32x4.add(a3, a4));
    t2_3 = madd(four, f32x4.sub(a1, a2), f32x4.sub(a4, a3));
  }
  {
    const a1 = v128.load(r1 + 4 * px), a2 = v128.load(r2 + 4 * px), a3 = v128.load(r3 + 4 * px), a4 = v128.load(r4 + 4 * px);
    t1_4 = madd(f32x4.neg(four), f32x4.add(a1, a2), f32x4.add(a3, a4));
    t2_4 = madd(four, f32x4.sub(a1, a2), f32x4.sub(a4, a3));
  }
  {
    const a1 = v128.load(r1 + 5 * px), a2 = v128.load(r2 + 5 * px), a3 = v128.load(r3 + 5 * px), a4 = v128.load(r4 + 5 * px);
    t1_5 = madd(f32x4.neg(four), f32x4.add(a1, a2), f32x4.add(a3, a4));
    t2_5 = madd(four, f32x4.sub(a1, a2), f32x4.sub(a4, a3));
  }
  inputCol6(t1_0, t1_1, t1_2, t1_3, t1_4, t1_5, out1, vk);
  inputCol6(t2_0, t2_1, t2_2, t2_3, t2_4, t2_5, out2, vk);
}

/** Rows 3 and 4 of B^T d, each times B (as inputRows05). */
@inline
function inputRows34(r1: usize, r2: usize, r3: usize, r4: usize, px: usize, out3: usize, out4: usize, vk: usize): void {
  const zero = f32x4.splat(0), four = f32x4.splat(4), five = f32x4.splat(-5), two = f32x4.splat(2);
  let t3_0 = zero, t3_1 = zero, t3_2 = zero, t3_3 = zero, t3_4 = zero, t3_5 = zero;
  let t4_0 = zero, t4_1 = zero, t4_2 = zero, t4_3 = zero, t4_4 = zero, t4_5 = zero;
  {
    const a1 = v128.load(r1), a2 = v128.load(r2), a3 = v128.load(r3), a4 = v128.load(r4);
    t3_0 = madd(two, f32x4.sub(a3, a1), f32x4.sub(a4, a2));
    t4_0 = madd(f32x4.neg(two), f32x4.sub(a3, a1), f32x4.sub(a4, a2));
  }
  {
    const a1 = v128.load(r1 + 1 * px), a2 = v128.load(r2 + 1 * px), a3 = v128.load(r3 + 1 * px), a4 = v128.load(r4 + 1 * px);
    t3_1 = madd(two, f32x4.sub(a3, a1), f32x4.sub(a4, a2));
    t4_1 = madd(f32x4.neg(two), f32x4.sub(a3, a1), f32x4.sub(a4, a2));
  }
  {
    const a1 = v128.load(r1 + 2 * px), a2 = v128.load(r2 + 2 * px), a3 = v128.load(r3 + 2 * px), a4 = v128.load(r4 + 2 * px);
    t3_2 = madd(two, f32x4.sub(a3, a1), f32x4.sub(a4, a2));
    t4_2 = madd(f32x4.neg(two), f32x4.sub(a3, a1), f32x4.sub(a4, a2));
  }
  {
    const a1 = v128.load(r1 + 3 * px), a2 = v128.load(r2 + 3 * px), a3 = v128.load(r3 + 3 * px), a4 = v128.load(r4 + 3 * px);
    t3_3 = madd(two, f32x4.sub(a3, a1), f32x4.sub(a4, a2));
    t4_3 = madd(f32x4.neg(two), f32x4.sub(a3, a1), f32x4.sub(a4, a2));
  }
  {
    const a1 = v128.load(r1 + 4 * px), a2 = v128.load(r2 + 4 * px), a3 = v128.load(r3 + 4 * px), a4 = v128.load(r4 + 4 * px);
    t3_4 = madd(two, f32x4.sub(a3, a1), f32x4.sub(a4, a2));
    t4_4 = madd(f32x4.neg(two), f32x4.sub(a3, a1), f32x4.sub(a4, a2));
  }
  {
    const a1 = v128.load(r1 + 5 * px), a2 = v128.load(r2 + 5 * px), a3 = v128.load(r3 + 5 * px), a4 = v128.load(r4 + 5 * px);
    t3_5 = madd(two, f32x4.sub(a3, a1), f32x4.sub(a4, a2));
    t4_5 = madd(f32x4.neg(two), f32x4.sub(a3, a1), f32x4.sub(a4, a2));
  }
  inputCol6(t3_0, t3_1, t3_2, t3_3, t3_4, t3_5, out3, vk);
  inputCol6(t4_0, t4_1, t4_2, t4_3, t4_4, t4_5, out4, vk);
}

/**
 * V = B^T d B for the tiles g0 .. g0+b-1 (tile g: tile row g / (wo/4), that is image and group of 4
 * output rows, and tile column g % (wo/4)), read from x [n, h, w, ci] itself: tile (ti, tj)'s patch
 * is x's rows 4ti - pt .. +5 and columns 4tj - pl .. +5, zero outside the image (a pointer to ci zero
 * floats). V[k] [b, ci] at v + k*vk. ptrs: 36 int32s, tmp: 36 vectors of scratch.
 */
function winogradInput4(
  x: usize, ci: i32, h: i32, w: i32, pt: i32, pl: i32, ho: i32, wo: i32, g0: i32, b: i32, v: usize, vk: usize, zero: usize,
  ptrs: usize, tmp: usize,
): void {
  const nt = wo >> 2;
  const th = ho >> 2;
  const px = <usize>ci << 2;
  for (let t = 0; t < b; t++) {
    const g = g0 + t;
    const tr = g / nt;
    const img = tr / th;
    const ti = tr - img * th;
    const tj = g - tr * nt;
    const i0 = 4 * ti - pt;
    const j0 = 4 * tj - pl;
    const base = x + <usize>(img * h) * <usize>w * px;
    const vt = v + <usize>t * px;
    if (i0 >= 0 && i0 + 6 <= h && j0 >= 0 && j0 + 6 <= w) {
      // A tile inside the image: B^T d row by row straight from x (its rows from the six of d that
      // they combine), each times B into V, with no pointer table or scratch; the same arithmetic,
      // so the same numbers, as the general path below.
      const r0 = base + <usize>(i0 * w + j0) * px;
      const rs = <usize>w * px;
      for (let ch: usize = 0; ch < px; ch += 16) {
        const a0 = r0 + ch, a1 = a0 + rs, a2 = a1 + rs, a3 = a2 + rs, a4 = a3 + rs, a5 = a4 + rs;
        const o = vt + ch;
        inputRows05(a0, a1, a2, a3, a4, a5, px, o, o + 30 * vk, vk);
        inputRows12(a1, a2, a3, a4, px, o + 6 * vk, o + 12 * vk, vk);
        inputRows34(a1, a2, a3, a4, px, o + 18 * vk, o + 24 * vk, vk);
      }
      continue;
    }
    for (let i = 0; i < 6; i++) {
      const rowOk = i0 + i >= 0 && i0 + i < h;
      const row = base + <usize>((i0 + i) * w + j0) * px;
      for (let j = 0; j < 6; j++) {
        const ok = rowOk && j0 + j >= 0 && j0 + j < w;
        store<u32>(ptrs + (<usize>(6 * i + j) << 2), ok ? <u32>(row + <usize>j * px) : <u32>zero);
      }
    }
    for (let ch: usize = 0; ch < px; ch += 16) {
      // B^T d, column by column, into tmp[6i + j].
      for (let j: usize = 0; j < 6; j++) {
        const pj = ptrs + (j << 2);
        inputCol6(
          v128.load(<usize>load<u32>(pj) + ch), v128.load(<usize>load<u32>(pj, 24) + ch), v128.load(<usize>load<u32>(pj, 48) + ch),
          v128.load(<usize>load<u32>(pj, 72) + ch), v128.load(<usize>load<u32>(pj, 96) + ch), v128.load(<usize>load<u32>(pj, 120) + ch),
          tmp + (j << 4), 96,
        );
      }
      // Each row of B^T d times B.
      for (let i: usize = 0; i < 6; i++) {
        const r = tmp + i * 96;
        inputCol6(v128.load(r), v128.load(r, 16), v128.load(r, 32), v128.load(r, 48), v128.load(r, 64), v128.load(r, 80), vt + ch + 6 * i * vk, vk);
      }
    }
  }
}

/** A^T (m0 .. m5): m0+m1+m2+m3+m4, (m1-m2) + 2(m3-m4), (m1+m2) + 4(m3+m4), (m1-m2) + 8(m3-m4) + m5 at p + k*n. */
@inline
function outputCol4(m0: v128, m1: v128, m2: v128, m3: v128, m4: v128, m5: v128, p: usize, n: usize): void {
  const s1 = f32x4.add(m1, m2), d1 = f32x4.sub(m1, m2);
  const s2 = f32x4.add(m3, m4), d2 = f32x4.sub(m3, m4);
  v128.store(p, f32x4.add(f32x4.add(m0, s1), s2));
  v128.store(p + n, madd(f32x4.splat(2), d2, d1));
  v128.store(p + 2 * n, madd(f32x4.splat(4), s2, s1));
  v128.store(p + 3 * n, madd(f32x4.splat(8), d2, f32x4.add(d1, m5)));
}

/**
 * convWinograd by F(4x4, 3x3): the same convolution from the filter's transform u [36, ci, co]
 * (winogradFilter4), for the tile rows q in [t0, t1) of n*(ho/4) (tile row (img, ti) holding output
 * rows 4ti .. 4ti+3 of image img), y [n*ho, wo, co]. ho and wo multiples of 4, ci of 4, co of 8.
 * work: winograd4WorkFloats(bt, ci, co) floats of this call's own (lab-wasm.ts).
 */
export function convWinograd4(
  x: usize, u: usize, ci: i32, co: i32, h: i32, w: i32, pt: i32, pl: i32, ho: i32, wo: i32, t0: i32, t1: i32, bt: i32,
  work: usize, y: usize,
): void {
  const nt = wo >> 2;
  const th = ho >> 2;
  const px = <usize>ci << 2;
  const oRow = <usize>co << 2;
  const yRow = <usize>wo * oRow;
  const g1 = t1 * nt;
  const zero = work;
  memory.fill(zero, 0, px);
  work += (px + 63) & ~63;
  const ptrs = work;
  const tmp = work + 192;
  work += 192 + 576;
  const uk = <usize>(ci * co) << 2;
  for (let g0 = t0 * nt; g0 < g1; g0 += bt) {
    const b = min(bt, g1 - g0);
    const vk = (<usize>(b * ci) << 2) + WINOGRAD_PAD;
    const mk = (<usize>(b * co) << 2) + WINOGRAD_PAD;
    const v = work;
    const m = work + 36 * vk;
    winogradInput4(x, ci, h, w, pt, pl, ho, wo, g0, b, v, vk, zero, ptrs, tmp);
    for (let k = 0; k < 36; k++) {
      convTaps(v + <usize>k * vk, zero, 1, u + <usize>k * uk, ci, co, 1, b, 1, b, 1, 0, 0, 1, m + <usize>k * mk);
    }
    // Y = A^T M A, 4 output channels at a time: A^T M column by column into tmp[6r + j], then each
    // row times A into y.
    for (let t = 0; t < b; t++) {
      const y0 = y + tileOut(g0 + t, nt, th, ho, 4, yRow, oRow);
      const mt = m + <usize>t * oRow;
      for (let o: usize = 0; o < oRow; o += 16) {
        const p = mt + o;
        for (let j: usize = 0; j < 6; j++) {
          const pj = p + j * mk;
          outputCol4(
            v128.load(pj), v128.load(pj + 6 * mk), v128.load(pj + 12 * mk),
            v128.load(pj + 18 * mk), v128.load(pj + 24 * mk), v128.load(pj + 30 * mk),
            tmp + (j << 4), 96,
          );
        }
        for (let r: usize = 0; r < 4; r++) {
          const s = tmp + r * 96;
          outputCol4(v128.load(s), v128.load(s, 16), v128.load(s, 32), v128.load(s, 48), v128.load(s, 64), v128.load(s, 80), y0 + o + r * yRow, oRow);
        }
      }
    }
  }
}

/** A (y0 .. y3), A = (A^T)^T of F(4x4, 3x3): y0, y0+y1+y2+y3, y0-y1+y2-y3, y0+2y1+4y2+8y3, y0-2y1+4y2-8y3, y3 at p + k*n. */
@inline
function gradOutputCol6(y0: v128, y1: v128, y2: v128, y3: v128, p: usize, n: usize): void {
  const e = f32x4.add(y0, y2), o = f32x4.add(y1, y3);
  const e4 = madd(f32x4.splat(4), y2, y0), o8 = madd(f32x4.splat(8), y3, f32x4.add(y1, y1));
  v128.store(p, y0);
  v128.store(p + n, f32x4.add(e, o));
  v128.store(p + 2 * n, f32x4.sub(e, o));
  v128.store(p + 3 * n, f32x4.add(e4, o8));
  v128.store(p + 4 * n, f32x4.sub(e4, o8));
  v128.store(p + 5 * n, y3);
}

/**
 * The filter gradient of convWinograd4's convolution (filterGradWinograd's, with 6x6 transforms):
 * du[k] = sum over tiles of V[k]^T (A dY A^T)[k], for the tile rows [t0, t1) of n*(ho/4); du [36, ci,
 * co] written in place; then winogradFilterGrad4. Same x, shapes and work area as convWinograd4.
 */
export function filterGradWinograd4(
  x: usize, dy: usize, ci: i32, co: i32, h: i32, w: i32, pt: i32, pl: i32, ho: i32, wo: i32, t0: i32, t1: i32, bt: i32,
  work: usize, du: usize,
): void {
  memory.fill(du, 0, <usize>(36 * ci * co) << 2);
  const px = <usize>ci << 2;
  const zero = work;
  memory.fill(zero, 0, px);
  work += (px + 63) & ~63;
  const ptrs = work;
  const tmp = work + 192;
  work += 192 + 576;
  const nt = wo >> 2;
  const th = ho >> 2;
  const oRow = <usize>co << 2;
  const yRow = <usize>wo * oRow;
  const uk = <usize>(ci * co) << 2;
  const g1 = t1 * nt;
  for (let g0 = t0 * nt; g0 < g1; g0 += bt) {
    const b = min(bt, g1 - g0);
    const vk = (<usize>(b * ci) << 2) + WINOGRAD_PAD;
    const wk = (<usize>(b * co) << 2) + WINOGRAD_PAD;
    const v = work;
    const wm = work + 36 * vk;
    winogradInput4(x, ci, h, w, pt, pl, ho, wo, g0, b, v, vk, zero, ptrs, tmp);
    // W = A dY A^T: A times dY's 4x4 tile column by column into tmp[6k + c], then each row times A^T.
    for (let t = 0; t < b; t++) {
      const d0 = dy + tileOut(g0 + t, nt, th, ho, 4, yRow, oRow);
      const wt = wm + <usize>t * oRow;
      for (let o: usize = 0; o < oRow; o += 16) {
        const p = d0 + o;
        for (let c: usize = 0; c < 4; c++) {
          const pc = p + c * oRow;
          gradOutputCol6(v128.load(pc), v128.load(pc + yRow), v128.load(pc + 2 * yRow), v128.load(pc + 3 * yRow), tmp + (c << 4), 64);
        }
        for (let k: usize = 0; k < 6; k++) {
          const r = tmp + k * 64;
          gradOutputCol6(v128.load(r), v128.load(r, 16), v128.load(r, 32), v128.load(r, 48), wt + o + 6 * k * wk, wk);
        }
      }
    }
    for (let k = 0; k < 36; k++) {
      addProducts(v + <usize>k * vk, wm + <usize>k * wk, du + <usize>k * uk, ci, co, b);
    }
  }
}

/** G^T (u0 .. u5): u0/4 - (u1+u2)/6 + (u3+u4)/24, (u2-u1)/6 + (u3-u4)/12, (u3+u4-u1-u2)/6 + u5 at p + k*n. */
@inline
function filterGradCol3(u0: v128, u1: v128, u2: v128, u3: v128, u4: v128, u5: v128, p: usize, n: usize): void {
  const s12 = f32x4.add(u1, u2), s34 = f32x4.add(u3, u4);
  const sixth = f32x4.splat(<f32>(1.0 / 6.0));
  v128.store(p, f32x4.add(f32x4.mul(u0, f32x4.splat(0.25)), f32x4.mul(f32x4.sub(f32x4.mul(s34, f32x4.splat(0.25)), s12), sixth)));
  v128.store(p + n, f32x4.mul(f32x4.add(f32x4.sub(u2, u1), f32x4.mul(f32x4.sub(u3, u4), f32x4.splat(0.5))), sixth));
  v128.store(p + 2 * n, madd(f32x4.sub(s34, s12), sixth, u5));
}

/**
 * The filter gradient [3, 3, ci, co] from du [36, ci, co] (filterGradWinograd4): g = G^T du G for
 * every (ch, o), through tmp (18 vectors of scratch: G^T du). ci * co a multiple of 4.
 */
export function winogradFilterGrad4(du: usize, ci: i32, co: i32, dw: usize, tmp: usize): void {
  const n = <usize>(ci * co) << 2;
  for (let off: usize = 0; off < n; off += 16) {
    const p = du + off;
    // G^T du, column by column: tmp[6i + j] for i < 3.
    for (let j: usize = 0; j < 6; j++) {
      const q = p + j * n;
      filterGradCol3(v128.load(q), v128.load(q + 6 * n), v128.load(q + 12 * n), v128.load(q + 18 * n), v128.load(q + 24 * n), v128.load(q + 30 * n), tmp + (j << 4), 96);
    }
    for (let i: usize = 0; i < 3; i++) {
      const r = tmp + i * 96;
      filterGradCol3(v128.load(r), v128.load(r, 16), v128.load(r, 32), v128.load(r, 48), v128.load(r, 64), v128.load(r, 80), dw + off + 3 * i * n, n);
    }
  }
}
