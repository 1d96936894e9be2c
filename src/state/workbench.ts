// The store slice of the reproduction workbench (issue 6): "Run this" on a published row, looking
// inside the current model (in the worker), exporting the current run (bundle, CSV, JSON), importing
// someone else's bundle as an overlay, and the claimed result a share link can carry. Joined into the
// page's one store by src/state/store.ts; listens to the engine's events itself (inspection progress,
// the start and end of runs) so the store's own handler stays as it was. No DOM: files arrive as File
// objects and leave as bytes and strings for src/ui to offer as downloads.

import type { StoreApi } from 'zustand/vanilla';
import type { DecodedBundle, RunStatus } from './bundle.ts';
import { decodeRunFile } from './bundle-zip.ts';
import { parseClaim, claimFromResult, withClaim, type RunClaim } from '../experiment/claim.ts';
import { configFromQuery, configKey, formatConfigQuery, sameConfig } from '../experiment/config.ts';
import { runThisConfig, type RunResult } from './reference-tables.ts';
import { currentRunBundle, exportFiles } from './run-export.ts';
import type { ImportedRun, LabState, WorkbenchSlice } from './lab-state.ts';
import { bundleToImport } from './bundle-io.ts';
import type { EngineEvent, LabEngine } from '../worker/protocol.ts';

type Set = StoreApi<LabState>['setState'];
type Get = StoreApi<LabState>['getState'];

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

const ENDED: readonly RunStatus[] = ['finished', 'max-steps', 'stopped', 'diverged', 'failed'];

/** The current run's status as a bundle names it. */
export function currentStatus(s: Pick<LabState, 'phase' | 'summary'>): RunStatus {
  if (s.phase === 'paused') return 'paused';
  if (s.phase === 'ended' && s.summary && ENDED.includes(s.summary.end)) return s.summary.end;
  return 'running';
}

/** The current run as a RunResult for the reference tables (undefined before any test after training). */
export function currentRunResult(s: Pick<LabState, 'record' | 'phase' | 'summary'>): RunResult | undefined {
  const r = s.record;
  if (!r) return undefined;
  return { label: 'your run', config: r.config, tests: r.epochs, complete: s.phase === 'ended' && s.summary?.end === 'finished' };
}

/** An imported bundle as a RunResult. */
export function importedRunResult(o: ImportedRun): RunResult {
  const t = o.bundle.tests;
  const tests = Array.from(t.step, (step, i) => ({ step, epoch: t.epoch[i]!, testError: t.testError[i]!, evaluated: t.evaluated[i]! }));
  return { label: o.fileName, config: configFromQuery(o.bundle.config), tests, complete: o.bundle.meta.status === 'finished' };
}

/**
 * The claim "Share" can add: the ended run's last evaluation after training, when the configuration
 * being shared is the run's (seed included); otherwise null.
 */
export function shareableClaim(s: Pick<LabState, 'record' | 'phase' | 'summary' | 'config'>): RunClaim | null {
  const r = s.record;
  if (!r || s.phase !== 'ended' || !s.summary || s.summary.end === 'failed') return null;
  if (!sameConfig(r.config, s.config)) return null;
  const last = r.epochs[r.epochs.length - 1];
  if (!last || last.step === 0) return null;
  return claimFromResult(last, r.backend);
}

/** The share query for the current configuration, with the run's claim when `withResult` and there is one. */
export function shareQuery(s: Pick<LabState, 'record' | 'phase' | 'summary' | 'config'>, withResult: boolean): string {
  const query = formatConfigQuery(s.config);
  return withResult ? withClaim(query, shareableClaim(s)) : query;
}

/** The opened link's claim while the configuration is still the one it was made for. */
export function activeClaim(s: Pick<LabState, 'sharedClaim' | 'config'>): RunClaim | undefined {
  const c = s.sharedClaim;
  return c && sameConfig(c.config, s.config) ? c.claim : undefined;
}

export function workbenchSlice(set: Set, get: Get, engine: LabEngine, initialQuery: string): WorkbenchSlice {
  const { claim, issues } = parseClaim(initialQuery);
  engine.subscribe((e: EngineEvent) => {
    switch (e.type) {
      case 'inspect-progress':
        set({
          inspectProgress: e.done >= e.total && e.stage !== 'recalibrate' ? undefined : { stage: e.stage, done: e.done, total: e.total },
        });
        return;
      case 'run-start': {
        const { data, runOptions } = get();
        set({
          runNotes: { runId: e.runId, startedAt: Date.now(), trainImages: data?.train ?? 50_000, ...runOptions },
          inspection: undefined,
          exported: undefined,
          exportError: undefined,
          inspectError: undefined,
        });
        return;
      }
      case 'run-end': {
        const n = get().runNotes;
        if (n && n.runId === e.summary.runId) set({ runNotes: { ...n, endedAt: Date.now() } });
        return;
      }
      case 'data':
        set({ inspection: undefined }); // its indices belong to the old test set
        return;
      default:
        return;
    }
  });

  /** The bundle into the run history, unless the same run (name, configuration, start) is there already. */
  const saveImported = async (bundle: DecodedBundle): Promise<ImportedRun['saved']> => {
    // The same run: its own export (the page and the worker note its start a moment apart) or a bundle imported before.
    const startedAt = Date.parse(bundle.meta.startedAt);
    const lastStep = bundle.steps.step[bundle.steps.step.length - 1] ?? 0;
    const same = get().runs.find(
      (r) => r.config === bundle.config && r.lastStep === lastStep && Math.abs(r.startedAt - startedAt) < 60_000,
    );
    if (same) return { kind: 'already', storedId: same.id, name: same.name };
    try {
      const meta = await get().withHistory((store) => store.importRun(bundleToImport(bundle)));
      return meta
        ? { kind: 'saved', storedId: meta.id, name: meta.name }
        : { kind: 'not-saved', reason: get().runsError ?? 'runs are not saved in this browser.' };
    } catch (e) {
      return { kind: 'not-saved', reason: message(e) };
    }
  };

  return {
    runThis(row) {
      const s = get();
      if (s.phase === 'starting' || s.phase === 'running' || s.phase === 'paused') return;
      s.setConfig(runThisConfig(row, s.config));
      set({ selectedRow: row });
    },

    inspectBusy: false,
    async inspect({ recalibrate, recalibrateImages }) {
      if (get().inspectBusy) return;
      set({ inspectBusy: true, inspectError: undefined, inspectProgress: undefined });
      try {
        const inspection = await engine.inspect({ evalLimit: get().runOptions.evalLimit, recalibrate, recalibrateImages });
        set({ inspection });
      } catch (e) {
        set({ inspectError: message(e) });
      } finally {
        set({ inspectBusy: false, inspectProgress: undefined });
      }
    },
    testImages(indices) {
      return engine.testImages(indices);
    },

    exportBusy: false,
    async prepareExport() {
      const s = get();
      const record = s.record;
      const notes = s.runNotes;
      if (!record || !notes || notes.runId !== record.runId || s.exportBusy) return;
      set({ exportBusy: true, exportError: undefined, exported: undefined });
      try {
        let weights: Uint8Array | null = null;
        let notice: string | undefined;
        try {
          const w = await engine.exportWeights();
          const lastStep = record.steps[record.steps.length - 1]?.step ?? 0;
          if (w.config === configKey(record.config) && w.steps === lastStep) weights = w.safetensors;
          else notice = 'The weights are not included: the current model is not this run’s (weights were loaded since).';
        } catch (e) {
          notice = `The weights are not included: ${message(e)}`;
        }
        const bundle = currentRunBundle(record, { ...notes, status: currentStatus(get()) }, weights);
        set({ exported: { files: exportFiles(bundle), notice } });
      } catch (e) {
        set({ exportError: message(e) });
      } finally {
        set({ exportBusy: false });
      }
    },

    async importBundle(file) {
      set({ importError: undefined });
      try {
        const bytes = new Uint8Array(await file.arrayBuffer());
        const bundle = decodeRunFile(bytes, file.name);
        set({ overlay: { fileName: file.name, bundle } });
        const saved = await saveImported(bundle);
        if (get().overlay?.bundle === bundle) set({ overlay: { fileName: file.name, bundle, saved } });
      } catch (e) {
        set({ importError: message(e) });
      }
    },
    clearOverlay() {
      set({ overlay: undefined, importError: undefined });
    },

    sharedClaim: claim ? { claim, config: configFromQuery(initialQuery) } : undefined,
    claimIssues: issues,
    dismissClaimIssues() {
      set({ claimIssues: [] });
    },
  };
}
