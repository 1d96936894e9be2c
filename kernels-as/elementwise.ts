// Element-wise kernels over n float32 values: the SGD step of both momentum forms (sgdStep), the
// gradient through a ReLU (reluGrad) and a residual block's add-then-ReLU (addRelu).
// Not batch norm's fused ReLU (batchnorm.ts). Each has a 4-wide SIMD loop and a scalar tail.

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
