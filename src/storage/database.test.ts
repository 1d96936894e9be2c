// The run store's database: full storage (the browser's quota refusing a commit, the free-space
// check before writing) keeps what was stored; opening, reopening, and the named errors for a newer
// database, a blocking tab, a closed connection and no IndexedDB at all.

import { describe, expect, it } from 'vitest';
import { openDB } from 'idb';
import { DatabaseBlockedError, DatabaseClosedError, DatabaseVersionError, StorageQuotaError } from './errors.ts';
import { openRunStore } from './run-store.ts';
import { DB_VERSION } from './schema.ts';
import { approxBytes } from './sizes.ts';
import { CONFIG, dump, fakeCheckpoint, freshName, freshStore, steps, track } from './test-utils.ts';

describe('full storage', () => {
  it('keeps the previous checkpoints when the browser refuses the commit for quota, and names the largest runs', async () => {
    const store = await freshStore();
    const small = await store.createRun({ name: 'small', config: CONFIG, backend: 'wasm' });
    const big = await store.createRun({ name: 'big', config: CONFIG, backend: 'wasm' });
    await store.saveCheckpoint(small.id, fakeCheckpoint(1, 100));
    await store.saveCheckpoint(big.id, fakeCheckpoint(1, 5000));
    await store.saveCheckpoint(big.id, fakeCheckpoint(2, 5000));
    const before = await dump(store.name);
    // A browser whose quota admits 30 KB per record: the put succeeds, then the transaction is aborted
    // with QuotaExceededError, as Chromium and Firefox report a full disk at commit.
    const proto = IDBObjectStore.prototype;
    const origPut = proto.put;
    proto.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      const req = origPut.call(this, value, key);
      if (approxBytes(value) > 30_000) {
        const tx = this.transaction as IDBTransaction & { _abort(name: string): void };
        req.addEventListener('success', () => tx._abort('QuotaExceededError'));
      }
      return req;
    };
    let err: unknown;
    try {
      err = await store.saveCheckpoint(big.id, fakeCheckpoint(3, 20000)).catch((e: unknown) => e);
    } finally {
      proto.put = origPut;
    }
    expect(err).toBeInstanceOf(StorageQuotaError);
    const q = err as StorageQuotaError;
    expect(q.code).toBe('quota');
    expect(q.shortage.largestRuns.map((r) => r.name)).toEqual(['big', 'small']);
    expect(q.message).toMatch(/Not enough storage space to save the checkpoint at step 3/);
    expect(q.message).toMatch(/"big"/);
    expect(q.message).toMatch(/previously saved checkpoint is kept/);
    expect(await dump(store.name)).toEqual(before);
    expect((await store.loadLatestCheckpoint(big.id))?.checkpoint).toEqual(fakeCheckpoint(2, 5000));
    expect((await store.loadLatestCheckpoint(big.id, 'previous'))?.checkpoint).toEqual(fakeCheckpoint(1, 5000));
  });

  it('checks free space before writing: short of space says how much is needed and which runs are largest', async () => {
    let free = 1e9;
    const store = await freshStore(async () => ({ usage: 1e10 - free, quota: 1e10 }));
    const old = await store.createRun({ name: 'old long run', config: CONFIG, backend: 'wasm' });
    await store.appendSteps(old.id, steps(1, 5000));
    await store.saveCheckpoint(old.id, fakeCheckpoint(5000, 50000));
    const run = await store.createRun({ name: 'current', config: CONFIG, backend: 'wasm' });
    await store.saveCheckpoint(run.id, fakeCheckpoint(10, 1000));
    const before = await dump(store.name);

    free = 500_000; // less than a 200 KB checkpoint plus the 1 MiB margin
    const report = await store.checkSpace(approxBytes(fakeCheckpoint(20, 50000)), 'the next checkpoint');
    expect(report.ok).toBe(false);
    if (report.ok) return;
    expect(report.available).toBe(500_000);
    expect(report.shortBy).toBe(report.needed - 500_000);
    expect(report.largestRuns[0]).toMatchObject({ name: 'old long run', deleted: false });
    expect(report.largestRuns[0].bytes).toBe(report.largestRuns[0].series + report.largestRuns[0].checkpoints);
    expect(report.message).toMatch(
      /^Not enough storage space to save the next checkpoint \(it needs 1\.\d MB, 488\.3 KB is free: short by \d+\.\d KB\)/,
    );
    expect(report.message).toMatch(/"old long run" \(/);

    const err = await store.saveCheckpoint(run.id, fakeCheckpoint(20, 50000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageQuotaError);
    expect((err as StorageQuotaError).shortage).toMatchObject({ available: 500_000, shortBy: report.shortBy, needed: report.needed });
    expect(await dump(store.name)).toEqual(before);

    free = 1e9;
    expect((await store.checkSpace(1000)).ok).toBe(true);
    await store.saveCheckpoint(run.id, fakeCheckpoint(20, 50000));
  });
});

describe('opening the database', () => {
  it('keeps what was stored across reopenings', async () => {
    const store = await freshStore();
    const run = await store.createRun({ config: CONFIG, backend: 'wasm' });
    await store.appendSteps(run.id, steps(1, 5));
    store.close();
    await expect(store.getMeta(run.id)).rejects.toBeInstanceOf(DatabaseClosedError);
    const again = await openRunStore(store.name);
    track(again);
    expect((await again.getRun(run.id)).steps.step.length).toBe(5);
  });

  it('reports a database written by a newer lab', async () => {
    const name = freshName();
    (await openDB(name, DB_VERSION + 1)).close();
    const err = await openRunStore(name).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseVersionError);
    expect((err as Error).message).toMatch(/newer version of the lab.*Reload the page/);
  });

  it('reports a database held at an older version by another tab, and closes itself for a newer tab', async () => {
    const name = freshName();
    // This page is the older lab; a newer lab (version + 1) opens in another tab: this one steps aside.
    const closedBy: DatabaseClosedError[] = [];
    const older = await openRunStore(name, { onClose: (e) => closedBy.push(e) });
    const run = await older.createRun({ config: CONFIG, backend: 'wasm' });
    const newer = await openRunStore(name, { version: DB_VERSION + 1 });
    expect(closedBy).toHaveLength(1);
    expect(closedBy[0].message).toMatch(/newer version of the lab opened in another tab/);
    await expect(older.getMeta(run.id)).rejects.toBeInstanceOf(DatabaseClosedError);
    expect((await newer.getMeta(run.id)).id).toBe(run.id);
    newer.close();

    // An old tab that does not step aside blocks the upgrade.
    const stubborn = await openDB(name, DB_VERSION + 1);
    const err = await openRunStore(name, { version: DB_VERSION + 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseBlockedError);
    expect((err as Error).message).toMatch(/open in another tab.*Close or reload the other ResNet Lab tabs/);
    stubborn.close();
  });

  it('says so when there is no IndexedDB at all', async () => {
    const saved = globalThis.indexedDB;
    // @ts-expect-error: removed for this test only
    delete globalThis.indexedDB;
    try {
      await expect(openRunStore('none')).rejects.toMatchObject({ code: 'unavailable' });
    } finally {
      globalThis.indexedDB = saved;
    }
  });
});
