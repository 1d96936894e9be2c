// Helpers of the run-history specs: read what the lab stored in IndexedDB (the page's own database,
// read from the page with the raw IndexedDB API, independent of the lab's code), find the training
// worker, and hide/show the tab.
import { expect, type Page, type Worker } from '@playwright/test';

export interface StoredRun {
  id: string;
  name: string;
  status: string;
  lastStep: number;
  checkpoints: { step: number }[];
  divergedAt?: { step: number; lr: number };
  sizes: { series: number; checkpoints: number; weights: number };
}

/** Every stored run (newest first) and, for each, its losses in step order. */
export async function storedRuns(page: Page): Promise<{ run: StoredRun; steps: number[]; losses: number[] }[]> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('resnet-lab-runs');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const all = <T>(store: string, range?: IDBKeyRange) =>
      new Promise<T[]>((resolve, reject) => {
        const r = db.transaction(store).objectStore(store).getAll(range);
        r.onsuccess = () => resolve(r.result as T[]);
        r.onerror = () => reject(r.error);
      });
    const runs = (await all<StoredRun & { startedAt: number; deletedAt?: number }>('runs')).filter((r) => r.deletedAt === undefined);
    runs.sort((a, b) => b.startedAt - a.startedAt);
    const out = [];
    for (const run of runs) {
      const chunks = await all<{ step: Uint32Array; loss: Float32Array }>(
        'steps',
        IDBKeyRange.bound([run.id, -Infinity], [run.id, Infinity]),
      );
      out.push({ run, steps: chunks.flatMap((c) => Array.from(c.step)), losses: chunks.flatMap((c) => Array.from(c.loss)) });
    }
    db.close();
    return out;
  });
}

/** The lab's training worker (not tfjs-wasm's thread workers). */
export async function trainingWorker(page: Page): Promise<Worker> {
  let found: Worker | undefined;
  await expect
    .poll(() => {
      found = page.workers().find((w) => !w.url().startsWith('blob:') && /worker/i.test(w.url()));
      return Boolean(found);
    })
    .toBe(true);
  return found!;
}

/** Plays the tab going to the background (and back): the Page Visibility API as the lab reads it. */
export async function setTabHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}
