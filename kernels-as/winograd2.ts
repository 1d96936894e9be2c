// The stride-1 3x3 convolution and its filter gradient by Winograd's F(2x2, 3x3) (Lavin & Gray 2016):
// the filter's transform (winogradFilter), the convolution (convWinograd), the filter gradient in
// transformed form (filterGradWinograd) and back to 3x3 (winogradFilterGrad). x is (n, h, w, ci) as
// tfjs keeps it; ho and wo even. Each 2x2 output tile is Y = A^T [U . V] A, U = G g G^T (the filter,
// once per call), V = B^T d B (the tile's 4x4 input patch); summed over input channels, the 16
// products become 16 matrix products [tiles, ci] x [ci, co]: 16 multiply-adds per tile and channel pair
// where convTaps does 36. Coefficients 0, +-1 and 1/2 keep the rounding that of a few more additions:
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
// Not F(4x4, 3x3) (winograd4.ts) nor the direct kernels (conv-taps.ts).

import { convTaps } from './conv-taps';
import { WINOGRAD_PAD, addProducts, tileOut } from './winograd-common';

/** Stores a, (a+b+c)/2, (a-b+c)/2, c: one row of g G^T (or one column of G g), at p, p+n, p+2n, p+3n. */
@inline
function filterRow(a: v128, b: v128, c: v128, half: v128, p: usize, n: usize): void {
  const ac = f32x4.add(a, c);
  v128.store(p, a);
  v128.store(p + n, f32x4.mul(f32x4.add(ac, b), half));
  v128.store(p + 2 * n, f32x4.mul(f32x4.sub(ac, b), half));
  v128.store(p + 3 * n, c);
}

/**
 * The filter w [3, 3, ci, co] in F(2x2, 3x3) form: u [16, ci, co], u[4i + j] = (G g G^T)[i][j] for
 * every (ch, o). ci * co a multiple of 4.
 */
export function winogradFilter(w: usize, ci: i32, co: i32, u: usize): void {
  const n = <usize>(ci * co) << 2;
  const half = f32x4.splat(0.5);
  for (let off: usize = 0; off < n; off += 16) {
    const p = w + off;
    const g00 = v128.load(p), g01 = v128.load(p + n), g02 = v128.load(p + 2 * n);
    const g10 = v128.load(p + 3 * n), g11 = v128.load(p + 4 * n), g12 = v128.load(p + 5 * n);
    const g20 = v128.load(p + 6 * n), g21 = v128.load(p + 7 * n), g22 = v128.load(p + 8 * n);
    // G g: rows g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2; then each row times G^T.
    const q = u + off;
    filterRow(g00, g01, g02, half, q, n);
    const s0 = f32x4.add(g00, g20), s1 = f32x4.add(g01, g21), s2 = f32x4.add(g02, g22);
    filterRow(f32x4.mul(f32x4.add(s0, g10), half), f32x4.mul(f32x4.add(s1, g11), half), f32x4.mul(f32x4.add(s2, g12), half), half, q + 4 * n, n);
    filterRow(f32x4.mul(f32x4.sub(s0, g10), half), f32x4.mul(f32x4.sub(s1, g11), half), f32x4.mul(f32x4.sub(s2, g12), half), half, q + 8 * n, n);
    filterRow(g20, g21, g22, half, q + 12 * n, n);
  }
}

/** B^T d's row from the patch rows a (row 0), b, c, d: a - c, b + c, c - b, b - d at p, p+n, p+2n, p+3n. */
@inline
function inputRow(a: v128, b: v128, c: v128, d: v128, p: usize, n: usize): void {
  v128.store(p, f32x4.sub(a, c));
  v128.store(p + n, f32x4.add(b, c));
  v128.store(p + 2 * n, f32x4.sub(c, b));
  v128.store(p + 3 * n, f32x4.sub(b, d));
}

/**
 * V = B^T d B for the tiles g0 .. g0+b-1 (tile g: tile row g / (wo/2), that is image and pair of
 * output rows, and tile column g % (wo/2)), read from x [n, h, w, ci] itself: tile (ti, tj)'s patch
 * is x's rows 2ti - pt .. +3 and columns 2tj - pl .. +3, zero outside the image. Each of the patch's
 * 16 pixels gets a pointer once per tile, to x or, outside the image, to zero (ci zero floats), so the
 * channel loop loads without a test; no zero-framed copy of x is made, which would take as much heap
 * again as x. V[k] [b, ci] at v + k*vk, 4 channels at a time.
 */
function winogradInput(
  x: usize, ci: i32, h: i32, w: i32, pt: i32, pl: i32, ho: i32, wo: i32, g0: i32, b: i32, v: usize, vk: usize, zero: usize,
): void {
  const nt = wo >> 1;
  const th = ho >> 1;
  const px = <usize>ci << 2;
  for (let t = 0; t < b; t++) {
    const g = g0 + t;
    const tr = g / nt;
    const img = tr / th;
    const ti = tr - img * th;
    const tj = g - tr * nt;
    const i0 = 2 * ti - pt;
    const j0 = 2 * tj - pl;
    const base = x + <usize>(img * h) * <usize>w * px;
    // Row i's start (or -1 outside the image), then each pixel's pointer.
    let p00: usize = zero, p01: usize = zero, p02: usize = zero, p03: usize = zero;
    let p10: usize = zero, p11: usize = zero, p12: usize = zero, p13: usize = zero;
    let p20: usize = zero, p21: usize = zero, p22: usize = zero, p23: usize = zero;
    let p30: usize = zero, p31: usize = zero, p32: usize = zero, p33: usize = zero;
    const c0 = j0 >= 0 && j0 < w, c1 = j0 + 1 >= 0 && j0 + 1 < w, c2 = j0 + 2 >= 0 && j0 + 2 < w, c3 = j0 + 3 >= 0 && j0 + 3 < w;
    if (i0 >= 0 && i0 < h) {
      const row = base + <usize>(i0 * w + j0) * px;
      if (c0) p00 = row;
      if (c1) p01 = row + px;
      if (c2) p02 = row + 2 * px;
      if (c3) p03 = row + 3 * px;
    }
    if (i0 + 1 >= 0 && i0 + 1 < h) {
      const row = base + <usize>((i0 + 1) * w + j0) * px;
      if (c0) p10 = row;
      if (c1) p11 = row + px;
      if (c2) p12 = row + 2 * px;
      if (c3) p13 = row + 3 * px;
    }
    if (i0 + 2 >= 0 && i0 + 2 < h) {
      const row = base + <usize>((i0 + 2) * w + j0) * px;
      if (c0) p20 = row;
      if (c1) p21 = row + px;
      if (c2) p22 = row + 2 * px;
      if (c3) p23 = row + 3 * px;
    }
    if (i0 + 3 >= 0 && i0 + 3 < h) {
      const row = base + <usize>((i0 + 3) * w + j0) * px;
      if (c0) p30 = row;
      if (c1) p31 = row + px;
      if (c2) p32 = row + 2 * px;
      if (c3) p33 = row + 3 * px;
    }
    const vt = v + <usize>t * px;
    for (let ch: usize = 0; ch < px; ch += 16) {
      // Rows of B^T d: e0 = d0 - d2, e1 = d1 + d2, e2 = d2 - d1, e3 = d1 - d3, column by column.
      const d00 = v128.load(p00 + ch), d01 = v128.load(p01 + ch), d02 = v128.load(p02 + ch), d03 = v128.load(p03 + ch);
      const d10 = v128.load(p10 + ch), d11 = v128.load(p11 + ch), d12 = v128.load(p12 + ch), d13 = v128.load(p13 + ch);
      const d20 = v128.load(p20 + ch), d21 = v128.load(p21 + ch), d22 = v128.load(p22 + ch), d23 = v128.load(p23 + ch);
      const d30 = v128.load(p30 + ch), d31 = v128.load(p31 + ch), d32 = v128.load(p32 + ch), d33 = v128.load(p33 + ch);
      const q = vt + ch;
      inputRow(f32x4.sub(d00, d20), f32x4.sub(d01, d21), f32x4.sub(d02, d22), f32x4.sub(d03, d23), q, vk);
      inputRow(f32x4.add(d10, d20), f32x4.add(d11, d21), f32x4.add(d12, d22), f32x4.add(d13, d23), q + 4 * vk, vk);
      inputRow(f32x4.sub(d20, d10), f32x4.sub(d21, d11), f32x4.sub(d22, d12), f32x4.sub(d23, d13), q + 8 * vk, vk);
      inputRow(f32x4.sub(d10, d30), f32x4.sub(d11, d31), f32x4.sub(d12, d32), f32x4.sub(d13, d33), q + 12 * vk, vk);
    }
  }
}

/**
 * A stride-1 convolution of x [n, h, w, ci] with a 3x3 filter, padded pt rows above and pl columns
 * left (and as far below and right as the output needs), by F(2x2, 3x3), from the filter's transform
 * u (winogradFilter): for the tile rows q in [t0, t1) of n*(ho/2) (tile row (img, ti) holding output
 * rows 2ti and 2ti+1 of image img), y [n*ho, wo, co]. ho and wo even, ci a multiple of 4, co of 8.
 * work: ci + 16 + 16*(bt*(ci + co) + 32) floats of this call's own.
 *
 * Tiles go bt at a time (bt chosen by the caller so that a block's V and M stay in the L2 cache):
 * their V = B^T d B into work as 16 matrices [bt, ci], then M[k] = V[k] u[k] as 16 matrices [bt, co]
 * (by convTaps: 4 tiles x 8 output channels in registers over the input channels), then Y = A^T M A
 * into y. A tile's result does not depend on which block or part it falls in.
 */
export function convWinograd(
  x: usize, u: usize, ci: i32, co: i32, h: i32, w: i32, pt: i32, pl: i32, ho: i32, wo: i32, t0: i32, t1: i32, bt: i32,
  work: usize, y: usize,
): void {
  const nt = wo >> 1;
  const th = ho >> 1;
  const px = <usize>ci << 2;
  const oRow = <usize>co << 2;
  const yRow = <usize>wo * oRow;
  const g1 = t1 * nt;
  const zero = work;
  memory.fill(zero, 0, px);
  work += (px + 63) & ~63;
  for (let g0 = t0 * nt; g0 < g1; g0 += bt) {
    const b = min(bt, g1 - g0);
    // Bytes from V[k] to V[k+1] and M[k] to M[k+1]: a cache line more than the matrix (WINOGRAD_PAD),
    // so that the 16 streams a transform reads or writes do not fall into the same cache sets.
    const vk = (<usize>(b * ci) << 2) + WINOGRAD_PAD;
    const mk = (<usize>(b * co) << 2) + WINOGRAD_PAD;
    const v = work;
    const m = work + 16 * vk;
    winogradInput(x, ci, h, w, pt, pl, ho, wo, g0, b, v, vk, zero);
    // M[k] = V[k] u[k]: convTaps with one tap at offset 0 (the first int32 of zero) over a grid of one
    // row of b "pixels" (tiles).
    const uk = <usize>(ci * co) << 2;
    for (let k = 0; k < 16; k++) {
      convTaps(v + <usize>k * vk, zero, 1, u + <usize>k * uk, ci, co, 1, b, 1, b, 1, 0, 0, 1, m + <usize>k * mk);
    }
    // Y = A^T M A, 4 output channels at a time: rows s0 = m0 + m1 + m2, s1 = m1 - m2 - m3 of A^T M,
    // then the same across each row.
    for (let t = 0; t < b; t++) {
      const y0 = y + tileOut(g0 + t, nt, th, ho, 2, yRow, oRow);
      const mt = m + <usize>t * oRow;
      for (let o: usize = 0; o < oRow; o += 16) {
        const p = mt + o;
        const m00 = v128.load(p), m01 = v128.load(p + mk), m02 = v128.load(p + 2 * mk), m03 = v128.load(p + 3 * mk);
        const m10 = v128.load(p + 4 * mk), m11 = v128.load(p + 5 * mk), m12 = v128.load(p + 6 * mk), m13 = v128.load(p + 7 * mk);
        const m20 = v128.load(p + 8 * mk), m21 = v128.load(p + 9 * mk), m22 = v128.load(p + 10 * mk), m23 = v128.load(p + 11 * mk);
        const m30 = v128.load(p + 12 * mk), m31 = v128.load(p + 13 * mk), m32 = v128.load(p + 14 * mk), m33 = v128.load(p + 15 * mk);
        const s00 = f32x4.add(f32x4.add(m00, m10), m20), s01 = f32x4.add(f32x4.add(m01, m11), m21);
        const s02 = f32x4.add(f32x4.add(m02, m12), m22), s03 = f32x4.add(f32x4.add(m03, m13), m23);
        const s10 = f32x4.sub(f32x4.sub(m10, m20), m30), s11 = f32x4.sub(f32x4.sub(m11, m21), m31);
        const s12 = f32x4.sub(f32x4.sub(m12, m22), m32), s13 = f32x4.sub(f32x4.sub(m13, m23), m33);
        const q = y0 + o;
        v128.store(q, f32x4.add(f32x4.add(s00, s01), s02));
        v128.store(q + oRow, f32x4.sub(f32x4.sub(s01, s02), s03));
        v128.store(q + yRow, f32x4.add(f32x4.add(s10, s11), s12));
        v128.store(q + yRow + oRow, f32x4.sub(f32x4.sub(s11, s12), s13));
      }
    }
  }
}

/**
 * The filter gradient of convWinograd's convolution, by the same transforms run backwards: with
 * Y = A^T M A and M[k] = sum over ch of V[k][ch] u[k][ch], the gradient of u[k] is
 * sum over tiles of V[k] (x [tiles, ci] transposed) times A dY A^T [tiles, co], 16 products summed
 * over the tiles; then the filter's g = G^T du G (winogradFilterGrad). For the tile rows [t0, t1) of
 * n*(ho/2) with dy [n*ho, wo, co]: du [16, ci, co] written in place. Same x, shapes and work area as
 * convWinograd.
 *
 * The products go 4 input x 8 output channels in registers over a block's tiles (filterGradTaps'
 * inner step, see there), each block's sums added to du.
 */
export function filterGradWinograd(
  x: usize, dy: usize, ci: i32, co: i32, h: i32, w: i32, pt: i32, pl: i32, ho: i32, wo: i32, t0: i32, t1: i32, bt: i32,
  work: usize, du: usize,
): void {
  memory.fill(du, 0, <usize>(16 * ci * co) << 2);
  const zero = work;
  memory.fill(zero, 0, <usize>ci << 2);
  work += ((<usize>ci << 2) + 63) & ~63;
  const nt = wo >> 1;
  const th = ho >> 1;
  const oRow = <usize>co << 2;
  const yRow = <usize>wo * oRow;
  const uk = <usize>(ci * co) << 2;
  const g1 = t1 * nt;
  for (let g0 = t0 * nt; g0 < g1; g0 += bt) {
    const b = min(bt, g1 - g0);
    const vk = (<usize>(b * ci) << 2) + WINOGRAD_PAD;
    const wk = (<usize>(b * co) << 2) + WINOGRAD_PAD;
    const v = work;
    const wm = work + 16 * vk;
    winogradInput(x, ci, h, w, pt, pl, ho, wo, g0, b, v, vk, zero);
    // W = A dY A^T: dY's 2x2 tile [[a, b], [c, e]] gives rows (a, b), (a+c, b+e), (a-c, b-e), (-c, -e),
    // and each row (p, q) the columns p, p+q, p-q, -q.
    for (let t = 0; t < b; t++) {
      const d0 = dy + tileOut(g0 + t, nt, th, ho, 2, yRow, oRow);
      const wt = wm + <usize>t * oRow;
      for (let o: usize = 0; o < oRow; o += 16) {
        const p = d0 + o;
        const a = v128.load(p), bb = v128.load(p + oRow), cc = v128.load(p + yRow), e = v128.load(p + yRow + oRow);
        const q = wt + o;
        outputGradRow(a, bb, q, wk);
        outputGradRow(f32x4.add(a, cc), f32x4.add(bb, e), q + 4 * wk, wk);
        outputGradRow(f32x4.sub(a, cc), f32x4.sub(bb, e), q + 8 * wk, wk);
        outputGradRow(f32x4.neg(cc), f32x4.neg(e), q + 12 * wk, wk);
      }
    }
    // du[k] += V[k]^T W[k].
    for (let k = 0; k < 16; k++) {
      addProducts(v + <usize>k * vk, wm + <usize>k * wk, du + <usize>k * uk, ci, co, b);
    }
  }
}

/** One row (p, q) of A dY times A^T: p, p + q, p - q, -q at o, o+n, o+2n, o+3n. */
@inline
function outputGradRow(p: v128, q: v128, o: usize, n: usize): void {
  v128.store(o, p);
  v128.store(o + n, f32x4.add(p, q));
  v128.store(o + 2 * n, f32x4.sub(p, q));
  v128.store(o + 3 * n, f32x4.neg(q));
}

/** G^T's row from u0..u3: u0 + (u1 + u2)/2, (u1 - u2)/2, (u1 + u2)/2 + u3. */
@inline
function gradRow0(u0: v128, u1: v128, u2: v128, u3: v128, half: v128): v128 {
  return f32x4.add(u0, f32x4.mul(f32x4.add(u1, u2), half));
}
@inline
function gradRow1(u1: v128, u2: v128, half: v128): v128 {
  return f32x4.mul(f32x4.sub(u1, u2), half);
}
@inline
function gradRow2(u1: v128, u2: v128, u3: v128, half: v128): v128 {
  return f32x4.add(f32x4.mul(f32x4.add(u1, u2), half), u3);
}

/** Stores G^T applied to the row (a, b, c, d): three values at p, p+n, p+2n. */
@inline
function gradCols(a: v128, b: v128, c: v128, d: v128, half: v128, p: usize, n: usize): void {
  v128.store(p, gradRow0(a, b, c, d, half));
  v128.store(p + n, gradRow1(b, c, half));
  v128.store(p + 2 * n, gradRow2(b, c, d, half));
}

/**
 * The filter gradient [3, 3, ci, co] from du [16, ci, co] (filterGradWinograd): g = G^T du G for every
 * (ch, o), with G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1]. ci * co a multiple of 4.
 */
export function winogradFilterGrad(du: usize, ci: i32, co: i32, dw: usize): void {
  const n = <usize>(ci * co) << 2;
  const half = f32x4.splat(0.5);
  for (let off: usize = 0; off < n; off += 16) {
    const p = du + off;
    const u00 = v128.load(p), u01 = v128.load(p + n), u02 = v128.load(p + 2 * n), u03 = v128.load(p + 3 * n);
    const u10 = v128.load(p + 4 * n), u11 = v128.load(p + 5 * n), u12 = v128.load(p + 6 * n), u13 = v128.load(p + 7 * n);
    const u20 = v128.load(p + 8 * n), u21 = v128.load(p + 9 * n), u22 = v128.load(p + 10 * n), u23 = v128.load(p + 11 * n);
    const u30 = v128.load(p + 12 * n), u31 = v128.load(p + 13 * n), u32 = v128.load(p + 14 * n), u33 = v128.load(p + 15 * n);
    // G^T du: three rows of four, then G^T across each row.
    const q = dw + off;
    gradCols(gradRow0(u00, u10, u20, u30, half), gradRow0(u01, u11, u21, u31, half), gradRow0(u02, u12, u22, u32, half), gradRow0(u03, u13, u23, u33, half), half, q, n);
    gradCols(gradRow1(u10, u20, half), gradRow1(u11, u21, half), gradRow1(u12, u22, half), gradRow1(u13, u23, half), half, q + 3 * n, n);
    gradCols(gradRow2(u10, u20, u30, half), gradRow2(u11, u21, u31, half), gradRow2(u12, u22, u32, half), gradRow2(u13, u23, u33, half), half, q + 6 * n, n);
  }
}
