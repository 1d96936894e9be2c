// The run history's IndexedDB connection: opening it (schema and upgrades in schema.ts), one
// all-or-nothing transaction per write, reads that fail with named errors, closing (also when another
// tab or the browser closes it), and the free-space check before large writes. It knows the records,
// not what they mean: runs.ts, series.ts, checkpoints.ts and weights.ts write them.

import { openDB, type IDBPDatabase, type IDBPTransaction } from 'idb';
import {
  DatabaseBlockedError,
  DatabaseClosedError,
  DatabaseVersionError,
  RunNotFoundError,
  StorageError,
  StorageQuotaError,
} from './errors.ts';
import { DB_VERSION, upgradeSchema, type RunDB, type RunMeta, type RunStoreName } from './schema.ts';
import { runSizesOf, type RunSize } from './sizes.ts';
import { browserEstimate, withMargin, type EstimateFn } from './space.ts';

export interface OpenRunStoreOptions {
  /** Free-space estimate consulted before checkpoints and weights are written (default: navigator.storage.estimate). */
  estimate?: EstimateFn;
  /** Called once if the connection is closed under this store (a newer lab in another tab, the browser). */
  onClose?: (error: DatabaseClosedError) => void;
  /** Schema version to request. Tests only: a higher one plays a newer lab in another tab. */
  version?: number;
}

export type SpaceReport =
  | { ok: true; needed: number; available?: number }
  | { ok: false; needed: number; available: number; shortBy: number; largestRuns: RunSize[]; message: string };

export type WriteTx = IDBPTransaction<RunDB, RunStoreName[], 'readwrite'>;

/** Opens (creating or upgrading) the database. Throws DatabaseBlockedError, DatabaseVersionError, StorageError('unavailable'). */
export async function openDatabase(name: string, options: OpenRunStoreOptions): Promise<RunDatabase> {
  if (typeof indexedDB === 'undefined') {
    throw new StorageError(
      'unavailable',
      'This browser context has no IndexedDB (some private-browsing modes remove it), so runs cannot be saved.',
      'Training still works; use a normal window to keep runs across reloads.',
    );
  }
  const version = options.version ?? DB_VERSION;
  let database: RunDatabase | undefined;
  return new Promise<RunDatabase>((resolve, reject) => {
    let settled = false;
    openDB<RunDB>(name, version, {
      upgrade: (db, oldVersion, newVersion, tx) => upgradeSchema(db, oldVersion, newVersion ?? version, tx),
      blocked: (currentVersion) => {
        if (settled) return;
        settled = true;
        reject(new DatabaseBlockedError(name, currentVersion, version));
      },
      blocking: () => database?.closeBecause('a newer version of the lab opened in another tab and needs to upgrade the run history'),
      terminated: () => database?.closeBecause('the browser closed it (site data cleared, or a disk error)'),
    }).then(
      (db) => {
        if (settled) {
          db.close(); // opened after we gave up waiting on the other tab
          return;
        }
        settled = true;
        database = new RunDatabase(db, name, options);
        resolve(database);
      },
      (e: unknown) => {
        if (settled) return;
        settled = true;
        reject(openError(name, e));
      },
    );
  });
}

function openError(name: string, e: unknown): Error {
  const errName = (e as { name?: string } | null)?.name;
  if (errName === 'VersionError') return new DatabaseVersionError(name, DB_VERSION, { cause: e });
  if (errName === 'QuotaExceededError') return new StorageQuotaError('the run history', { largestRuns: [] }, { cause: e });
  return new StorageError(
    'unavailable',
    `Could not open the run history "${name}": ${String((e as Error)?.message ?? e)}.`,
    'Reload the page; if it persists, the browser may block storage for this site.',
    {
      cause: e,
    },
  );
}

/** Every key of one run in the stores keyed [runId, n] (steps, epochs, checkpoints). */
export function runRange(runId: string, from = -Infinity, to = Infinity): IDBKeyRange {
  return IDBKeyRange.bound([runId, from], [runId, to]);
}

/** Keeps every request promise of a transaction handled, so one failure leaves no unhandled rejections. */
export class Requests {
  private readonly list: Promise<unknown>[] = [];
  add<T>(p: Promise<T>): Promise<T> {
    p.catch(() => {});
    this.list.push(p);
    return p;
  }
  all(): Promise<unknown[]> {
    return Promise.all(this.list);
  }
}

export function assertFinite(what: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new StorageError(
      'invalid',
      `${what} must be a finite number (got ${String(v)}).`,
      'This is a bug in the caller; nothing was written.',
    );
  }
}

function isQuota(e: unknown): boolean {
  return (e as { name?: string } | null)?.name === 'QuotaExceededError';
}

export class RunDatabase {
  readonly name: string;
  private readonly db: IDBPDatabase<RunDB>;
  private readonly estimate: EstimateFn;
  private readonly onClose?: (error: DatabaseClosedError) => void;
  private closedError?: DatabaseClosedError;

  constructor(db: IDBPDatabase<RunDB>, name: string, options: OpenRunStoreOptions) {
    this.db = db;
    this.name = name;
    this.estimate = options.estimate ?? browserEstimate;
    this.onClose = options.onClose;
  }

  /** Closes the connection; later calls throw DatabaseClosedError. */
  close(): void {
    if (!this.closedError) this.closedError = new DatabaseClosedError(this.name, 'this page closed it');
    this.db.close();
  }

  /** Closes the connection for a reason outside this page (see openDatabase's callbacks). */
  closeBecause(why: string): void {
    if (this.closedError) return;
    this.closedError = new DatabaseClosedError(this.name, why);
    this.db.close();
    this.onClose?.(this.closedError);
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** The open connection, for reads; throws DatabaseClosedError once closed. */
  conn(): IDBPDatabase<RunDB> {
    if (this.closedError) throw this.closedError;
    return this.db;
  }

  /** Every run's metadata (soft-deleted ones too), newest first. */
  async allRuns(): Promise<RunMeta[]> {
    const all = await this.conn()
      .getAllFromIndex('runs', 'by-started')
      .catch((e: unknown) => this.rethrowRead(e));
    return all.reverse();
  }

  /** The run's metadata inside a write transaction; RunNotFoundError aborts the transaction. */
  async metaIn(tx: WriteTx, runId: string): Promise<RunMeta> {
    const meta = await tx.objectStore('runs').get(runId);
    if (!meta) throw new RunNotFoundError(runId);
    return meta;
  }

  /** Runs `fn` in one readwrite transaction; any failure aborts all of it and is reported as a StorageError. */
  async write<T>(stores: RunStoreName[], what: string, fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    const tx = this.conn().transaction(stores, 'readwrite');
    let result: T;
    try {
      result = await fn(tx);
    } catch (e) {
      try {
        tx.abort();
      } catch {
        // already aborted by the failed request
      }
      const txError = await tx.done.then(
        () => undefined,
        (err: unknown) => err,
      );
      throw await this.failure(what, e, tx.error ?? txError);
    }
    try {
      await tx.done;
    } catch (e) {
      throw await this.failure(what, tx.error ?? e, undefined);
    }
    return result;
  }

  /** Rethrows a failed read as a StorageError (or the reason the connection closed). */
  rethrowRead(e: unknown): never {
    if (e instanceof StorageError) throw e;
    if (this.closedError) throw this.closedError;
    throw new StorageError(
      'read-failed',
      `Could not read the run history: ${String((e as Error | null)?.message ?? e)}.`,
      'Reload the page.',
      { cause: e },
    );
  }

  /** Bytes stored per run, largest first. */
  async runSizes(options: { includeDeleted?: boolean } = { includeDeleted: true }): Promise<RunSize[]> {
    const runs = await this.allRuns();
    return runSizesOf(runs.filter((r) => options.includeDeleted || r.deletedAt === undefined));
  }

  /**
   * Whether `bytes` more (plus a margin: see space.ts) fit in what the browser grants. When they do
   * not, the report says how much is missing and lists the stored runs largest first, with a message
   * for the page. ok with available undefined where the browser gives no estimate.
   */
  async checkSpace(bytes: number, what = 'this data'): Promise<SpaceReport> {
    const needed = withMargin(bytes);
    const est = await this.estimate();
    if (!est) return { ok: true, needed };
    const available = Math.max(0, est.quota - est.usage);
    if (needed <= available) return { ok: true, needed, available };
    const largestRuns = await this.runSizes();
    const shortBy = needed - available;
    const err = new StorageQuotaError(what, { needed, available, shortBy, largestRuns });
    return { ok: false, needed, available, shortBy, largestRuns, message: err.message };
  }

  /** Throws StorageQuotaError, before anything is written, when checkSpace says `bytes` do not fit. */
  async ensureSpace(bytes: number, what: string): Promise<void> {
    const report = await this.checkSpace(bytes, what);
    if (!report.ok) {
      const { needed, available, shortBy, largestRuns } = report;
      throw new StorageQuotaError(what, { needed, available, shortBy, largestRuns });
    }
  }

  private async failure(what: string, e: unknown, txError: unknown): Promise<Error> {
    if (isQuota(e) || isQuota(txError)) {
      const largestRuns = await this.runSizes().catch(() => []);
      return new StorageQuotaError(what, { largestRuns }, { cause: isQuota(e) ? e : txError });
    }
    if (e instanceof StorageError) return e;
    if (this.closedError) return this.closedError;
    const errName = (e as { name?: string } | null)?.name;
    const message = String((e as Error | null)?.message ?? e);
    if (errName === 'DataCloneError') {
      return new StorageError(
        'write-failed',
        `Could not save ${what}: it holds a value IndexedDB cannot store (${message}).`,
        'This is a bug in the lab; nothing of this write was kept.',
        { cause: e },
      );
    }
    return new StorageError(
      'write-failed',
      `Could not save ${what}: ${errName ?? 'Error'}: ${message}.`,
      'Nothing of this write was kept; try again, or reload the page.',
      { cause: e },
    );
  }
}
