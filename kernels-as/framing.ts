// Data movement: the convolutions' operands copied into the layouts their kernels read (frames of
// zeros around images, channels-first or channels-last, phase images of strided convolutions,
// XNNPACK's packed weights) and the strided input gradient's depth-to-space step. No arithmetic.
// Tensors arrive as tfjs keeps them: x is (n, h, w, ci), channels-last.

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
  // Only the border is zeroed, not the whole frame, which would double the bytes written: above and
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

