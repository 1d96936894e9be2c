// Stored runs to run bundles (.rlab) and back: a run written to one store, encoded with the real
// bundle encoder, decoded and imported into another store reads back the same series, evaluations,
// metadata and weights (real .safetensors bytes of a ResNet-8).

import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { describeParams } from '../model/resnet.ts';
import { encodeSafetensors, type WeightValues } from '../model/weights.ts';
import { decodeRunBundle, encodeRunBundle } from './bundle.ts';
import { formatConfigQuery, parseConfigQueryStrict } from '../experiment/config.ts';
import { modelSpec } from '../train/experiment.ts';
import { bundleToImport, runToBundle } from './bundle-io.ts';
import { openRunStore, type StepPoint } from '../storage/run-store.ts';

const CONFIG = formatConfigQuery(parseConfigQueryStrict('protocol=gcr&depth=8&seed=11&epochs=4'));

function safetensorsOf(config: string): Uint8Array {
  const spec = modelSpec(parseConfigQueryStrict(config));
  const values: WeightValues = {};
  for (const p of describeParams(spec))
    values[p.name] = Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i + p.name.length));
  return encodeSafetensors(spec, { config, steps: 2500, values });
}

const noEstimate = { estimate: async () => undefined };

describe('run bundles from and into the store', () => {
  it('a stored run survives export to .rlab and import into another store unchanged', async () => {
    const here = await openRunStore('bundle-io-a', noEstimate);
    const run = await here.createRun({
      name: 'ResNet-8 for a friend',
      config: CONFIG,
      backend: 'webgpu',
      startedAt: Date.UTC(2026, 10, 1),
      trainImages: 50000,
      evalLimit: 2000,
    });
    const points: StepPoint[] = Array.from({ length: 2500 }, (_, i) => ({
      step: i + 1,
      loss: Math.fround(2.3 * Math.exp(-i / 900)),
      lr: i < 2000 ? 0.1 : 0.01,
      trainError: Math.fround(0.9 * Math.exp(-i / 1200)),
      epochFloat: ((i + 1) * 128) / 50000,
      ms: (i + 1) * 310.25,
    }));
    for (let i = 0; i < points.length; i += 1000) await here.appendSteps(run.id, points.slice(i, i + 1000));
    const evals = [0, 391, 782, 1172, 1563, 1954, 2344, 2500].map((step, i) => ({
      step,
      epoch: (step * 128) / 50000,
      testError: [0.9, 0.5, 0.4, 0.42, 0.3, 0.28, 0.29, 0.27][i],
      evaluated: 2000,
    }));
    for (const e of evals) await here.appendEpoch(run.id, e);
    const weights = safetensorsOf(CONFIG);
    await here.saveFinalWeights(run.id, { format: 'safetensors', bytes: weights });
    await here.setStatus(run.id, 'max-steps', {
      endedAt: Date.UTC(2026, 10, 1, 3),
      finalTestError: 0.27,
      imagesPerSec: 412.5,
      elapsedMs: 775625,
    });

    const bytes = encodeRunBundle(runToBundle(await here.getRun(run.id), weights));
    const decoded = decodeRunBundle(bytes, 'friend.rlab');
    expect(decoded.result.final?.testError).toBe(0.27);
    expect(decoded.steps.ms).toBeDefined();

    const there = await openRunStore('bundle-io-b', noEstimate);
    const imported = await there.importRun(bundleToImport(decoded));
    const a = await here.getRun(run.id);
    const b = await there.getRun(imported.id);
    for (const k of ['step', 'epoch', 'loss', 'lr', 'trainError', 'ms'] as const)
      expect(Array.from(b.steps[k])).toEqual(Array.from(a.steps[k]));
    expect(b.epochs).toEqual(a.epochs);
    const same = [
      'name',
      'config',
      'seed',
      'backend',
      'startedAt',
      'endedAt',
      'status',
      'trainImages',
      'evalLimit',
      'finalTestError',
      'bestTestError',
      'bestEpoch',
      'imagesPerSec',
      'elapsedMs',
      'lastStep',
    ] as const;
    for (const k of same) expect([k, b.meta[k]]).toEqual([k, a.meta[k]]);
    expect(b.meta.producer).toBe('resnet-lab web');
    // Sizes are estimates that include the run id, whose length varies between stores: same within 1%.
    expect(Math.abs(b.meta.sizes.series - a.meta.sizes.series)).toBeLessThan(a.meta.sizes.series * 0.01);
    expect(await there.loadFinalWeights(imported.id)).toEqual({ format: 'safetensors', bytes: weights });
    here.close();
    there.close();
  });

  it('imports a run exported mid-training as stopped, and refuses inconsistent columns whole', async () => {
    const store = await openRunStore('bundle-io-c', noEstimate);
    const step = Uint32Array.from([1, 2, 3]);
    const base = { config: CONFIG, backend: 'wasm', status: 'running' as const };
    const ok = await store.importRun({
      run: base,
      steps: { step, loss: Float32Array.from([2, 1.9, 1.8]), lr: Float64Array.from([0.1, 0.1, 0.1]) },
      epochs: [{ epoch: 0, step: 0, testError: 0.9 }],
    });
    expect(ok).toMatchObject({ status: 'stopped', lastStep: 3, finalTestError: 0.9, seed: 11 });
    expect(Array.from((await store.getRun(ok.id)).steps.ms).every(Number.isNaN)).toBe(true);
    await expect(
      store.importRun({
        run: base,
        steps: { step, loss: Float32Array.from([2, 1.9]), lr: Float64Array.from([0.1, 0.1, 0.1]) },
        epochs: [],
      }),
    ).rejects.toThrow(/loss column has 2 values for 3 steps/);
    await expect(
      store.importRun({
        run: base,
        steps: { step: Uint32Array.from([1, 3, 2]), loss: new Float32Array(3), lr: new Float64Array(3) },
        epochs: [],
      }),
    ).rejects.toThrow(/not increasing/);
    expect((await store.listRuns()).map((r) => r.id)).toEqual([ok.id]);
    store.close();
  });
});
