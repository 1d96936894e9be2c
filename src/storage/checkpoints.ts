// A run's checkpoints in the run history: at most two per run (the latest and the one before), saved
// and pruned in one transaction so a failed write never costs the previous one, and resuming from one
// (the series cut back to it). Not the checkpoint's contents: the trainer makes and restores those.

import { RunNotFoundError, StorageError } from './errors.ts';
import { Requests, assertFinite, runRange, type RunDatabase } from './database.ts';
import type { CheckpointRecord, CheckpointRef, RunMeta } from './schema.ts';
import { bestOf, cutSeriesAfter } from './series.ts';
import { approxBytes } from './sizes.ts';
import type { TrainerCheckpoint } from '../train/trainer.ts';

export interface StoredCheckpoint extends CheckpointRef {
  runId: string;
  checkpoint: TrainerCheckpoint;
}

/**
 * Stores a checkpoint as the run's latest, keeps the one before it, and deletes any older, all in
 * one transaction: if any of it fails the run keeps exactly the checkpoints it had. When the free
 * space the browser reports is short, nothing is written and StorageQuotaError says what to delete.
 */
export async function saveCheckpoint(
  db: RunDatabase,
  runId: string,
  checkpoint: TrainerCheckpoint,
  info: { elapsedMs?: number } = {},
): Promise<CheckpointRef> {
  assertFinite('checkpoint iteration', checkpoint.iteration);
  const bytes = approxBytes(checkpoint);
  await db.ensureSpace(bytes, 'the checkpoint');
  const now = Date.now();
  return db.write(['runs', 'checkpoints'], `the checkpoint at step ${checkpoint.iteration}`, async (tx) => {
    const meta = await db.metaIn(tx, runId);
    const ref: CheckpointRef = { seq: (meta.checkpoints[0]?.seq ?? 0) + 1, step: checkpoint.iteration, savedAt: now, bytes };
    if (info.elapsedMs !== undefined) ref.elapsedMs = info.elapsedMs;
    const kept = [ref, ...meta.checkpoints].slice(0, 2);
    const dropped = meta.checkpoints.slice(1);
    meta.checkpoints = kept;
    meta.sizes.checkpoints = kept.reduce((s, c) => s + c.bytes, 0);
    if (info.elapsedMs !== undefined) meta.elapsedMs = info.elapsedMs;
    meta.updatedAt = now;
    const store = tx.objectStore('checkpoints');
    const reqs = new Requests();
    // The pointer and the pruning are queued before the payload, so a payload the browser refuses
    // (clone error, quota) aborts them too.
    reqs.add(tx.objectStore('runs').put(meta));
    for (const d of dropped) reqs.add(store.delete([runId, d.seq]));
    const record: CheckpointRecord = { runId, ...ref, checkpoint };
    reqs.add(store.put(record));
    await reqs.all();
    return ref;
  });
}

/** The run's latest checkpoint (or the one before it), or undefined if it has none. */
export async function loadLatestCheckpoint(
  db: RunDatabase,
  runId: string,
  which: 'latest' | 'previous' = 'latest',
): Promise<StoredCheckpoint | undefined> {
  const tx = db.conn().transaction(['runs', 'checkpoints'], 'readonly');
  try {
    const meta = await tx.objectStore('runs').get(runId);
    if (!meta) throw new RunNotFoundError(runId);
    const ref = meta.checkpoints[which === 'latest' ? 0 : 1];
    const rec = ref && (await tx.objectStore('checkpoints').get([runId, ref.seq]));
    await tx.done;
    if (!rec) return undefined;
    const { runId: id, seq, step, savedAt, bytes, elapsedMs, checkpoint } = rec;
    return { runId: id, seq, step, savedAt, bytes, ...(elapsedMs === undefined ? {} : { elapsedMs }), checkpoint };
  } catch (e) {
    tx.done.catch(() => {});
    return db.rethrowRead(e);
  }
}

/**
 * Call after the trainer has restored checkpoint `seq` (so a checkpoint that fails to restore costs
 * nothing): cuts the series back to the checkpoint's step (those steps are trained again and
 * re-appended), drops any newer checkpoint, recomputes the best test error, and sets 'running'.
 */
export async function resumeFromCheckpoint(db: RunDatabase, runId: string, seq: number): Promise<RunMeta> {
  return db.write(['runs', 'steps', 'epochs', 'checkpoints'], 'the resumed run', async (tx) => {
    const meta = await db.metaIn(tx, runId);
    const at = meta.checkpoints.findIndex((c) => c.seq === seq);
    if (at < 0) {
      throw new StorageError(
        'no-checkpoint',
        `Run "${meta.name}" has no checkpoint ${seq} (it has ${meta.checkpoints.map((c) => c.seq).join(', ') || 'none'}).`,
        'Load the latest checkpoint again and resume from that.',
      );
    }
    const ref = meta.checkpoints[at];
    const reqs = new Requests();
    const series = await cutSeriesAfter(tx, reqs, runId, ref.step);
    for (const newer of meta.checkpoints.slice(0, at)) reqs.add(tx.objectStore('checkpoints').delete([runId, newer.seq]));
    meta.checkpoints = meta.checkpoints.slice(at);
    meta.sizes.checkpoints = meta.checkpoints.reduce((sum, c) => sum + c.bytes, 0);
    meta.sizes.series = series.bytes;
    meta.lastStep = Math.min(meta.lastStep, ref.step);
    delete meta.bestTestError;
    delete meta.bestEpoch;
    Object.assign(meta, bestOf(series.epochs));
    delete meta.finalTestError;
    delete meta.endedAt;
    delete meta.divergedAt;
    if (ref.elapsedMs !== undefined) meta.elapsedMs = ref.elapsedMs;
    meta.status = 'running';
    meta.updatedAt = Date.now();
    reqs.add(tx.objectStore('runs').put(meta));
    await reqs.all();
    return meta;
  });
}

/** Deletes the run's checkpoints (e.g. once a finished run's final weights are saved). */
export async function dropCheckpoints(db: RunDatabase, runId: string): Promise<void> {
  await db.write(['runs', 'checkpoints'], 'the run', async (tx) => {
    const meta = await db.metaIn(tx, runId);
    const reqs = new Requests();
    reqs.add(tx.objectStore('checkpoints').delete(runRange(runId)));
    meta.checkpoints = [];
    meta.sizes.checkpoints = 0;
    meta.updatedAt = Date.now();
    reqs.add(tx.objectStore('runs').put(meta));
    await reqs.all();
  });
}
