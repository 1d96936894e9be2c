// The worker's side of the run history (src/storage): every run the engine trains is recorded in
// IndexedDB as it goes, and an interrupted run is continued from its last checkpoint. RunHistory opens
// the store once and starts one RunRecorder per run, which appends steps every STEP_CHUNK steps (or
// 10 s), records each evaluation, checkpoints when due (epoch ends, CHECKPOINT_INTERVAL_MS, pause,
// stop, `checkpointEvery`) and at the end stores the final weights and the status. Writes go through
// one queue in call order, so a checkpoint never precedes the steps it covers; training does not wait.
// Storage problems never stop training: each becomes a 'storage-problem' event; unappended steps are
// retried with the next chunk, and the previous checkpoint stays (writes are atomic).
// What it is not: the training loop (src/train), the page's runs list (src/state/runs-slice.ts).

import { holdRunLock } from '../storage/locks.ts';
import { StorageError, StorageQuotaError } from '../storage/errors.ts';
import type { FinalWeights, RunMeta, RunStatus } from '../storage/schema.ts';
import type { NewRun, RunStore, StepPoint as StoredStep, StoredCheckpoint } from '../storage/run-store.ts';
import type { Trainer, TrainerCheckpoint } from '../train/trainer.ts';
import type { EngineEvent, EpochPoint, RunEnd, StepPoint } from './protocol.ts';

/** Steps per appended chunk, or fewer when SERIES_FLUSH_MS have passed since the last one. */
export const STEP_CHUNK = 100;
export const SERIES_FLUSH_MS = 10_000;
/** Longest wall-clock time between two checkpoints while training. */
export const CHECKPOINT_INTERVAL_MS = 5 * 60_000;

export type OpenRunStore = () => Promise<RunStore>;

/** A run the worker cannot continue: said so a person knows why. */
export class ResumeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResumeError';
  }
}

export interface RecorderOptions {
  /** Also checkpoint every this many steps (tests; not in the share URL). */
  checkpointEvery?: number;
  /** Wall clock (Date.now by default). */
  now?: () => number;
}

/** The engine's numbers at a checkpoint or at the end. */
export interface RunClock {
  /** Training milliseconds so far (pauses and evaluations excluded), across resumes. */
  elapsedMs: number;
  /** Tensors alive in the worker (for the page's leak watch). */
  tensors?: number;
}

function problemEvent(runId: number | undefined, e: unknown, doing: string): EngineEvent {
  const err = e instanceof Error ? e : new Error(String(e));
  const quota = e instanceof StorageQuotaError ? e.shortage : undefined;
  return {
    type: 'storage-problem',
    runId,
    name: err.name,
    message: e instanceof StorageError ? err.message : `Could not save ${doing}: ${err.message}`,
    largestRuns: quota?.largestRuns.slice(0, 5).map((r) => ({ id: r.id, name: r.name, bytes: r.bytes })),
  };
}

export class RunHistory {
  private opening?: Promise<RunStore | undefined>;

  constructor(
    private readonly open: OpenRunStore,
    private readonly emit: (e: EngineEvent) => void,
  ) {}

  /** The store, opened once; undefined (and one 'storage-problem' event) when it cannot be opened. */
  private store(): Promise<RunStore | undefined> {
    if (!this.opening) {
      this.opening = this.open().then(
        (s) => s,
        (e: unknown) => {
          this.emit(problemEvent(undefined, e, 'the run history'));
          return undefined;
        },
      );
    }
    return this.opening.then((s) => {
      if (s?.closed) {
        this.opening = undefined; // closed under us (another tab upgraded it): reopen next time
        return this.store();
      }
      return s;
    });
  }

  /** Records a new run; undefined when the history cannot be written (the run trains anyway). */
  async begin(runId: number, init: NewRun, options: RecorderOptions = {}): Promise<RunRecorder | undefined> {
    const store = await this.store();
    if (!store) return undefined;
    let meta: RunMeta;
    try {
      meta = await store.createRun(init);
    } catch (e) {
      this.emit(problemEvent(runId, e, 'the new run'));
      return undefined;
    }
    const release = await holdRunLock(meta.id).catch(() => () => {});
    return new RunRecorder(store, meta, runId, release || (() => {}), this.emit, options);
  }

  /**
   * Everything needed to continue a stored run: its metadata and latest checkpoint (and the one before,
   * for when the latest does not restore), with the run's lock held. Throws ResumeError when the run
   * is trained elsewhere, has no checkpoint, or the history is unavailable.
   */
  async prepareResume(storedId: string): Promise<ResumePlan> {
    const store = await this.store();
    if (!store) throw new ResumeError('The run history cannot be opened here, so no run can be resumed.');
    const release = await holdRunLock(storedId);
    if (release === false)
      throw new ResumeError('This run is being trained in another tab of the lab: resume it there, or close that tab first.');
    try {
      const meta = await store.getMeta(storedId);
      if (meta.deletedAt !== undefined) throw new ResumeError(`Run "${meta.name}" was deleted.`);
      const latest = await store.loadLatestCheckpoint(storedId, 'latest');
      if (!latest) throw new ResumeError(`Run "${meta.name}" has no checkpoint to continue from (it ended before its first one).`);
      return new ResumePlan(store, meta, latest, release);
    } catch (e) {
      release();
      throw e;
    }
  }
}

/** A stored run about to be continued; `start` once the trainer has restored one of its checkpoints. */
export class ResumePlan {
  constructor(
    private readonly store: RunStore,
    readonly meta: RunMeta,
    readonly latest: StoredCheckpoint,
    private readonly release: () => void,
  ) {}

  /** The checkpoint before the latest (when the latest cannot be restored). */
  previous(): Promise<StoredCheckpoint | undefined> {
    return this.store.loadLatestCheckpoint(this.meta.id, 'previous');
  }

  /** Gives the lock back without resuming (the trainer could not be built or restored). */
  abandon(): void {
    this.release();
  }

  /**
   * Cuts the stored series back to `used` (the checkpoint the trainer restored), marks the run
   * running, and returns the series so far with the recorder that continues it.
   */
  async start(
    used: StoredCheckpoint,
    runId: number,
    emit: (e: EngineEvent) => void,
    options: RecorderOptions = {},
  ): Promise<{ recorder: RunRecorder; steps: StepPoint[]; epochs: EpochPoint[] }> {
    let meta: RunMeta;
    let detail: Awaited<ReturnType<RunStore['getRun']>>;
    try {
      meta = await this.store.resumeFromCheckpoint(this.meta.id, used.seq);
      detail = await this.store.getRun(this.meta.id);
    } catch (e) {
      this.release();
      throw e;
    }
    const s = detail.steps;
    const steps: StepPoint[] = [];
    for (let i = 0; i < s.step.length; i++) {
      steps.push({ step: s.step[i], epoch: s.epoch[i], lr: s.lr[i], loss: s.loss[i], trainError: s.trainError[i], ms: s.ms[i] });
    }
    const epochs: EpochPoint[] = detail.epochs.map((e) => ({
      epoch: e.epoch,
      step: e.step,
      testError: e.testError,
      evaluated: e.evaluated ?? 0,
    }));
    const recorder = new RunRecorder(this.store, meta, runId, this.release, emit, options);
    recorder.resumedAt(used.step);
    return { recorder, steps, epochs };
  }
}

export class RunRecorder {
  readonly storedId: string;
  private buffer: StoredStep[] = [];
  private queue: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  private lastCheckpointAt: number;
  private lastFlushAt: number;
  private lastCheckpointStep = 0;
  private epochEnded = false;
  /** Last step handed to step(): checkpoints need every step up to the trainer's iteration reported. */
  private reported = 0;
  /** Last step the store holds. */
  private stored = 0;
  private released = false;
  private lastProblem?: string;

  constructor(
    private readonly store: RunStore,
    meta: RunMeta,
    private readonly runId: number,
    private readonly release: () => void,
    private readonly emit: (e: EngineEvent) => void,
    private readonly options: RecorderOptions,
  ) {
    this.storedId = meta.id;
    this.now = options.now ?? Date.now;
    this.lastCheckpointAt = this.now();
    this.lastFlushAt = this.lastCheckpointAt;
  }

  /** @internal After a resume from the checkpoint at `step`. */
  resumedAt(step: number): void {
    this.reported = step;
    this.stored = step;
    this.lastCheckpointStep = step;
  }

  /** Runs `task` after every write queued before it; failures are reported (once while they repeat), never thrown. */
  private enqueue(doing: string, task: () => Promise<void>): Promise<void> {
    const next = this.queue.then(task).then(
      () => {
        this.lastProblem = undefined;
      },
      (e: unknown) => {
        const event = problemEvent(this.runId, e, doing);
        if (event.type !== 'storage-problem' || event.message === this.lastProblem) return;
        this.lastProblem = event.message;
        this.emit(event);
      },
    );
    this.queue = next;
    return next;
  }

  step(p: StepPoint): void {
    this.buffer.push({ step: p.step, loss: p.loss, lr: p.lr, trainError: p.trainError, epochFloat: p.epoch, ms: p.ms });
    this.reported = p.step;
    if (this.buffer.length >= STEP_CHUNK || this.now() - this.lastFlushAt >= SERIES_FLUSH_MS) void this.flushSteps();
  }

  epoch(p: EpochPoint): void {
    if (p.step > 0) this.epochEnded = true; // not the evaluation before training
    void this.enqueue(`the test error of epoch ${p.epoch}`, () => this.store.appendEpoch(this.storedId, p));
  }

  /** Queues the buffered steps; on failure they go back to the buffer and are retried with the next chunk. */
  private flushSteps(): Promise<void> {
    this.lastFlushAt = this.now();
    return this.enqueue('the steps', async () => {
      if (this.buffer.length === 0) return;
      const points = this.buffer;
      this.buffer = [];
      try {
        await this.store.appendSteps(this.storedId, points);
        this.stored = points[points.length - 1].step;
      } catch (e) {
        this.buffer = points.concat(this.buffer);
        throw e;
      }
    });
  }

  /** Whether a checkpoint is due after the step just done (call between steps). */
  checkpointDue(iteration: number): boolean {
    if (iteration <= this.lastCheckpointStep || this.reported !== iteration) return false;
    const every = this.options.checkpointEvery;
    return (
      this.epochEnded ||
      this.now() - this.lastCheckpointAt >= CHECKPOINT_INTERVAL_MS ||
      (every !== undefined && iteration - this.lastCheckpointStep >= every)
    );
  }

  /**
   * Snapshots the trainer (awaited: it reads every variable) and queues the write behind the steps it
   * covers; resolves once the write is queued, not stored (`settled()` waits for that). Does nothing
   * while steps the trainer has done are not yet reported.
   */
  async checkpoint(trainer: Trainer, clock: RunClock): Promise<void> {
    const iteration = trainer.iteration;
    if (this.reported !== iteration || iteration === 0) return;
    this.epochEnded = false;
    this.lastCheckpointAt = this.now();
    this.lastCheckpointStep = iteration;
    const ckpt: TrainerCheckpoint = await trainer.checkpoint();
    void this.flushSteps();
    void this.enqueue(`the checkpoint at step ${iteration}`, async () => {
      if (this.stored < iteration) {
        throw new StorageError(
          'write-failed',
          `The checkpoint at step ${iteration} was not saved because the steps before it could not be.`,
          'The previous checkpoint is kept.',
        );
      }
      await this.store.saveCheckpoint(this.storedId, ckpt, { elapsedMs: clock.elapsedMs });
      this.emit({ type: 'checkpoint', runId: this.runId, storedId: this.storedId, step: iteration, tensors: clock.tensors });
    });
  }

  /** 'paused' or 'running' (the lock is kept). */
  setStatus(status: Extract<RunStatus, 'paused' | 'running'>): void {
    void this.enqueue('the run status', async () => {
      await this.store.setStatus(this.storedId, status);
    });
  }

  /**
   * The run is over (or, for 'interrupted', cannot go on here): stores the remaining steps, the final
   * weights (when given) and the status, waits for every write, then releases the run's lock.
   */
  async finish(
    end: RunEnd,
    details: {
      finalTestError?: number;
      divergedAt?: { step: number; lr: number; loss: number };
      clock: RunClock;
      imagesPerSec?: number;
      weights?: () => Promise<FinalWeights>;
    },
  ): Promise<void> {
    void this.flushSteps();
    if (details.weights) {
      const make = details.weights;
      void this.enqueue('the final weights', async () => {
        await this.store.saveFinalWeights(this.storedId, await make(), { dropCheckpoints: end === 'finished' || end === 'max-steps' });
      });
    }
    void this.enqueue('the run status', async () => {
      await this.store.setStatus(this.storedId, end, {
        finalTestError: details.finalTestError,
        divergedAt: details.divergedAt,
        elapsedMs: details.clock.elapsedMs,
        imagesPerSec: details.imagesPerSec,
      });
    });
    await this.settled();
    this.releaseLock();
  }

  /** Every queued write has been tried. */
  settled(): Promise<void> {
    return this.queue;
  }

  releaseLock(): void {
    if (this.released) return;
    this.released = true;
    this.release();
  }
}
