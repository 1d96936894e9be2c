// The workbench slice of the store with the real engine (wasm, demo sample) in Node: "Run this" sets
// a row's configuration, inspection of the current model, the current run exported as a bundle that
// decodes to exactly its record (weights included) plus CSV/JSON curves, an imported bundle as the
// overlay (a damaged one refused without changing it), and the claim a share link carries.
import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeSafetensors } from '../model/weights.ts';
import { modelSpec } from '../train/experiment.ts';
import { Engine } from '../worker/engine.ts';
import { openRunStore } from '../storage/run-store.ts';
import { encodeRunBundle } from './bundle.ts';
import { decodeRunFile } from './bundle-zip.ts';
import { formatConfigQuery, parseConfigQuery } from '../experiment/config.ts';
import { parseClaim } from '../experiment/claim.ts';
import { REFERENCE_TABLES } from './reference-tables.ts';
import { createLabStore } from './store.ts';
import { activeClaim, currentRunResult, importedRunResult, shareableClaim, shareQuery } from './workbench.ts';
import { nodeHost } from '../worker/node-host.ts';

function engine(): Engine {
  return new Engine(nodeHost());
}

const asFile = (name: string, content: string | Uint8Array) => new File([content as BlobPart], name);

describe('Run this', () => {
  it("sets the row's configuration (and URL form), keeping the seed; refused while a run is active", () => {
    const store = createLabStore(engine(), '?seed=9');
    const row = REFERENCE_TABLES.find((t) => t.id === 'gcr-depth')!.rows.find((r) => r.depth === 110)!;
    store.getState().runThis(row);
    const s = store.getState();
    expect(s.config).toMatchObject({ protocol: 'gcr', depth: 110, warmup: 'fancy', seed: 9 });
    expect(s.selectedRow).toBe(row);
    store.setState({ phase: 'running' });
    store.getState().runThis(REFERENCE_TABLES[0]!.rows[0]!);
    expect(store.getState().config.depth).toBe(110);
  });
});

describe('with a short run on the demo sample', () => {
  const store = createLabStore(engine(), '?depth=8&batch=16&epochs=1&seed=4');
  beforeAll(async () => {
    await store.getState().chooseBackend('wasm');
    await store.getState().loadData({ kind: 'demo' });
    store.getState().setRunOptions({ maxSteps: 20, evalLimit: 100 });
    await store.getState().train();
    expect(store.getState().summary?.end).toBe('max-steps');
  });

  it('inspects the current model, with the run’s own last test error', async () => {
    await store.getState().inspect({ recalibrate: false });
    const s = store.getState();
    expect(s.inspectError).toBeUndefined();
    expect(s.inspection).toMatchObject({ n: 100, steps: 20 });
    expect(s.inspection!.testError).toBeCloseTo(s.record!.epochs.at(-1)!.testError, 10);
    expect(s.inspectBusy).toBe(false);
    const img = await s.testImages([0, 1]);
    expect(img.pixels.length).toBe(6144);
  });

  it('exports the run as a bundle that decodes to its record, weights included, and as CSV/JSON curves', async () => {
    await store.getState().prepareExport();
    const s = store.getState();
    expect(s.exportError).toBeUndefined();
    const files = s.exported!.files;
    expect(s.exported!.notice).toBeUndefined();
    expect(files.map((f) => f.name.replace(/^resnet8-gcr-seed4-\d{8}-\d{4}/, 'X'))).toEqual([
      'X.zip',
      'X-steps.csv',
      'X-tests.csv',
      'X-curves.json',
    ]);
    const b = decodeRunFile(files[0]!.content as Uint8Array, files[0]!.name);
    const r = s.record!;
    expect(b.config).toBe(formatConfigQuery(r.config));
    expect(b.meta).toMatchObject({ status: 'max-steps', backend: 'wasm', seed: 4, trainImages: 500, maxSteps: 20, evalLimit: 100 });
    expect(b.meta.endedAt).not.toBeNull();
    expect(b.meta.imagesPerSecond).toBeGreaterThan(0);
    expect(Array.from(b.steps.step)).toEqual(r.steps.map((p) => p.step));
    expect(Array.from(b.steps.loss)).toEqual(r.steps.map((p) => Math.fround(p.loss)));
    expect(Array.from(b.tests.testError)).toEqual(r.epochs.map((e) => e.testError));
    expect(b.result.final?.testError).toBe(r.epochs.at(-1)!.testError);
    const spec = modelSpec(parseConfigQuery(b.config).config);
    expect(decodeSafetensors(spec, 'w', b.weights!).steps).toBe(20);
    const csv = (files[1]!.content as string).trim().split('\n');
    expect(csv.length).toBe(21);
    expect(csv[0]).toMatch(/^run,step,epoch,images,lr,loss,loss_smoothed,train_error/);
    expect((files[2]!.content as string).trim().split('\n').length).toBe(1 + r.epochs.length);
    expect(JSON.parse(files[3]!.content as string).steps.step.length).toBe(20);
  });

  it('imports a bundle as the overlay; a damaged one is refused and changes nothing', async () => {
    const bytes = store.getState().exported!.files[0]!.content as Uint8Array;
    // The same run as an older lab's .rlab file imports too.
    await store.getState().importBundle(asFile('old.rlab', encodeRunBundle(decodeRunFile(bytes))));
    expect(importedRunResult(store.getState().overlay!).tests.length).toBe(store.getState().record!.epochs.length);
    await store.getState().importBundle(asFile('theirs.zip', bytes));
    const o = store.getState().overlay!;
    expect(o.fileName).toBe('theirs.zip');
    expect(importedRunResult(o).tests.length).toBe(store.getState().record!.epochs.length);
    await store.getState().importBundle(asFile('cut.zip', bytes.subarray(0, bytes.length - 100)));
    expect(store.getState().importError).toMatch(/cut\.zip is a damaged zip file .*Download or copy it again/);
    expect(store.getState().overlay).toBe(o);
    await store.getState().importBundle(asFile('model.json', '{"weightsManifest": []}'));
    expect(store.getState().importError).toMatch(/not a ResNet Lab run bundle/);
    expect(store.getState().overlay).toBe(o);
    store.getState().clearOverlay();
    expect(store.getState().overlay).toBeUndefined();
  });

  it('saves an imported bundle in the run history, once; without a history it is shown and the reason said', async () => {
    const bytes = store.getState().exported!.files[0]!.content as Uint8Array;
    await store.getState().importBundle(asFile('theirs.zip', bytes));
    expect(store.getState().overlay!.saved).toEqual({ kind: 'not-saved', reason: 'Runs are not saved here.' });
    store.getState().clearOverlay();

    const other = createLabStore(engine(), '', {
      openHistory: () => openRunStore(`workbench-import-${Date.now()}`, { estimate: async () => undefined }),
    });
    for (let i = 0; i < 200 && other.getState().runsState === 'loading'; i++) await new Promise((r) => setTimeout(r, 10));
    expect(other.getState().runs).toEqual([]);
    await other.getState().importBundle(asFile('theirs.zip', bytes));
    const saved = other.getState().overlay!.saved;
    expect(saved).toMatchObject({ kind: 'saved' });
    const [run] = other.getState().runs;
    expect(run).toMatchObject({ config: formatConfigQuery(store.getState().record!.config), lastStep: 20, status: 'max-steps' });
    expect(saved).toMatchObject({ storedId: run!.id, name: run!.name });
    await other.getState().importBundle(asFile('again.zip', bytes)); // the same run: not stored twice
    expect(other.getState().overlay!.saved).toMatchObject({ kind: 'already', storedId: run!.id });
    expect(other.getState().runs.length).toBe(1);
  });

  it('shares the ended run’s result as a claim only for the run’s own configuration', () => {
    const s = store.getState();
    const claim = shareableClaim(s)!;
    expect(claim).toMatchObject({ backend: 'wasm', tested: 100 });
    expect(claim.testError).toBe(s.record!.epochs.at(-1)!.testError);
    const q = shareQuery(s, true);
    expect(parseClaim(q).claim).toMatchObject({ epochs: Number((20 / 31.25).toFixed(2)), tested: 100 });
    expect(shareQuery(s, false)).toBe(formatConfigQuery(s.config));
    expect(currentRunResult(s)?.complete).toBe(false);
    s.setField('seed', 5);
    expect(shareableClaim(store.getState())).toBeNull();
    expect(shareQuery(store.getState(), true)).toBe(formatConfigQuery(store.getState().config));
  });
});

describe('a link with a claim', () => {
  it('shows the claim while the configuration is the link’s, and names a bad claim', () => {
    const store = createLabStore(engine(), '?depth=56&seed=3&claim_err=6.94&claim_epochs=200&claim_backend=webgpu');
    expect(store.getState().urlIssues).toEqual([]);
    expect(activeClaim(store.getState())).toEqual({ testError: 0.0694, epochs: 200, backend: 'webgpu' });
    store.getState().setField('depth', 20);
    expect(activeClaim(store.getState())).toBeUndefined();
    store.getState().setField('depth', 56);
    expect(activeClaim(store.getState())).toBeDefined();

    const bad = createLabStore(engine(), '?claim_err=lots&claim_epochs=3');
    expect(bad.getState().sharedClaim).toBeUndefined();
    expect(bad.getState().claimIssues.map((i) => i.key)).toEqual(['claim_err']);
    bad.getState().dismissClaimIssues();
    expect(bad.getState().claimIssues).toEqual([]);
  });
});
