// The lab's filter-gradient and convolution kernels on more than one thread (lab-wasm.ts:
// labFilterGradTaps, labFilterGradWinograd, labConv2D): helper workers instantiate the same module on
// the same shared memory (tfjs-wasm's threaded build), and each call is split into parts by rows (of
// dy or of its 2x2 tiles for the filter gradient, each part summing into its own output; of the
// convolution's output or its tiles) that the calling thread and the helpers run at once.
// Only these kernels are split: a call takes milliseconds, so waking a helper (tens of microseconds)
// is small beside it. Splitting the lab's batch-norm and element-wise passes the same way gained
// nothing in the browser worker (ResNet-20: 113 split calls per step, whose waits for the helper cost
// about what the split saved; measured on branch experiment/lab-kernel-threads).
//
// A helper sleeps in Atomics.wait on its own control block, a few int32s malloc'd in the shared heap:
// [SEQ] job number, [DONE] last job finished, [OP] index into LAB_POOL_OPS, [ARGC] and the arguments
// from [ARGS] on. The caller writes a job and bumps SEQ for every helper, runs part 0 itself, then
// waits for each helper's DONE. Jobs only write the parts' own outputs, so a part that the caller
// redoes (a helper that did not answer within HELPER_TIMEOUT_MS, after which the pool stops using
// helpers) gives the same result. The tfjs-wasm kernels never run during one of these calls, so the
// helpers do not take cores from XNNPACK's own threads.
//
// Until a helper has instantiated the module and set READY, and wherever there are no helpers
// (tfjs-wasm's single-threaded builds have no shared memory: one thread asked for, or a threaded build
// that could not start), every part runs on the calling thread. Helpers are browser workers
// (lab-helper.worker.ts) or Node worker threads (lab-helper.node.ts).

/** Kernels a helper can run (their index is what the control block carries). */
export const LAB_POOL_OPS = ['filterGradTaps', 'convTaps', 'convWinograd', 'filterGradWinograd', 'convWinograd4', 'filterGradWinograd4'] as const;
export type LabPoolOp = (typeof LAB_POOL_OPS)[number];

const SEQ = 0;
const DONE = 1;
const OP = 2;
const ARGC = 3;
const READY = 4;
const FAILED = 5;
const ARGS = 8;
/** int32s per control block. */
export const CTRL_INTS = 32;
const STOP = -1;
const HELPER_TIMEOUT_MS = 5000;

/**
 * A helper's whole life: instantiate the module on the memory, set READY, then run jobs until STOP.
 * Self-contained (no imports, no outer names), so that it can also run from its source text in a Node
 * worker (lab-threads.test.ts). ops is LAB_POOL_OPS.
 */
export function helperLoop(module: WebAssembly.Module, memory: WebAssembly.Memory, ctrlPtr: number, ops: readonly string[]): void {
  const fns = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<string, (...a: number[]) => void>;
  const ctrl = new Int32Array(memory.buffer, ctrlPtr, 32);
  let seen = Atomics.load(ctrl, 0);
  Atomics.store(ctrl, 4, 1); // READY
  Atomics.notify(ctrl, 4);
  for (;;) {
    Atomics.wait(ctrl, 0, seen);
    const seq = Atomics.load(ctrl, 0);
    if (seq === seen) continue;
    seen = seq;
    const op = ctrl[2]!;
    if (op < 0) break; // STOP
    try {
      fns[ops[op]!]!(...Array.from(ctrl.subarray(8, 8 + ctrl[3]!)));
    } catch {
      Atomics.store(ctrl, 5, 1); // FAILED: the caller redoes the part
    }
    Atomics.store(ctrl, 1, seq);
    Atomics.notify(ctrl, 1);
  }
}

/** Starts a helper: something that runs helperLoop(module, memory, ctrlPtr, LAB_POOL_OPS) elsewhere. */
export type SpawnHelper = (module: WebAssembly.Module, memory: WebAssembly.Memory, ctrlPtr: number) => { terminate(): void };

interface Helper {
  ctrl: Int32Array;
  seq: number;
  handle: { terminate(): void };
}

/** Splits [0, total) into `parts` ranges as even as can be, each a multiple of `align` except the last. */
export function splitRange(total: number, parts: number, align = 1): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (let p = 0; p < parts; p++) {
    const end = p === parts - 1 ? total : Math.min(total, Math.round(((p + 1) * total) / parts / align) * align);
    out.push([start, Math.max(start, end)]);
    start = Math.max(start, end);
  }
  return out;
}

export class LabPool {
  private readonly helpers: Helper[] = [];
  private broken = false;
  /** Split calls so far, and the time the caller spent waiting for helpers after its own part. */
  readonly stats = { calls: 0, waitMs: 0, ownMs: 0 };

  constructor(
    private readonly fns: Record<LabPoolOp, (...a: number[]) => void>,
    memory: WebAssembly.Memory,
    /** Byte offsets of free, zeroed control blocks of CTRL_INTS int32s, one per helper. */
    ctrlPtrs: number[],
    module: WebAssembly.Module,
    spawn: SpawnHelper,
  ) {
    for (const ptr of ctrlPtrs) {
      const ctrl = new Int32Array(memory.buffer, ptr, CTRL_INTS);
      try {
        this.helpers.push({ ctrl, seq: 0, handle: spawn(module, memory, ptr) });
      } catch {
        break; // no workers here: run on this thread
      }
    }
  }

  /**
   * Parts a call should be split into: 1 + the helpers started, ready or not (a part whose helper is
   * not ready runs on the calling thread). Kernels whose parts sum into separate outputs then add up
   * the same way whether or not the helpers have started, so a run gives the same numbers every time.
   */
  get parts(): number {
    return 1 + this.helpers.length;
  }

  /** Threads a call runs on now: 1 + the helpers that are ready. */
  get threads(): number {
    if (this.broken) return 1;
    let n = 1;
    for (const h of this.helpers) if (Atomics.load(h.ctrl, READY) === 1) n++;
    return n;
  }

  /**
   * Resolves when every helper is ready (true), or after ms (false), yielding to the event loop while
   * it waits: a browser starts a nested worker only while its parent's event loop runs.
   */
  async waitReady(ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (!this.helpers.every((h) => Atomics.load(h.ctrl, READY) === 1)) {
      if (Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }

  /**
   * Runs op once per argument list: the first here, the others on ready helpers, all at once; returns
   * when every part is done. With fewer ready helpers than parts, the rest run here too.
   */
  run(op: LabPoolOp, parts: number[][]): void {
    const fn = this.fns[op];
    const ready = this.broken ? [] : this.helpers.filter((h) => Atomics.load(h.ctrl, READY) === 1);
    const sent: { h: Helper; args: number[] }[] = [];
    for (let p = 1; p < parts.length && sent.length < ready.length; p++) {
      const h = ready[sent.length]!;
      const args = parts[p]!;
      h.ctrl[OP] = LAB_POOL_OPS.indexOf(op);
      h.ctrl[ARGC] = args.length;
      for (let i = 0; i < args.length; i++) h.ctrl[ARGS + i] = args[i]! | 0;
      h.seq = (h.seq + 1) | 0;
      Atomics.store(h.ctrl, SEQ, h.seq);
      Atomics.notify(h.ctrl, SEQ);
      sent.push({ h, args });
    }
    const t0 = performance.now();
    fn(...parts[0]!);
    for (let p = 1 + sent.length; p < parts.length; p++) fn(...parts[p]!);
    const t1 = performance.now();
    this.stats.calls++;
    this.stats.ownMs += t1 - t0;
    for (const { h, args } of sent) {
      if (!this.await(h)) {
        this.broken = true; // a helper that does not answer: this thread from now on
        fn(...args);
      } else if (Atomics.load(h.ctrl, FAILED) === 1) {
        Atomics.store(h.ctrl, FAILED, 0);
        fn(...args);
      }
    }
    this.stats.waitMs += performance.now() - t1;
  }

  private await(h: Helper): boolean {
    // Spin briefly (parts finish close together), then sleep.
    for (let i = 0; i < 2000; i++) if (Atomics.load(h.ctrl, DONE) === h.seq) return true;
    const until = Date.now() + HELPER_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(h.ctrl, DONE);
      if (done === h.seq) return true;
      const left = until - Date.now();
      if (left <= 0) return false;
      Atomics.wait(h.ctrl, DONE, done, left);
    }
  }

  /** Stops the helpers (their workers end). */
  close(): void {
    for (const h of this.helpers) {
      h.ctrl[OP] = STOP;
      h.seq = (h.seq + 1) | 0;
      Atomics.store(h.ctrl, SEQ, h.seq);
      Atomics.notify(h.ctrl, SEQ);
      h.handle.terminate();
    }
    this.helpers.length = 0;
  }
}
