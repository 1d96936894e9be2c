// A run's final weights in the run history (one record per run, replaced when saved again). Not the
// weight formats themselves (src/model/weights.ts) and not the checkpoints taken during training.

import { Requests, runRange, type RunDatabase } from './database.ts';
import type { FinalWeights } from './schema.ts';
import { approxBytes } from './sizes.ts';

/** Stores the run's final weights (replacing earlier ones); dropCheckpoints: true also frees its checkpoints. */
export async function saveFinalWeights(
  db: RunDatabase,
  runId: string,
  weights: FinalWeights,
  options: { dropCheckpoints?: boolean } = {},
): Promise<void> {
  const bytes = approxBytes(weights);
  await db.ensureSpace(bytes, 'the final weights');
  const now = Date.now();
  await db.write(['runs', 'weights', 'checkpoints'], 'the final weights', async (tx) => {
    const meta = await db.metaIn(tx, runId);
    meta.sizes.weights = bytes;
    meta.updatedAt = now;
    const reqs = new Requests();
    if (options.dropCheckpoints) {
      reqs.add(tx.objectStore('checkpoints').delete(runRange(runId)));
      meta.checkpoints = [];
      meta.sizes.checkpoints = 0;
    }
    reqs.add(tx.objectStore('runs').put(meta));
    reqs.add(tx.objectStore('weights').put({ runId, savedAt: now, bytes, weights }));
    await reqs.all();
  });
}

export async function loadFinalWeights(db: RunDatabase, runId: string): Promise<FinalWeights | undefined> {
  const rec = await db
    .conn()
    .get('weights', runId)
    .catch((e: unknown) => db.rethrowRead(e));
  return rec?.weights;
}
