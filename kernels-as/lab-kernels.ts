// The lab's own WebAssembly SIMD kernels (AssemblyScript), run on tensors in tfjs-backend-wasm's heap.
//
// The module imports tfjs-wasm's memory and owns none: every pointer here is a byte offset into that
// heap (a tensor's memoryOffset, or a work area the caller malloc'd there). It has no data segment and
// no start function, so instantiating it writes nothing. Built by `npm run kernels` (scripts/
// build-kernels.ts) into src/kernels/lab-wasm.binary.ts; src/kernels/lab-wasm.ts loads it.
//
// The convolutions of training (src/kernels/conv-backprop.ts): the stride-1 convolution (the forward
// pass and, with the rotated filter, the input gradient) and the filter gradient. With a 3x3 filter
// and an output size a multiple of 4, both by Winograd's F(4x4, 3x3) from the input as tfjs keeps it
// (convWinograd4, filterGradWinograd4: 36 multiply-adds per 4x4 output tile and channel pair instead
// of 144); with an even one, by F(2x2, 3x3) (convWinograd, filterGradWinograd: 16 per 2x2 tile
// instead of 36); otherwise directly, the convolution tap by tap (convTaps) from the input framed channels-last,
// and the filter gradient (filterGradTaps) from the input framed channels-first (a 4x4 transpose in
// registers per 4 pixels x 4 channels) and the output gradient as tfjs keeps it. Their multiply-adds fuse into one FMA in the relaxed-SIMD
// builds (madd). For the matrix-product path that remains where channels do not fit, the output
// gradient written into XNNPACK's packed weights (packGrid).
//
// Batch normalisation in two passes each way, instead of the five forward and eight backward full-size
// passes that composing tfjs ops takes (src/kernels/batchnorm.ts has the formulas). Tensors are NHWC
// flattened to [m, c] rows with c a multiple of 4; channels are handled 16 at a time (one 64-byte
// cache line per row) while c allows, then 4 at a time.
//
// The SGD update of both momentum forms in one pass (sgdStep), instead of the composed ops' eight.
//
// Sums are taken in float32 over blocks of BLOCK rows and added up in float64. The moments are
// shifted by the mean of the first SHIFT_ROWS rows (the "shifted data" variance), so a channel whose
// mean is large next to its spread keeps its precision.

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

// ---- solver ------------------------------------------------------------------------------------------

/**
 * One SGD step over n float32 parameters w with their momentum buffer buf and gradient g, into outW and
 * outBuf: the arithmetic of the composed tfjs ops in src/train/solvers.ts, operation for operation in
 * the same order, each rounded to float32 (a multiply then an add, never a fused multiply-add, in every
 * build), so that both give the same numbers. With g' = g + wd*w (g itself where wd is 0):
 *   nesterov (Torch optim.sgd, dampening 0): buf' = mom*buf + g';  w' = w + (-lr)*(g' + mom*buf')
 *   classic (neon, Caffe):                    buf' = mom*buf - lr*g'; w' = w + buf'
 */
export function sgdStep(w: usize, buf: usize, g: usize, n: i32, nesterov: bool, lr: f32, mom: f32, wd: f32, outW: usize, outBuf: usize): void {
  const decay = wd != 0;
  const vwd = f32x4.splat(wd), vmom = f32x4.splat(mom), vlr = f32x4.splat(lr), vnlr = f32x4.splat(-lr);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const x = v128.load(w + o);
    let d = v128.load(g + o);
    if (decay) d = f32x4.add(d, f32x4.mul(vwd, x));
    const b = v128.load(buf + o);
    if (nesterov) {
      const nb = f32x4.add(f32x4.mul(vmom, b), d);
      v128.store(outBuf + o, nb);
      v128.store(outW + o, f32x4.add(x, f32x4.mul(vnlr, f32x4.add(d, f32x4.mul(vmom, nb)))));
    } else {
      const nb = f32x4.sub(f32x4.mul(vmom, b), f32x4.mul(vlr, d));
      v128.store(outBuf + o, nb);
      v128.store(outW + o, f32x4.add(x, nb));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(w + o);
    let d = load<f32>(g + o);
    if (decay) d = d + wd * x;
    const b = load<f32>(buf + o);
    if (nesterov) {
      const nb = mom * b + d;
      store<f32>(outBuf + o, nb);
      store<f32>(outW + o, x + -lr * (d + mom * nb));
    } else {
      const nb = mom * b - lr * d;
      store<f32>(outBuf + o, nb);
      store<f32>(outW + o, x + nb);
    }
  }
}

// ---- ReLU -------------------------------------------------------------------------------------------

/** out = dy where y > 0, else 0, over n float32 values (the gradient through a ReLU with output y). */
export function reluGrad(dy: usize, y: usize, n: i32, out: usize): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, v128.and(v128.load(dy + o), f32x4.gt(v128.load(y + o), zero)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(y + o) > 0 ? load<f32>(dy + o) : 0);
  }
}

/** out = max(a + b, 0) over n float32 values (a residual block's end). */
export function addRelu(a: usize, b: usize, n: i32, out: usize): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.max(f32x4.add(v128.load(a + o), v128.load(b + o)), zero));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, max(load<f32>(a + o) + load<f32>(b + o), 0));
  }
}

/**
 * m rows of n floats from src (rows srcRow floats apart) to dst (rows dstRow floats apart), each dst
 * row's floats from n to dstRow zeroed: channels padded to a multiple of 4 for the Winograd filter
 * gradient (x [.., 3] to [.., 4]), and its result cut back (each tap's [4*co] to [3*co]).
 */
export function copyRows(src: usize, m: i32, srcRow: i32, dstRow: i32, n: i32, dst: usize): void {
  const sb = <usize>srcRow << 2;
  const db = <usize>dstRow << 2;
  const nb = <usize>n << 2;
  for (let i = 0; i < m; i++) {
    const s = src + <usize>i * sb;
    const d = dst + <usize>i * db;
    for (let k: usize = 0; k < nb; k += 4) store<f32>(d + k, load<f32>(s + k));
    for (let k = nb; k < db; k += 4) store<f32>(d + k, 0);
  }
}

// ---- the filter gradient's operands (src/kernels/conv-backprop.ts, prepacked.ts) -------------------

/** Writes the 4x4 transpose of rows r0..r3 (4 pixels x 4 channels) as 4 channel rows of 4 pixels. */
@inline
function store4x4(r0: v128, r1: v128, r2: v128, r3: v128, out: usize, stride: usize): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(out, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(out + stride, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  v128.store(out + 2 * stride, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  v128.store(out + 3 * stride, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}

/**
 * The stride-1 filter gradient's input frame: x [n, h, w, ci] (NHWC) written channels-first on a grid
 * of r x c positions per image, out[ch][img][pt + i][pl + j] = x[img][i][j][ch], zeros on the rest of
 * the grid, then one more all-zero grid at the end: (ci*n + 1) grids of r x c floats. What Transpose
 * [3,0,1,2] and PadV2 composed did, in one pass.
 */
export function frameChannelsFirst(x: usize, n: i32, h: i32, w: i32, ci: i32, r: i32, c: i32, pt: i32, pl: i32, out: usize): void {
  const grid = <usize>(r * c) << 2; // bytes per image grid
  const chStride = grid * <usize>n; // bytes between channels
  const rowBytes = <usize>c << 2;
  // Zeros: each grid's rows above and below the image, and the columns left and right of it.
  for (let ch = 0; ch < ci; ch++) {
    for (let img = 0; img < n; img++) {
      const g = out + <usize>ch * chStride + <usize>img * grid;
      memory.fill(g, 0, <usize>pt * rowBytes);
      memory.fill(g + <usize>(pt + h) * rowBytes, 0, <usize>(r - pt - h) * rowBytes);
      for (let i = 0; i < h; i++) {
        const row = g + <usize>(pt + i) * rowBytes;
        memory.fill(row, 0, <usize>pl << 2);
        memory.fill(row + (<usize>(pl + w) << 2), 0, <usize>(c - pl - w) << 2);
      }
    }
  }
  memory.fill(out + <usize>ci * chStride, 0, grid);
  // The image: 4 pixels x 4 channels at a time, transposed in registers.
  const px = <usize>ci << 2; // bytes per pixel of x
  const w4 = w & ~3;
  const c4 = ci & ~3;
  let src = x;
  for (let img = 0; img < n; img++) {
    for (let i = 0; i < h; i++) {
      const dstRow = out + <usize>img * grid + <usize>(pt + i) * rowBytes + (<usize>pl << 2);
      let j = 0;
      for (; j < w4; j += 4) {
        const p = src + <usize>j * px;
        const d = dstRow + (<usize>j << 2);
        let ch = 0;
        for (; ch < c4; ch += 4) {
          const o = <usize>ch << 2;
          store4x4(v128.load(p + o), v128.load(p + px + o), v128.load(p + 2 * px + o), v128.load(p + 3 * px + o), d + <usize>ch * chStride, chStride);
        }
        for (; ch < ci; ch++) {
          for (let k = 0; k < 4; k++) store<f32>(d + <usize>ch * chStride + (<usize>k << 2), load<f32>(p + <usize>k * px + (<usize>ch << 2)));
        }
      }
      for (; j < w; j++) {
        const p = src + <usize>j * px;
        const d = dstRow + (<usize>j << 2);
        for (let ch = 0; ch < ci; ch++) store<f32>(d + <usize>ch * chStride, load<f32>(p + (<usize>ch << 2)));
      }
      src += <usize>w * px;
    }
  }
}

/**
 * dy [n, ho, wo, co] into XNNPACK's packed fully-connected weights (prepacked.ts): blocks of nr output
 * columns, each nr bias values then one row of nr weights per grid position k = (img*r + i)*c + j of a
 * grid of r x c positions per image; row k holds dy[img, i, j, block's columns] for i < ho, j < wo.
 * Other rows are left as they are (zero). base points at block 0's first weight; k rows in all.
 */
export function packGrid(dy: usize, n: i32, ho: i32, wo: i32, co: i32, r: i32, c: i32, nr: i32, k: i32, base: usize): void {
  const blockStride = <usize>(nr + k * nr) << 2;
  const px = <usize>co << 2;
  const out = <usize>nr << 2;
  for (let b = 0; b * nr < co; b++) {
    const width = min(nr, co - b * nr);
    const dst0 = base + <usize>b * blockStride;
    let src = dy + (<usize>(b * nr) << 2);
    for (let img = 0; img < n; img++) {
      for (let i = 0; i < ho; i++) {
        let d = dst0 + (<usize>((img * r + i) * c) * out);
        if (width == 8) {
          for (let j = 0; j < wo; j++) {
            v128.store(d, v128.load(src));
            v128.store(d, v128.load(src, 16), 16);
            src += px;
            d += out;
          }
        } else if ((width & 3) == 0) {
          for (let j = 0; j < wo; j++) {
            for (let q = 0; q < width; q += 4) v128.store(d + (<usize>q << 2), v128.load(src + (<usize>q << 2)));
            src += px;
            d += out;
          }
        } else {
          for (let j = 0; j < wo; j++) {
            for (let q = 0; q < width; q++) store<f32>(d + (<usize>q << 2), load<f32>(src + (<usize>q << 2)));
            src += px;
            d += out;
          }
        }
      }
    }
  }
}

/**
 * The strided input gradient's last step (conv-backprop.ts): z [n, rows, cols, sh*sw*ci] holds, per
 * phase (ph, pw), the input gradient at rows sh*q + ph and columns sw*r + pw of a grid that starts top
 * rows and left columns above and left of the image; out [n, h, w, ci] is the image:
 *   out[img, i, j, :] = z[img, (i + top) / sh, (j + left) / sw, (((i + top) % sh) * sw + (j + left) % sw) * ci + :].
 * What Transpose, Reshape and Slice composed did, in one pass.
 */
export function depthToSpaceCrop(z: usize, n: i32, rows: i32, cols: i32, sh: i32, sw: i32, ci: i32, h: i32, w: i32, top: i32, left: i32, out: usize): void {
  const depth = sh * sw * ci;
  const c4 = ci & ~3;
  let d = out;
  for (let img = 0; img < n; img++) {
    for (let i = 0; i < h; i++) {
      const q = (i + top) / sh;
      const ph = (i + top) % sh;
      const rowBase = z + (<usize>((img * rows + q) * cols) * <usize>depth << 2);
      for (let j = 0; j < w; j++) {
        const r = (j + left) / sw;
        const pw = (j + left) % sw;
        const s = rowBase + (<usize>(r * depth + (ph * sw + pw) * ci) << 2);
        let k = 0;
        for (; k < c4; k += 4) v128.store(d + (<usize>k << 2), v128.load(s + (<usize>k << 2)));
        for (; k < ci; k++) store<f32>(d + (<usize>k << 2), load<f32>(s + (<usize>k << 2)));
        d += <usize>ci << 2;
      }
    }
  }
}

/**
 * The strided filter gradient's input frame (conv-backprop.ts, filterGradPhased): x [n, h, w, ci] split
 * into its sh*sw phase images x_ab[img, q, s] = x[img, sh*q + a, sw*s + b], each written channels-first
 * on a grid of r x c positions per image at (top, left):
 *   out[((a*sw + b)*ci + ch)*n + img][top + q][left + s] = x[img][sh*q + a][sw*s + b][ch],
 * zeros everywhere else, then one all-zero grid: (sh*sw*ci*n + 1) grids of r x c floats.
 */
export function framePhases(x: usize, n: i32, h: i32, w: i32, ci: i32, sh: i32, sw: i32, r: i32, c: i32, top: i32, left: i32, out: usize): void {
  const grid = <usize>(r * c);
  const plane = grid * <usize>n; // floats between channels (and phases: ci planes each)
  memory.fill(out, 0, (<usize>(sh * sw * ci) * plane + grid) << 2);
  let src = x;
  for (let img = 0; img < n; img++) {
    for (let i = 0; i < h; i++) {
      const a = i % sh;
      const rowBase = <usize>img * grid + <usize>((i / sh + top) * c);
      for (let j = 0; j < w; j++) {
        const b = j % sw;
        let d = out + ((<usize>((a * sw + b) * ci) * plane + rowBase + <usize>(j / sw + left)) << 2);
        for (let ch = 0; ch < ci; ch++) {
          store<f32>(d, load<f32>(src));
          src += 4;
          d += plane << 2;
        }
      }
    }
  }
}

// ---- the filter gradient itself ---------------------------------------------------------------------

/** c + a * b: one fused multiply-add where the build has relaxed SIMD (then x86's FMA), else two ops. */
@inline
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

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

// ---- the forward convolution (and the stride-1 input gradient, a convolution too) -------------------

/**
 * x [n, h, w, ci] framed channels-last for convTaps: image img's pixel (i, j) at pixel index
 * (img*r + top + i)*c + left + j of an r x c grid per image, ci floats per pixel, zeros everywhere
 * else, then one all-zero image: (n + 1)*r*c pixels.
 */
export function frameChannelsLast(x: usize, n: i32, h: i32, w: i32, ci: i32, r: i32, c: i32, top: i32, left: i32, out: usize): void {
  const px = <usize>ci << 2;
  const rowBytes = <usize>w * px;
  const gridRow = <usize>c * px;
  // Only the border is zeroed (the whole frame first took as long again as the copy): above and
  // below each image, left and right of each row, and the last image.
  let src = x;
  let dst = out;
  for (let img = 0; img < n; img++) {
    memory.fill(dst, 0, <usize>top * gridRow);
    dst += <usize>top * gridRow;
    for (let i = 0; i < h; i++) {
      memory.fill(dst, 0, <usize>left * px);
      memory.copy(dst + <usize>left * px, src, rowBytes);
      memory.fill(dst + <usize>left * px + rowBytes, 0, gridRow - <usize>left * px - rowBytes);
      src += rowBytes;
      dst += gridRow;
    }
    memory.fill(dst, 0, <usize>(r - top - h) * gridRow);
    dst += <usize>(r - top - h) * gridRow;
  }
  memory.fill(dst, 0, <usize>r * gridRow);
}

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

// ---- the same stride-1 3x3 convolution by Winograd's minimal filtering, F(2x2, 3x3) -----------------
//
// Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016): each 2x2 tile of output
// pixels is Y = A^T [U . V] A, with U = G g G^T the 3x3 filter g taken to 4x4 once per call
// (winogradFilter) and V = B^T d B the tile's 4x4 input patch d; summed over input channels, the 16
// products U . V become 16 matrix products [tiles, ci] x [ci, co]. That is 16 multiply-adds per 2x2
// tile and channel pair where convTaps does 36, for the price of the two transforms (additions only):
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
// The transforms' coefficients are 0, +-1 and 1/2, so the rounding stays that of a few more additions.

/**
 * Byte offset of output tile g's top-left pixel in a tensor [n*ho, wo, co] (rows yRow bytes, pixels
 * oRow bytes) cut into size x size tiles: nt tiles across, th tile rows per image, tile g in row g / nt.
 */
@inline
function tileOut(g: i32, nt: i32, th: i32, ho: i32, size: i32, yRow: usize, oRow: usize): usize {
  const tr = g / nt;
  const img = tr / th;
  const ti = tr - img * th;
  const tj = g - tr * nt;
  return <usize>(img * ho + size * ti) * yRow + <usize>(size * tj) * oRow;
}

/**
 * Bytes added after each of a block's 16 transformed matrices. Without it, 64 tiles of 16 channels put
 * them exactly 4 KiB apart, and the transforms took about 1.4x as long (ResNet-20's first stage).
 */
const WINOGRAD_PAD: usize = 64;

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
 * channel loop loads without a test; no zero-framed copy of x is made (that copy measured no slower,
 * but it took 10 MiB of ResNet-20's heap at batch 128). V[k] [b, ci] at v + k*vk, 4 channels at a time.
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

/**
 * uK [ci, co] += vK^T wK over b tiles (vK [b, ci] and wK [b, co] rows ci and co floats apart): 4
 * input x 8 output channels in registers over the tiles (filterGradTaps' inner step, see there).
 */
function addProducts(vK: usize, wK: usize, uK: usize, ci: i32, co: i32, b: i32): void {
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

// ---- the stride-1 3x3 convolution by F(4x4, 3x3) -------------------------------------------------------
//
// Lavin & Gray (2016) again, with 4x4 output tiles from 6x6 input patches: 36 products per 4x4 tile
// and channel pair where F(2x2, 3x3) does 64 (four 2x2 tiles) and convTaps 144, and 36 transformed
// values per 16 output pixels instead of 64, so the transforms move less memory too; their
// coefficients reach 5, 8 and 1/24, which costs some rounding (tested against tfjs-cpu). With the
// interpolation points 0, 1, -1, 2, -2 and infinity:
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1],
//   G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1],
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].

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
