// Which runs are being trained right now, across tabs: the training context (the worker) holds a Web
// Lock named after the run for as long as it trains it. The browser drops the lock when the tab or
// worker goes away, crashed or closed, so at start-up a run left 'running' or 'paused' whose lock is
// free was abandoned and becomes 'interrupted' (RunStore.markInterruptedOnStartup). Without the Web
// Locks API (Node, old browsers) nothing is held and every such run counts as abandoned.

const PREFIX = 'resnet-lab-run:';

export function runLockName(runId: string): string {
  return PREFIX + runId;
}

interface LockManagerLike {
  request(
    name: string,
    options: { mode?: 'exclusive' | 'shared'; ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<void>,
  ): Promise<void>;
  query(): Promise<{ held?: { name?: string }[] }>;
}

function lockManager(): LockManagerLike | undefined {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return nav?.locks;
}

/**
 * Hold the run's lock until the returned function is called (when the run ends, or the worker stops
 * training it). Resolves false instead when another tab or worker already trains this run; resolves a
 * no-op release where Web Locks do not exist.
 */
export async function holdRunLock(runId: string): Promise<(() => void) | false> {
  const locks = lockManager();
  if (!locks) return () => {};
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  return new Promise((resolve, reject) => {
    locks
      .request(runLockName(runId), { mode: 'exclusive', ifAvailable: true }, async (lock) => {
        if (lock === null) return resolve(false);
        resolve(release);
        await released;
      })
      .catch(reject);
  });
}

/** Ids of the runs whose lock is held somewhere on this origin; undefined without Web Locks. */
export async function heldRunIds(): Promise<Set<string> | undefined> {
  const locks = lockManager();
  if (!locks) return undefined;
  const { held = [] } = await locks.query();
  const ids = new Set<string>();
  for (const l of held) if (l.name?.startsWith(PREFIX)) ids.add(l.name.slice(PREFIX.length));
  return ids;
}
