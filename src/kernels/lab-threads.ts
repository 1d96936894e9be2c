// The lab's convolution and filter-gradient kernels (lab-wasm.ts: labConv2D, labFilterGradTaps,
// labFilterGradWinograd) on more than one thread. Helper workers instantiate the same module on
// tfjs-wasm's shared memory; a call is split by rows into chunks that the calling thread and the
// helpers take one at a time from a shared counter (Atomics.add), so a late or slow helper takes fewer.
// Each chunk writes only its own outputs and is the same whoever runs it, so the result is the same
// bit for bit however the chunks are shared out; a chunk no helper finished runs on the caller.
// Only these kernels are split: a call takes milliseconds, waking a helper tens of microseconds.
// Without helpers (single-threaded tfjs-wasm, or before READY) every chunk runs on the calling thread.
// What it is not: the kernels themselves (kernels-as/), the helpers' entries (lab-helper.worker.ts in a
// browser, lab-helper.node.ts in Node).

/** Kernels a helper can run (their index is what the control block carries). */
export const LAB_POOL_OPS = [
  'filterGradTaps',
  'convTaps',
  'convWinograd',
  'filterGradWinograd',
  'convWinograd4',
  'filterGradWinograd4',
] as const;
export type LabPoolOp = (typeof LAB_POOL_OPS)[number];

// The control block (int32 indices); helperLoop spells the same numbers out. A helper sleeps in
// Atomics.wait on [SEQ] (the job number; the caller bumps it per ready helper); [DONE] the last job it
// finished, [OP] an index into LAB_POOL_OPS, [READY] set once its module is instantiated, [JOB] the byte
// offset of the pool's job table, [WORK] its own work area, passed at argument [WORKARG] (-1: none).
const SEQ = 0;
const DONE = 1;
const OP = 2;
const READY = 4;
const JOB = 6;
const WORK = 7;
/** int32s per control block. */
export const CTRL_INTS = 32;
const STOP = -1;
const HELPER_TIMEOUT_MS = 5000;

// The job table (int32 indices from its start); helperLoop spells the same numbers out.
const NEXT = 0; // the next chunk to take
const COUNT = 1;
const ARGC = 2;
const WORKARG = 3;
const ID = 4;
const TABLE = 8;
/** Chunks a call may have, and ints per chunk's argument list. */
export const MAX_CHUNKS = 64;
export const MAX_ARGS = 16;
const MARKS = TABLE + MAX_CHUNKS * MAX_ARGS;
/** int32s of the job table. */
export const JOB_INTS = MARKS + MAX_CHUNKS;

/**
 * A helper's whole life: instantiate the module on the memory, set READY, then run jobs until STOP:
 * take chunks from the job table until none is left, mark each one done, then say the job is done.
 * Self-contained (no imports, no outer names), so that it can also run from its source text in a Node
 * worker (lab-helper.node.ts). ops is LAB_POOL_OPS.
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
    const fn = fns[ops[op]!]!;
    const heap = new Int32Array(memory.buffer); // the memory may have grown since the last job
    const job = ctrl[6]! >> 2;
    const work = ctrl[7]!;
    const count = heap[job + 1]!;
    const argc = heap[job + 2]!;
    const workArg = heap[job + 3]!;
    const id = heap[job + 4]!;
    for (;;) {
      const c = Atomics.add(heap, job, 1); // NEXT
      if (c >= count || Atomics.load(heap, job + 4) !== id) break; // ID: a late helper never runs a later job's chunk
      const at = job + 8 + c * 16; // TABLE + c * MAX_ARGS
      const args = Array.from(heap.subarray(at, at + argc));
      if (workArg >= 0) args[workArg] = work;
      try {
        fn(...args);
      } catch {
        break; // the caller runs what is not marked done
      }
      Atomics.store(heap, job + 8 + 64 * 16 + c, id); // MARKS + c
    }
    Atomics.store(ctrl, 1, seq); // DONE
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

/** Where each thread's scratch goes: argument position `arg` gets `areas[thread]` (the caller is 0). */
export interface ThreadWork {
  arg: number;
  areas: readonly number[];
}

export class LabPool {
  private readonly helpers: Helper[] = [];
  private broken = false;
  private jobId = 0;
  /**
   * Split calls so far, the time the caller spent on its own chunks and then waiting for helpers, and
   * the chunks it ran again because a helper took them and failed or did not answer.
   */
  readonly stats = { calls: 0, waitMs: 0, ownMs: 0, redone: 0 };

  constructor(
    private readonly fns: Record<LabPoolOp, (...a: number[]) => void>,
    private readonly memory: WebAssembly.Memory,
    /** Byte offsets of free, zeroed control blocks of CTRL_INTS int32s, one per helper. */
    ctrlPtrs: number[],
    /** Byte offset of a free job table of JOB_INTS int32s. */
    private readonly jobPtr: number,
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
   * Threads a call may run on: 1 + the helpers started, ready or not (a helper that is not ready
   * takes no chunks). Callers size their chunks and work areas by it, so that a run's chunks, and so
   * its numbers, are the same at every step whether or not the helpers have started.
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
   * Runs op once per chunk (argument list), on this thread and the ready helpers at once, each taking
   * the next chunk as it comes free; returns when every chunk is done. With `work`, argument `work.arg`
   * of a chunk is the running thread's own work area (areas[0] here, areas[i] on the i-th helper sent
   * the job): as many helpers take part as there are areas beyond the first.
   */
  run(op: LabPoolOp, chunks: readonly (readonly number[])[], work?: ThreadWork): void {
    const fn = this.fns[op];
    const n = chunks.length;
    const argc = chunks[0]?.length ?? 0;
    if (n > MAX_CHUNKS || argc > MAX_ARGS || chunks.some((c) => c.length !== argc)) {
      throw new Error(
        `LabPool.run: ${n} chunks of ${argc} arguments do not fit the job table (at most ${MAX_CHUNKS} of ${MAX_ARGS}, all alike).`,
      );
    }
    const heap = new Int32Array(this.memory.buffer);
    const job = this.jobPtr >> 2;
    const id = (this.jobId = (this.jobId % 0x7fffffff) + 1); // never 0, which a fresh table holds
    for (let c = 0; c < n; c++) heap.set(chunks[c]!, job + TABLE + c * MAX_ARGS);
    heap[job + COUNT] = n;
    heap[job + ARGC] = argc;
    heap[job + WORKARG] = work?.arg ?? -1;
    heap[job + ID] = id;
    Atomics.store(heap, job + NEXT, 0);

    const ready = this.broken ? [] : this.helpers.filter((h) => Atomics.load(h.ctrl, READY) === 1);
    const sent = ready.slice(0, Math.min(n, work?.areas.length ?? n) - 1); // a thread needs a chunk, and a work area where they have one
    sent.forEach((h, i) => {
      h.ctrl[OP] = LAB_POOL_OPS.indexOf(op);
      h.ctrl[JOB] = this.jobPtr;
      h.ctrl[WORK] = work?.areas[1 + i] ?? 0;
      h.seq = (h.seq + 1) | 0;
      Atomics.store(h.ctrl, SEQ, h.seq);
      Atomics.notify(h.ctrl, SEQ);
    });
    const runHere = (c: number) => {
      const args = chunks[c]!.slice();
      if (work !== undefined) args[work.arg] = work.areas[0]!;
      fn(...args);
      Atomics.store(heap, job + MARKS + c, id);
    };
    const t0 = performance.now();
    for (;;) {
      const c = Atomics.add(heap, job + NEXT, 1);
      if (c >= n) break;
      runHere(c);
    }
    const t1 = performance.now();
    this.stats.calls++;
    this.stats.ownMs += t1 - t0;
    for (const h of sent) if (!this.await(h)) this.broken = true; // a helper that does not answer: this thread from now on
    for (let c = 0; c < n; c++) {
      if (Atomics.load(heap, job + MARKS + c) === id) continue;
      this.stats.redone++;
      runHere(c);
    }
    this.stats.waitMs += performance.now() - t1;
  }

  private await(h: Helper): boolean {
    // Spin briefly (the last chunks finish close together), then sleep.
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
