// The lab's kernel thread pool (lab-threads.ts) for real: helpers are Node worker threads running
// helperLoop (lab-helper.node.ts, as initBackend starts them in Node) on a shared WebAssembly memory made here, with the lab module's shared-memory build (plain
// SIMD: Node 20 has no relaxed SIMD without a flag). The filter gradient split by rows over 2 and 3
// threads, each part summing into its own output, must add up to what one thread gives (to float32
// rounding: the parts add in another order); the forward convolution split by output rows must give
// one thread's output bit for bit, and so must the Winograd convolution split by tile rows (its filter
// gradient adds up like the direct one's); and a closed pool runs everything on the calling thread.

import { afterAll, describe, expect, it } from 'vitest';
import { LAB_WASM_SHARED } from './lab-wasm.binary.ts';
import { spawnNodeHelper, workerExecArgv } from './lab-helper.node.ts';
import { CTRL_INTS, JOB_INTS, LabPool, MAX_CHUNKS, splitRange, type LabPoolOp } from './lab-threads.ts';

const module = new WebAssembly.Module(Buffer.from(LAB_WASM_SHARED, 'base64'));
const memory = new WebAssembly.Memory({ initial: 512, maximum: 65536, shared: true }); // 32 MiB
const fns = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Record<string, (...a: number[]) => void>;
const f32 = () => new Float32Array(memory.buffer);

const pools: LabPool[] = [];
let nextCtrl = 64;
async function pool(helpers: number): Promise<LabPool> {
  const ptrs = Array.from({ length: helpers }, () => (nextCtrl += CTRL_INTS * 4) - CTRL_INTS * 4);
  const job = (nextCtrl += JOB_INTS * 4) - JOB_INTS * 4;
  const p = new LabPool(fns as Record<LabPoolOp, (...a: number[]) => void>, memory, ptrs, job, module, spawnNodeHelper);
  expect(await p.waitReady(20_000)).toBe(true);
  expect(p.threads).toBe(helpers + 1);
  pools.push(p);
  return p;
}

afterAll(() => {
  for (const p of pools) p.close();
});

/** A float32 region of the heap at a byte offset, filled with deterministic values. */
function region(byteOffset: number, n: number, seed: number): Float32Array {
  const v = f32().subarray(byteOffset / 4, byteOffset / 4 + n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = (s / 2 ** 31 - 1) * 2 + 0.25;
  }
  return v;
}

const MB = 1 << 20;

describe('workerExecArgv (the Node options our worker threads start with)', () => {
  it("keeps loaders and V8 flags, drops --input-type and the main script's -e / -p code", () => {
    expect(workerExecArgv(['--import', 'tsx', '--input-type=module', '-e', 'code()', '--experimental-wasm-relaxed-simd'])).toEqual([
      '--import',
      'tsx',
      '--experimental-wasm-relaxed-simd',
    ]);
    expect(workerExecArgv(['--input-type', 'module', '--print', '1+1', '--eval=x', '--require', 'r.cjs'])).toEqual(['--require', 'r.cjs']);
    expect(workerExecArgv([])).toEqual([]);
  });
});

describe('splitRange', () => {
  it('covers [0, total) in order, ranges aligned except the last, as even as the alignment allows', () => {
    for (const [total, parts, align] of [
      [10, 3, 1],
      [1001, 2, 4],
      [3, 4, 1],
      [128, 3, 1],
    ] as const) {
      const r = splitRange(total, parts, align);
      expect(r.length).toBe(parts);
      expect(r[0]![0]).toBe(0);
      expect(r[r.length - 1]![1]).toBe(total);
      for (let i = 1; i < r.length; i++) expect(r[i]![0]).toBe(r[i - 1]![1]);
      for (let i = 0; i < r.length - 1; i++) expect(r[i]![1] % align).toBe(0);
      const sizes = r.map(([a, b]) => b - a);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(Math.max(align, 1) + (total < parts ? 1 : 0));
    }
  });
});

// A 3x3 'same' filter gradient of x [N, H, W, Ci] from its channels-first frame (random values stand
// in for the frame: the kernel reads it as it is) and dy [N, H, W, Co] on an (H+1) x (W+1) grid.
const [N, H, W, Ci, Co] = [6, 8, 8, 16, 32];
const [R, C] = [H + 1, W + 1];
const PLANE = N * R * C;
const OFFSETS = [0, 1, 2, C, C + 1, C + 2, 2 * C, 2 * C + 1, 2 * C + 2];
const SIZE = 9 * Ci * Co;
const XF = 1 * MB;
const DY = 3 * MB;
const TAPS = 4 * MB;
const ONE = 5 * MB;
const PARTS = 6 * MB;
const U = 4 * MB + 4096;
const WORK = 8 * MB;

/** The parts' outputs (size floats each, from PARTS on) add up to one thread's at ONE, to float32 rounding. */
function expectPartsAddUp(size: number, parts: number): void {
  const f = f32();
  const one = f.subarray(ONE / 4, ONE / 4 + size);
  const scale = one.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let worst = 0;
  for (let i = 0; i < size; i++) {
    let sum = 0;
    for (let q = 0; q < parts; q++) sum += f[PARTS / 4 + q * size + i]!;
    worst = Math.max(worst, Math.abs(sum - one[i]!));
  }
  expect(worst).toBeLessThan(1e-6 * scale);
}

function filterGradArgs(r0: number, r1: number, out: number): number[] {
  return [XF, PLANE, TAPS, 9, DY, H, W, R, C, Ci, Co, r0, r1, out];
}

describe('LabPool with a helper that never answers', () => {
  it('waits out the time limit for its answer, gives the right output, then keeps every call on this thread', () => {
    // A helper that says READY but runs nothing: the caller takes every chunk, then waits out
    // HELPER_TIMEOUT_MS for the helper's DONE and stops sending it work.
    const ctrlPtr = 22 * MB;
    const silent = new LabPool(fns as Record<LabPoolOp, (...a: number[]) => void>, memory, [ctrlPtr], 22 * MB + 4096, module, () => ({
      terminate() {},
    }));
    new Int32Array(memory.buffer, ctrlPtr, CTRL_INTS).fill(0);
    Atomics.store(new Int32Array(memory.buffer, ctrlPtr, CTRL_INTS), 4, 1); // READY
    expect(silent.threads).toBe(2);
    region(XF, (N + 1) * R * C * Ci, 11);
    region(DY, SIZE, 12);
    new Int32Array(memory.buffer, TAPS, 9).set(OFFSETS);
    const args = (r0: number, r1: number, y: number) => [XF, TAPS, 9, DY, Ci, Co, H, W, R, C, 1, 0, r0, r1, y];
    const outs = N * H * W * Co;
    fns.convTaps!(...args(0, N * H, ONE));
    f32().fill(NaN, PARTS / 4, PARTS / 4 + outs);
    silent.run(
      'convTaps',
      splitRange(N * H, 4).map(([a, b]) => args(a, b, PARTS)),
    );
    expect(Array.from(f32().subarray(PARTS / 4, PARTS / 4 + outs))).toEqual(Array.from(f32().subarray(ONE / 4, ONE / 4 + outs)));
    expect(silent.stats.waitMs).toBeGreaterThan(4000); // it waited for the helper before giving up on it
    expect(silent.threads).toBe(1);
  });
});

describe.each([1, 2])('LabPool with %i helper thread(s)', (helpers) => {
  const parts = helpers + 1;

  it("splits the filter gradient by rows: the parts' outputs add up to one thread's, to float32 rounding", async () => {
    const p = await pool(helpers);
    region(XF, (Ci * N + 1) * R * C, 1);
    region(DY, N * H * W * Co, 2);
    new Int32Array(memory.buffer, TAPS, 9).set(OFFSETS);
    fns.filterGradTaps!(...filterGradArgs(0, N * H, ONE));
    f32().fill(NaN, PARTS / 4, PARTS / 4 + parts * SIZE); // every part must write all of its output
    p.run(
      'filterGradTaps',
      splitRange(N * H, parts).map(([a, b], i) => filterGradArgs(a, b, PARTS + i * SIZE * 4)),
    );
    expectPartsAddUp(SIZE, parts);
    expect(p.stats.calls).toBe(1);
  });

  it('gives the same filter gradient, bit for bit, whether or not its helpers have started', async () => {
    const p = await pool(helpers);
    // A pool whose helpers never become ready: every part runs on the calling thread.
    const ctrl = Array.from({ length: helpers }, (_, i) => 20 * MB + i * CTRL_INTS * 4);
    const asleep = new LabPool(fns as Record<LabPoolOp, (...a: number[]) => void>, memory, ctrl, 21 * MB, module, () => ({
      terminate() {},
    }));
    expect([asleep.parts, asleep.threads]).toEqual([parts, 1]); // helpers that never become ready
    region(XF, (Ci * N + 1) * R * C, 1);
    region(DY, N * H * W * Co, 2);
    new Int32Array(memory.buffer, TAPS, 9).set(OFFSETS);
    const split = (q: LabPool, at: number) =>
      q.run(
        'filterGradTaps',
        splitRange(N * H, q.parts).map(([a, b], i) => filterGradArgs(a, b, at + i * SIZE * 4)),
      );
    split(p, PARTS);
    split(asleep, PARTS + parts * SIZE * 4);
    const f = f32();
    expect(Array.from(f.subarray(PARTS / 4 + parts * SIZE, PARTS / 4 + 2 * parts * SIZE))).toEqual(
      Array.from(f.subarray(PARTS / 4, PARTS / 4 + parts * SIZE)),
    );
  });

  it('splits the forward convolution by output rows, bit for bit as one thread', async () => {
    const p = await pool(helpers);
    // x's channels-last frame (random values stand in: the kernel reads it as it is), filter [3,3,Ci,Co].
    region(XF, (N + 1) * R * C * Ci, 3);
    region(DY, SIZE, 4);
    new Int32Array(memory.buffer, TAPS, 9).set(OFFSETS);
    const args = (r0: number, r1: number, y: number) => [XF, TAPS, 9, DY, Ci, Co, H, W, R, C, 1, 0, r0, r1, y];
    const outs = N * H * W * Co;
    fns.convTaps!(...args(0, N * H, ONE));
    f32().fill(NaN, PARTS / 4, PARTS / 4 + outs);
    p.run(
      'convTaps',
      splitRange(N * H, parts).map(([a, b]) => args(a, b, PARTS)),
    );
    expect(Array.from(f32().subarray(PARTS / 4, PARTS / 4 + outs))).toEqual(Array.from(f32().subarray(ONE / 4, ONE / 4 + outs)));
  });

  it('splits the Winograd convolution by tile rows, bit for bit as one thread', async () => {
    const p = await pool(helpers);
    region(XF, N * H * W * Ci, 5); // x itself: the Winograd kernels read no frame
    region(DY, SIZE, 6);
    fns.winogradFilter!(DY, Ci, Co, U);
    const bt = 7; // blocks of 7 tiles: several per part, across tile rows, with a 3-tile tail
    const work = (Ci + 16 + 16 * (bt * (Ci + Co) + 32)) * 4;
    const args = (t0: number, t1: number, y: number, w: number) => [XF, U, Ci, Co, H, W, 1, 1, H, W, t0, t1, bt, w, y];
    const outs = N * H * W * Co;
    fns.convWinograd!(...args(0, (N * H) / 2, ONE, WORK));
    f32().fill(NaN, PARTS / 4, PARTS / 4 + outs);
    p.run(
      'convWinograd',
      splitRange((N * H) / 2, parts).map(([a, b], i) => args(a, b, PARTS, WORK + i * work)),
    );
    expect(Array.from(f32().subarray(PARTS / 4, PARTS / 4 + outs))).toEqual(Array.from(f32().subarray(ONE / 4, ONE / 4 + outs)));
  });

  it('cuts the Winograd convolution into more chunks than threads, each thread with its own work area: bit for bit as one thread', async () => {
    const p = await pool(helpers);
    region(XF, N * H * W * Ci, 9);
    region(DY, SIZE, 10);
    fns.winogradFilter!(DY, Ci, Co, U);
    const bt = 3;
    const work = (Ci + 16 + 16 * (bt * (Ci + Co) + 32)) * 4;
    const args = (t0: number, t1: number, y: number, w: number) => [XF, U, Ci, Co, H, W, 1, 1, H, W, t0, t1, bt, w, y];
    const outs = N * H * W * Co;
    fns.convWinograd!(...args(0, (N * H) / 2, ONE, WORK));
    const areas = Array.from({ length: parts }, (_, i) => WORK + i * work);
    for (const chunks of [parts, 7, (N * H) / 2]) {
      f32().fill(NaN, PARTS / 4, PARTS / 4 + outs); // every chunk must be run, once or more
      f32().fill(NaN, WORK / 4, (WORK + parts * work) / 4); // the work areas hold nothing a chunk relies on
      p.run(
        'convWinograd',
        splitRange((N * H) / 2, chunks).map(([a, b]) => args(a, b, PARTS, -1)),
        { arg: 13, areas },
      );
      expect(Array.from(f32().subarray(PARTS / 4, PARTS / 4 + outs))).toEqual(Array.from(f32().subarray(ONE / 4, ONE / 4 + outs)));
    }
  });

  it('runs again, here, every chunk a helper took and failed on: the same output, bit for bit', async () => {
    // The helpers' work areas lie past the end of the memory, so each chunk a helper takes traps
    // there; the caller's own area is real. Over 20 calls the helpers take (and fail) some chunks.
    const p = await pool(helpers);
    region(XF, N * H * W * Ci, 13);
    region(DY, SIZE, 14);
    fns.winogradFilter!(DY, Ci, Co, U);
    const bt = 3;
    const args = (t0: number, t1: number, y: number, w: number) => [XF, U, Ci, Co, H, W, 1, 1, H, W, t0, t1, bt, w, y];
    const outs = N * H * W * Co;
    fns.convWinograd!(...args(0, (N * H) / 2, ONE, WORK));
    const areas = [WORK, ...Array.from({ length: helpers }, () => memory.buffer.byteLength - 64)];
    for (let call = 0; call < 20; call++) {
      f32().fill(NaN, PARTS / 4, PARTS / 4 + outs);
      p.run(
        'convWinograd',
        splitRange((N * H) / 2, 24).map(([a, b]) => args(a, b, PARTS, -1)),
        { arg: 13, areas },
      );
      expect(Array.from(f32().subarray(PARTS / 4, PARTS / 4 + outs))).toEqual(Array.from(f32().subarray(ONE / 4, ONE / 4 + outs)));
    }
    expect(p.stats.redone).toBeGreaterThan(0);
    expect(p.threads).toBe(helpers + 1); // a helper that fails still answers: it keeps taking part
  });

  it('refuses a call that does not fit the job table, saying why', async () => {
    const p = await pool(helpers);
    const chunk = filterGradArgs(0, 1, PARTS);
    expect(() =>
      p.run(
        'filterGradTaps',
        Array.from({ length: MAX_CHUNKS + 1 }, () => chunk),
      ),
    ).toThrow(/65 chunks of 14 arguments do not fit the job table \(at most 64 of 16, all alike\)/);
    expect(() => p.run('filterGradTaps', [chunk, chunk.slice(1)])).toThrow(/do not fit the job table/);
    expect(p.stats.calls).toBe(0);
  });

  it("splits the Winograd filter gradient by tile rows: the parts' sums add up to one thread's, to float32 rounding", async () => {
    const p = await pool(helpers);
    region(XF, N * H * W * Ci, 7);
    region(DY, N * H * W * Co, 8);
    const bt = 7;
    const work = (Ci + 16 + 16 * (bt * (Ci + Co) + 32)) * 4;
    const du = 16 * Ci * Co;
    const args = (t0: number, t1: number, out: number, w: number) => [XF, DY, Ci, Co, H, W, 1, 1, H, W, t0, t1, bt, w, out];
    fns.filterGradWinograd!(...args(0, (N * H) / 2, ONE, WORK));
    f32().fill(NaN, PARTS / 4, PARTS / 4 + parts * du); // every part must write all of its output
    p.run(
      'filterGradWinograd',
      splitRange((N * H) / 2, parts).map(([a, b], i) => args(a, b, PARTS + i * du * 4, WORK + i * work)),
    );
    expectPartsAddUp(du, parts);
  });

  it('after close, runs every part on the calling thread', async () => {
    const p = await pool(helpers);
    p.close();
    expect(p.threads).toBe(1);
    region(XF, (Ci * N + 1) * R * C, 1);
    region(DY, N * H * W * Co, 2);
    fns.filterGradTaps!(...filterGradArgs(0, N * H, ONE));
    f32().fill(NaN, PARTS / 4, PARTS / 4 + parts * SIZE);
    p.run(
      'filterGradTaps',
      splitRange(N * H, parts).map(([a, b], i) => filterGradArgs(a, b, PARTS + i * SIZE * 4)),
    );
    const one = f32().subarray(ONE / 4, ONE / 4 + SIZE);
    for (let i = 0; i < SIZE; i += 97) {
      let sum = 0;
      for (let q = 0; q < parts; q++) sum += f32()[PARTS / 4 + q * SIZE + i]!;
      expect(Math.abs(sum - one[i]!)).toBeLessThan(1e-4);
    }
  });
});
