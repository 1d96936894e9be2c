// Batch normalisation forward (bnMoments) and backward (bnGrad), with an optional ReLU after it, in
// two passes over the data each way. Formulas: src/kernels/batchnorm.ts, which calls these.
// Not the element-wise ReLU kernels (elementwise.ts) nor the convolutions.
//
// x, dy and dx are NHWC tensors flattened to [m, c] rows, c a multiple of 4; channels go 16 at a time
// (one 64-byte cache line per row) while c allows, then 4 at a time. Sums are taken in float32 over
// blocks of BLOCK rows and added up in float64. The moments are shifted by the mean of the first
// SHIFT_ROWS rows (the "shifted data" variance), so a channel whose mean is large next to its spread
// keeps its precision.

const BLOCK: i32 = 128;
/** Rows averaged for the shift of the moments. */
const SHIFT_ROWS: i32 = 64;

// ---- helpers ---------------------------------------------------------------------------------------

/** Adds the four lanes of v to the four float64 totals at p. */
@inline
function flush(p: usize, v: v128): void {
  store<f64>(p, load<f64>(p) + <f64>f32x4.extract_lane(v, 0));
  store<f64>(p, load<f64>(p, 8) + <f64>f32x4.extract_lane(v, 1), 8);
  store<f64>(p, load<f64>(p, 16) + <f64>f32x4.extract_lane(v, 2), 16);
  store<f64>(p, load<f64>(p, 24) + <f64>f32x4.extract_lane(v, 3), 24);
}

/** g = dy, or dy where y > 0 and 0 elsewhere (the gradient through a ReLU whose output is y). */
@inline
function masked(dy: v128, y: usize, relu: bool): v128 {
  if (!relu) return dy;
  return v128.and(dy, f32x4.gt(v128.load(y), f32x4.splat(0)));
}

// ---- forward: moments -------------------------------------------------------------------------------

/**
 * Shifted sums S = sum(x - k) and Q = sum((x - k)^2) of 16 channels, added to the f64 totals at s and
 * q; the shift k (float32 [16]) is written at k.
 */
function moments16(x: usize, m: i32, row: usize, s: usize, q: usize, k: usize): void {
  // The shift: the mean of the first rows, so that x - k averages near zero and the float32 block
  // sums do not drift (a single row as the shift left them biased by its distance from the mean).
  const head = min(m, SHIFT_ROWS);
  const w = f32x4.splat(1 / <f32>head);
  let k0 = f32x4.splat(0), k1 = f32x4.splat(0), k2 = f32x4.splat(0), k3 = f32x4.splat(0);
  let p = x;
  for (let r = 0; r < head; r++) {
    k0 = f32x4.add(k0, v128.load(p, 0));
    k1 = f32x4.add(k1, v128.load(p, 16));
    k2 = f32x4.add(k2, v128.load(p, 32));
    k3 = f32x4.add(k3, v128.load(p, 48));
    p += row;
  }
  k0 = f32x4.mul(k0, w);
  k1 = f32x4.mul(k1, w);
  k2 = f32x4.mul(k2, w);
  k3 = f32x4.mul(k3, w);
  v128.store(k, k0, 0);
  v128.store(k, k1, 16);
  v128.store(k, k2, 32);
  v128.store(k, k3, 48);
  p = x;
  for (let r = 0; r < m; ) {
    const end = min(r + BLOCK, m);
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    let q0 = f32x4.splat(0), q1 = f32x4.splat(0), q2 = f32x4.splat(0), q3 = f32x4.splat(0);
    for (; r < end; r++) {
      const d0 = f32x4.sub(v128.load(p, 0), k0);
      const d1 = f32x4.sub(v128.load(p, 16), k1);
      const d2 = f32x4.sub(v128.load(p, 32), k2);
      const d3 = f32x4.sub(v128.load(p, 48), k3);
      s0 = f32x4.add(s0, d0);
      s1 = f32x4.add(s1, d1);
      s2 = f32x4.add(s2, d2);
      s3 = f32x4.add(s3, d3);
      q0 = f32x4.add(q0, f32x4.mul(d0, d0));
      q1 = f32x4.add(q1, f32x4.mul(d1, d1));
      q2 = f32x4.add(q2, f32x4.mul(d2, d2));
      q3 = f32x4.add(q3, f32x4.mul(d3, d3));
      p += row;
    }
    flush(s, s0);
    flush(s + 32, s1);
    flush(s + 64, s2);
    flush(s + 96, s3);
    flush(q, q0);
    flush(q + 32, q1);
    flush(q + 64, q2);
    flush(q + 96, q3);
  }
}

/** The same for 4 channels. */
function moments4(x: usize, m: i32, row: usize, s: usize, q: usize, k: usize): void {
  const head = min(m, SHIFT_ROWS);
  let k0 = f32x4.splat(0);
  let p = x;
  for (let r = 0; r < head; r++) {
    k0 = f32x4.add(k0, v128.load(p));
    p += row;
  }
  k0 = f32x4.mul(k0, f32x4.splat(1 / <f32>head));
  v128.store(k, k0);
  p = x;
  for (let r = 0; r < m; ) {
    const end = min(r + BLOCK, m);
    let s0 = f32x4.splat(0);
    let q0 = f32x4.splat(0);
    for (; r < end; r++) {
      const d0 = f32x4.sub(v128.load(p), k0);
      s0 = f32x4.add(s0, d0);
      q0 = f32x4.add(q0, f32x4.mul(d0, d0));
      p += row;
    }
    flush(s, s0);
    flush(q, q0);
  }
}

/**
 * Batch statistics of x [m, c] and the per-channel affine map of training-mode batch norm:
 *   mean = sum(x)/m, variance = sum((x - mean)^2)/m (biased), inv = 1/sqrt(variance + eps),
 *   scale = gamma*inv, shift = beta - mean*scale  (so y = x*scale + shift).
 * Outputs are float32 [c] each; work is a float64 area of 2c values.
 */
export function bnMoments(
  x: usize, m: i32, c: i32, gamma: usize, beta: usize, eps: f32,
  mean: usize, variance: usize, inv: usize, scale: usize, shift: usize, work: usize,
): void {
  const row = <usize>c << 2;
  const s = work;
  const q = work + (<usize>c << 3);
  memory.fill(work, 0, <usize>c << 4);
  let ch = 0;
  // The shifts go to mean[] first; each channel's mean replaces its shift below.
  for (; ch + 16 <= c; ch += 16) moments16(x + (<usize>ch << 2), m, row, s + (<usize>ch << 3), q + (<usize>ch << 3), mean + (<usize>ch << 2));
  for (; ch + 4 <= c; ch += 4) moments4(x + (<usize>ch << 2), m, row, s + (<usize>ch << 3), q + (<usize>ch << 3), mean + (<usize>ch << 2));
  const fm = <f64>m;
  for (let j = 0; j < c; j++) {
    const o = <usize>j << 2;
    const d = load<f64>(s + (<usize>j << 3)) / fm; // mean - k
    const mu = <f64>load<f32>(mean + o) + d;
    const v = max(load<f64>(q + (<usize>j << 3)) / fm - d * d, 0.0);
    const iv = 1.0 / Math.sqrt(v + <f64>eps);
    const a = <f64>load<f32>(gamma + o) * iv;
    store<f32>(mean + o, <f32>mu);
    store<f32>(variance + o, <f32>v);
    store<f32>(inv + o, <f32>iv);
    store<f32>(scale + o, <f32>a);
    store<f32>(shift + o, <f32>(<f64>load<f32>(beta + o) - mu * a));
  }
}

// ---- backward ---------------------------------------------------------------------------------------

/** Sums of g and g*(x - mean) over 16 channels (g: dy through the ReLU when relu), into f64 totals. */
function gradSums16(dy: usize, x: usize, y: usize, relu: bool, m: i32, row: usize, mean: usize, sg: usize, sgx: usize): void {
  const u0 = v128.load(mean, 0);
  const u1 = v128.load(mean, 16);
  const u2 = v128.load(mean, 32);
  const u3 = v128.load(mean, 48);
  let pd = dy, px = x, py = y;
  for (let r = 0; r < m; ) {
    const end = min(r + BLOCK, m);
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
    for (; r < end; r++) {
      const g0 = masked(v128.load(pd, 0), py, relu);
      const g1 = masked(v128.load(pd, 16), py + 16, relu);
      const g2 = masked(v128.load(pd, 32), py + 32, relu);
      const g3 = masked(v128.load(pd, 48), py + 48, relu);
      a0 = f32x4.add(a0, g0);
      a1 = f32x4.add(a1, g1);
      a2 = f32x4.add(a2, g2);
      a3 = f32x4.add(a3, g3);
      b0 = f32x4.add(b0, f32x4.mul(g0, f32x4.sub(v128.load(px, 0), u0)));
      b1 = f32x4.add(b1, f32x4.mul(g1, f32x4.sub(v128.load(px, 16), u1)));
      b2 = f32x4.add(b2, f32x4.mul(g2, f32x4.sub(v128.load(px, 32), u2)));
      b3 = f32x4.add(b3, f32x4.mul(g3, f32x4.sub(v128.load(px, 48), u3)));
      pd += row;
      px += row;
      py += row;
    }
    flush(sg, a0);
    flush(sg + 32, a1);
    flush(sg + 64, a2);
    flush(sg + 96, a3);
    flush(sgx, b0);
    flush(sgx + 32, b1);
    flush(sgx + 64, b2);
    flush(sgx + 96, b3);
  }
}

function gradSums4(dy: usize, x: usize, y: usize, relu: bool, m: i32, row: usize, mean: usize, sg: usize, sgx: usize): void {
  const u0 = v128.load(mean);
  let pd = dy, px = x, py = y;
  for (let r = 0; r < m; ) {
    const end = min(r + BLOCK, m);
    let a0 = f32x4.splat(0);
    let b0 = f32x4.splat(0);
    for (; r < end; r++) {
      const g0 = masked(v128.load(pd), py, relu);
      a0 = f32x4.add(a0, g0);
      b0 = f32x4.add(b0, f32x4.mul(g0, f32x4.sub(v128.load(px), u0)));
      pd += row;
      px += row;
      py += row;
    }
    flush(sg, a0);
    flush(sgx, b0);
  }
}

/**
 * dx = a*g - k1*(x - mean) - k2 over 16 channels; a, k1, k2, mean are float32 [16] at the pointers.
 * Where sdx is not 0, also the sums of dx over the rows, added to the float64 totals there (the
 * gradient of a bias added before the batch norm).
 */
function gradApply16(
  dy: usize, x: usize, y: usize, relu: bool, m: i32, row: usize, a: usize, k1: usize, k2: usize, mean: usize, dx: usize, sdx: usize,
): void {
  const a0 = v128.load(a, 0), a1 = v128.load(a, 16), a2 = v128.load(a, 32), a3 = v128.load(a, 48);
  const c0 = v128.load(k1, 0), c1 = v128.load(k1, 16), c2 = v128.load(k1, 32), c3 = v128.load(k1, 48);
  const e0 = v128.load(k2, 0), e1 = v128.load(k2, 16), e2 = v128.load(k2, 32), e3 = v128.load(k2, 48);
  const u0 = v128.load(mean, 0), u1 = v128.load(mean, 16), u2 = v128.load(mean, 32), u3 = v128.load(mean, 48);
  let pd = dy, px = x, py = y, po = dx;
  for (let r = 0; r < m; ) {
    const end = min(r + BLOCK, m);
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    for (; r < end; r++) {
      const g0 = masked(v128.load(pd, 0), py, relu);
      const g1 = masked(v128.load(pd, 16), py + 16, relu);
      const g2 = masked(v128.load(pd, 32), py + 32, relu);
      const g3 = masked(v128.load(pd, 48), py + 48, relu);
      const d0 = f32x4.sub(f32x4.sub(f32x4.mul(a0, g0), f32x4.mul(c0, f32x4.sub(v128.load(px, 0), u0))), e0);
      const d1 = f32x4.sub(f32x4.sub(f32x4.mul(a1, g1), f32x4.mul(c1, f32x4.sub(v128.load(px, 16), u1))), e1);
      const d2 = f32x4.sub(f32x4.sub(f32x4.mul(a2, g2), f32x4.mul(c2, f32x4.sub(v128.load(px, 32), u2))), e2);
      const d3 = f32x4.sub(f32x4.sub(f32x4.mul(a3, g3), f32x4.mul(c3, f32x4.sub(v128.load(px, 48), u3))), e3);
      v128.store(po, d0, 0);
      v128.store(po, d1, 16);
      v128.store(po, d2, 32);
      v128.store(po, d3, 48);
      s0 = f32x4.add(s0, d0);
      s1 = f32x4.add(s1, d1);
      s2 = f32x4.add(s2, d2);
      s3 = f32x4.add(s3, d3);
      pd += row;
      px += row;
      py += row;
      po += row;
    }
    if (sdx != 0) {
      flush(sdx, s0);
      flush(sdx + 32, s1);
      flush(sdx + 64, s2);
      flush(sdx + 96, s3);
    }
  }
}

function gradApply4(
  dy: usize, x: usize, y: usize, relu: bool, m: i32, row: usize, a: usize, k1: usize, k2: usize, mean: usize, dx: usize, sdx: usize,
): void {
  const a0 = v128.load(a), c0 = v128.load(k1), e0 = v128.load(k2), u0 = v128.load(mean);
  let pd = dy, px = x, py = y, po = dx;
  for (let r = 0; r < m; ) {
    const end = min(r + BLOCK, m);
    let s0 = f32x4.splat(0);
    for (; r < end; r++) {
      const g0 = masked(v128.load(pd), py, relu);
      const d0 = f32x4.sub(f32x4.sub(f32x4.mul(a0, g0), f32x4.mul(c0, f32x4.sub(v128.load(px), u0))), e0);
      v128.store(po, d0);
      s0 = f32x4.add(s0, d0);
      pd += row;
      px += row;
      py += row;
      po += row;
    }
    if (sdx != 0) flush(sdx, s0);
  }
}

/**
 * The gradient of training-mode batch norm (then ReLU, when y is not 0: y is that ReLU's output and dy
 * is masked by y > 0 first, g). With S the per-channel sum over the m rows, a = gamma*inv:
 *   dbeta = S(g), dgamma = inv*S(g*(x - mean)),
 *   dx = a*g - k1*(x - mean) - k2, k1 = a*inv*dgamma/m, k2 = a*dbeta/m.
 * dx is [m, c]; dgamma and dbeta are float32 [c]; where dxSum is not 0, S(dx) float32 [c] there too
 * (taken from dx as it is written: the gradient of a bias added to x, batchnorm.ts). work holds 2c
 * float64, 3c float32, then c float64 values.
 */
export function bnGrad(
  dy: usize, x: usize, y: usize, m: i32, c: i32, mean: usize, inv: usize, gamma: usize,
  dx: usize, dgamma: usize, dbeta: usize, dxSum: usize, work: usize,
): void {
  const relu = y != 0;
  const row = <usize>c << 2;
  const sg = work;
  const sgx = work + (<usize>c << 3);
  const ka = work + (<usize>c << 4);
  const k1 = ka + (<usize>c << 2);
  const k2 = k1 + (<usize>c << 2);
  const sdxAll = dxSum != 0 ? k2 + (<usize>c << 2) : 0;
  memory.fill(work, 0, <usize>c << 4);
  if (sdxAll != 0) memory.fill(sdxAll, 0, <usize>c << 3);
  let ch = 0;
  for (; ch + 16 <= c; ch += 16) {
    const o = <usize>ch << 2;
    gradSums16(dy + o, x + o, y + o, relu, m, row, mean + o, sg + (<usize>ch << 3), sgx + (<usize>ch << 3));
  }
  for (; ch + 4 <= c; ch += 4) {
    const o = <usize>ch << 2;
    gradSums4(dy + o, x + o, y + o, relu, m, row, mean + o, sg + (<usize>ch << 3), sgx + (<usize>ch << 3));
  }
  const fm = <f64>m;
  for (let j = 0; j < c; j++) {
    const o = <usize>j << 2;
    const iv = <f64>load<f32>(inv + o);
    const a = <f64>load<f32>(gamma + o) * iv;
    const db = load<f64>(sg + (<usize>j << 3));
    const dg = iv * load<f64>(sgx + (<usize>j << 3));
    store<f32>(dbeta + o, <f32>db);
    store<f32>(dgamma + o, <f32>dg);
    store<f32>(ka + o, <f32>a);
    store<f32>(k1 + o, <f32>((a * iv * dg) / fm));
    store<f32>(k2 + o, <f32>((a * db) / fm));
  }
  ch = 0;
  for (; ch + 16 <= c; ch += 16) {
    const o = <usize>ch << 2;
    gradApply16(dy + o, x + o, y + o, relu, m, row, ka + o, k1 + o, k2 + o, mean + o, dx + o, sdxAll != 0 ? sdxAll + (<usize>ch << 3) : 0);
  }
  for (; ch + 4 <= c; ch += 4) {
    const o = <usize>ch << 2;
    gradApply4(dy + o, x + o, y + o, relu, m, row, ka + o, k1 + o, k2 + o, mean + o, dx + o, sdxAll != 0 ? sdxAll + (<usize>ch << 3) : 0);
  }
  if (sdxAll != 0) {
    for (let j = 0; j < c; j++) store<f32>(dxSum + (<usize>j << 2), <f32>load<f64>(sdxAll + (<usize>j << 3)));
  }
}
