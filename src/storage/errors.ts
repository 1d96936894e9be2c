// The errors of the run store (src/storage). Each says what went wrong and what to do; `code` lets the
// worker and the page react without parsing text, and the named subclasses cover the failures a page
// must explain to the user: no space left, another tab in the way, a database from a newer lab.

import type { RunSize } from './sizes.ts';

export type StorageErrorCode =
  | 'unavailable' // no IndexedDB in this context
  | 'quota' // not enough space (checked before writing, or reported by the browser)
  | 'blocked' // another tab holds the database open at an older version
  | 'version-too-new' // the database was written by a newer version of the lab
  | 'closed' // the connection was closed (another tab upgraded it, or the browser dropped it)
  | 'not-found' // no run with this id
  | 'no-checkpoint' // the run has no (such) checkpoint to resume from
  | 'run-busy' // the run is being trained (here or in another tab)
  | 'invalid' // an argument the store refuses (a blank name, steps out of order, ...)
  | 'write-failed' // any other failed write; nothing of it was kept
  | 'read-failed'; // a failed read

export class StorageError extends Error {
  override name = 'StorageError';
  readonly code: StorageErrorCode;
  /** What to do about it, also the last sentence of the message. */
  readonly remedy: string;

  constructor(code: StorageErrorCode, problem: string, remedy: string, options?: { cause?: unknown }) {
    super(`${problem} ${remedy}`, options);
    this.code = code;
    this.remedy = remedy;
  }
}

/** How much space a write needed, how much there is, and the runs whose deletion would free most. */
export interface SpaceShortage {
  /** Bytes the write needs (with the safety margin), or undefined when the browser refused without saying. */
  needed?: number;
  /** Bytes free by navigator.storage.estimate (quota - usage), when the browser reports it. */
  available?: number;
  /** needed - available, when both are known. */
  shortBy?: number;
  /** Stored runs, largest first (the page lists these as "delete one of these"). */
  largestRuns: RunSize[];
}

export class StorageQuotaError extends StorageError {
  override name = 'StorageQuotaError';
  readonly shortage: SpaceShortage;

  constructor(what: string, shortage: SpaceShortage, options?: { cause?: unknown }) {
    super('quota', `Not enough storage space to save ${what}${describeShortage(shortage)}.`, quotaRemedy(shortage), options);
    this.shortage = shortage;
  }
}

export class DatabaseBlockedError extends StorageError {
  override name = 'DatabaseBlockedError';
  constructor(dbName: string, openVersion: number, wantedVersion: number) {
    super(
      'blocked',
      `The run history "${dbName}" is open in another tab of an older version of the lab (database version ${openVersion}; this page needs ${wantedVersion}).`,
      'Close or reload the other ResNet Lab tabs, then reload this page.',
    );
  }
}

export class DatabaseVersionError extends StorageError {
  override name = 'DatabaseVersionError';
  constructor(dbName: string, supported: number, options?: { cause?: unknown }) {
    super(
      'version-too-new',
      `The run history "${dbName}" was written by a newer version of the lab than this page (which reads database version ${supported} and older).`,
      'Reload the page to get the newest lab (clear the browser cache if it stays old); the stored runs are left untouched.',
      options,
    );
  }
}

export class DatabaseClosedError extends StorageError {
  override name = 'DatabaseClosedError';
  constructor(dbName: string, why: string) {
    super('closed', `The run history "${dbName}" is no longer open here: ${why}.`, 'Reload the page to reopen it; stored runs are kept.');
  }
}

export class RunNotFoundError extends StorageError {
  override name = 'RunNotFoundError';
  readonly runId: string;
  constructor(runId: string) {
    super('not-found', `No stored run has the id "${runId}".`, 'It may have been deleted (in this or another tab); reload the runs list.');
    this.runId = runId;
  }
}

const MB = 1024 * 1024;

/** Bytes as "12.3 MB" (binary megabytes; the page shows the same). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  if (bytes < MB) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 * MB) return `${(bytes / MB).toFixed(1)} MB`;
  return `${(bytes / (1024 * MB)).toFixed(2)} GB`;
}

function describeShortage(s: SpaceShortage): string {
  if (s.needed === undefined) return ' (the browser refused the write)';
  if (s.available === undefined) return ` (it needs ${formatBytes(s.needed)})`;
  return ` (it needs ${formatBytes(s.needed)}, ${formatBytes(Math.max(0, s.available))} is free: short by ${formatBytes(s.shortBy ?? s.needed - s.available)})`;
}

function quotaRemedy(s: SpaceShortage): string {
  const runs = s.largestRuns.slice(0, 3).map((r) => `"${r.name}" (${formatBytes(r.bytes)})`);
  const which = runs.length ? ` The largest stored runs are ${runs.join(', ')}.` : '';
  return `Delete runs you no longer need, or free disk space.${which} The previously saved checkpoint is kept.`;
}
