// The page's one zustand store, built from slices (configuration, engine, run, weights), written to by
// the training engine's events from outside React. Its shape (every slice's type) is in lab-state.ts.
//
// Per-step numbers never cause one render each: the engine's step events are appended to a mutable run
// record (every step is kept) and the store only bumps `revision` at most every RENDER_INTERVAL_MS, so
// the charts and the status redraw a few times a second whatever the training speed.
// No DOM here: the URL and downloads are handled by src/ui.

import { createStore, type StoreApi } from 'zustand/vanilla';
import { applyProtocol, changedFromProtocol, parseConfigQuery, type ExperimentConfig } from '../experiment/config.ts';
import { solverDefaultsFor } from '../experiment/protocols.ts';
import { LossSmoother } from './curves.ts';
import { workbenchSlice } from './workbench.ts';
import { runsSlice, type RunsOptions } from './runs-slice.ts';
import { queueSlice } from './queue-slice.ts';
import { compareSlice } from './compare-slice.ts';
import type { ConfigSlice, EngineSlice, LabState, LabStore, RunRecord, RunSlice, WeightsSlice } from './lab-state.ts';
import type { BackendInfo, EngineEvent, LabEngine } from '../worker/protocol.ts';

export type { LabState, LabStore, RunPhase, RunRecord } from './lab-state.ts';

export const RENDER_INTERVAL_MS = 250;

type Set = StoreApi<LabState>['setState'];
type Get = StoreApi<LabState>['getState'];

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function configSlice(set: Set, get: Get, initialQuery: string): ConfigSlice {
  const { config, issues } = parseConfigQuery(initialQuery);
  return {
    config,
    urlIssues: issues,
    setField(key, value) {
      const before = get().config;
      const changed = changedFromProtocol(before);
      let next: ExperimentConfig = { ...before, [key]: value };
      if (key === 'solver') {
        // A new solver brings its own defaults (gcr ran its adaptive solvers at other rates, without
        // weight decay), except for what the user had already changed.
        const defaults = solverDefaultsFor(before.protocol, next.solver);
        for (const k of ['lr', 'rho', 'wd'] as const) if (!changed.has(k)) next = { ...next, [k]: defaults[k] };
      }
      set({ config: next });
    },
    setProtocol(protocol) {
      const before = get().config;
      set({ config: applyProtocol(before, protocol, changedFromProtocol(before)) });
    },
    setConfig(config) {
      set({ config });
    },
    dismissUrlIssues() {
      set({ urlIssues: [] });
    },
  };
}

function engineSlice(set: Set, get: Get, engine: LabEngine): EngineSlice {
  return {
    backendChoice: 'auto',
    backendBusy: false,
    dataBusy: false,
    errors: {},
    async chooseBackend(choice, remembered) {
      set((s) => ({ backendChoice: choice, backendBusy: true, errors: { ...s.errors, backend: undefined } }));
      try {
        const { depth, batch } = get().config;
        const list = remembered === undefined ? undefined : Array.isArray(remembered) ? remembered : [remembered as BackendInfo];
        const backend = await engine.setBackend(choice, { remembered: list, step: { depth, batch } });
        set({ backend });
      } catch (e) {
        set((s) => ({ errors: { ...s.errors, backend: message(e) } }));
      } finally {
        set({ backendBusy: false, backendProbe: undefined });
      }
    },
    async loadData(source) {
      set((s) => ({ dataBusy: true, dataProgress: undefined, errors: { ...s.errors, data: undefined } }));
      try {
        const data = await engine.loadData(source);
        set({ data });
      } catch (e) {
        set((s) => ({ errors: { ...s.errors, data: message(e) } }));
      } finally {
        set({ dataBusy: false, dataProgress: undefined });
      }
    },
    clearError(scope) {
      set((s) => ({ errors: { ...s.errors, [scope]: undefined } }));
    },
  };
}

function runSlice(set: Set, get: Get, engine: LabEngine): RunSlice {
  return {
    phase: 'idle',
    revision: 0,
    runOptions: {},
    setRunOptions(options) {
      set({ runOptions: options });
    },
    async train() {
      const { phase, config, runOptions } = get();
      if (phase === 'starting' || phase === 'running' || phase === 'paused') return;
      set((s) => ({ phase: 'starting', summary: undefined, errors: { ...s.errors, train: undefined } }));
      try {
        const summary = await engine.train(config, runOptions);
        set({ summary, phase: 'ended' });
      } catch (e) {
        set((s) => ({ phase: s.record ? 'ended' : 'idle', errors: { ...s.errors, train: message(e) } }));
      }
    },
    pause() {
      engine.pause();
    },
    resume() {
      engine.resume();
    },
    stop() {
      engine.stop();
    },
  };
}

function weightsSlice(set: Set, get: Get, engine: LabEngine): WeightsSlice {
  return {
    weightsBusy: false,
    async prepareWeights() {
      set((s) => ({ weightsBusy: true, errors: { ...s.errors, weights: undefined } }));
      try {
        set({ weightFiles: await engine.exportWeights() });
      } catch (e) {
        set((s) => ({ errors: { ...s.errors, weights: message(e) } }));
      } finally {
        set({ weightsBusy: false });
      }
    },
    async loadWeights(files) {
      const { config, runOptions } = get();
      set((s) => ({ weightsBusy: true, loaded: undefined, weightsNotice: undefined, errors: { ...s.errors, weights: undefined } }));
      try {
        const loaded = await engine.loadWeights(files, config, { evalLimit: runOptions.evalLimit });
        set({ loaded, weightFiles: undefined });
        if (loaded.selectedFromFile) {
          const fromFile = loaded.config;
          set({
            config: fromFile,
            weightsNotice: `The weights are for ResNet-${fromFile.depth} (${fromFile.block}, shortcut ${fromFile.shortcut}, ${fromFile.protocol} protocol): that configuration is now selected.`,
          });
        }
      } catch (e) {
        set((s) => ({ errors: { ...s.errors, weights: message(e) } }));
      } finally {
        set({ weightsBusy: false, evalProgress: undefined });
      }
    },
  };
}

// ---- engine events -> store ---------------------------------------------------------------------

/** Applies engine events; step and epoch numbers go to the record, renders are throttled. */
function eventHandler(store: LabStore): (e: EngineEvent) => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const render = () => {
    timer = undefined;
    store.setState((s) => ({ revision: s.revision + 1 }));
  };
  const renderSoon = () => {
    if (timer === undefined) timer = setTimeout(render, RENDER_INTERVAL_MS);
  };
  const renderNow = () => {
    if (timer !== undefined) clearTimeout(timer);
    render();
  };
  const current = (runId: number) => {
    const r = store.getState().record;
    return r && r.runId === runId ? r : undefined;
  };

  return (e) => {
    switch (e.type) {
      case 'backend':
        store.setState({ backend: e.info });
        return;
      case 'backend-probe':
        store.setState({ backendProbe: e.message });
        return;
      case 'data-progress':
        store.setState({ dataProgress: { stage: e.stage, file: e.file, fraction: e.fraction } });
        return;
      case 'data':
        store.setState({ data: e.info });
        return;
      case 'run-start': {
        const record: RunRecord = {
          runId: e.runId,
          config: e.config,
          totalSteps: e.totalSteps,
          stepsPerEpoch: e.stepsPerEpoch,
          batch: e.batch,
          backend: e.backend,
          steps: [],
          smoothed: [],
          epochs: [],
          smoother: new LossSmoother(),
        };
        store.setState({ record, phase: 'running', summary: undefined });
        renderNow();
        return;
      }
      case 'steps': {
        const r = current(e.runId);
        if (!r) return;
        for (const p of e.points) {
          r.steps.push(p);
          r.smoothed.push(r.smoother.push(p.loss));
        }
        renderSoon();
        return;
      }
      case 'epoch': {
        const r = current(e.runId);
        if (!r) return;
        r.epochs.push(e.point);
        renderSoon();
        return;
      }
      case 'eval-progress':
        store.setState({ evalProgress: e.done >= e.total ? undefined : { purpose: e.purpose, done: e.done, total: e.total } });
        return;
      case 'run-state':
        if (current(e.runId)) store.setState({ phase: e.state });
        return;
      case 'run-end':
        store.setState({ phase: 'ended', summary: e.summary, evalProgress: undefined });
        renderNow();
        return;
      case 'error':
        store.setState((s) => ({ errors: { ...s.errors, [e.scope]: e.message } }));
        return;
    }
  };
}

/** The store, connected to an engine (the worker client on the page; the in-thread engine in tests). */
export function createLabStore(engine: LabEngine, initialQuery = '', runs: RunsOptions = {}): LabStore {
  const store = createStore<LabState>()((set, get) => ({
    ...configSlice(set, get, initialQuery),
    ...engineSlice(set, get, engine),
    ...runSlice(set, get, engine),
    ...weightsSlice(set, get, engine),
    ...workbenchSlice(set, get, engine, initialQuery), // src/state/workbench.ts (issue 6)
    ...runsSlice(set, get, engine, runs), // src/state/runs-slice.ts (issue 5): run history, resume, failures
    ...queueSlice(set, get, engine), // src/state/queue-slice.ts (issue 6): experiments one after another
    ...compareSlice(set, get), // src/state/compare-slice.ts (issue 6): stored runs side by side
  }));
  engine.subscribe(eventHandler(store));
  return store;
}

// ---- derived values (pure) ----------------------------------------------------------------------

export interface LiveStatus {
  step: number;
  totalSteps: number;
  epoch: number; // completed epochs (fractional)
  epochs: number; // epochs the run will do (fractional when max steps cut it)
  epochFraction: number; // progress within the current epoch, 0..1
  runFraction: number;
  lr?: number;
  loss?: number;
  imagesPerSecond?: number;
  etaSeconds?: number;
  lastTestError?: number;
}

/** Rates need at least this much training time between the points they compare (GPU backends report steps in groups). */
const MIN_RATE_SPAN_MS = 250;

/** Status of a run from its record: rates over the last few seconds of training time. */
export function liveStatus(r: RunRecord, windowMs = 10_000): LiveStatus {
  const last = r.steps[r.steps.length - 1];
  const step = last?.step ?? 0;
  const status: LiveStatus = {
    step,
    totalSteps: r.totalSteps,
    epoch: step / r.stepsPerEpoch,
    epochs: r.totalSteps / r.stepsPerEpoch,
    epochFraction: step === 0 ? 0 : step % r.stepsPerEpoch === 0 ? 1 : (step % r.stepsPerEpoch) / r.stepsPerEpoch,
    runFraction: r.totalSteps > 0 ? step / r.totalSteps : 0,
    lr: last?.lr,
    loss: r.smoothed[r.smoothed.length - 1],
    lastTestError: r.epochs[r.epochs.length - 1]?.testError,
  };
  if (r.steps.length >= 2) {
    let i = r.steps.length - 1;
    while (i > 0 && last.ms - r.steps[i - 1].ms <= windowMs) i--;
    const first = r.steps[i];
    const dt = last.ms - first.ms;
    if (dt >= MIN_RATE_SPAN_MS && last.step > first.step) {
      const stepsPerMs = (last.step - first.step) / dt;
      status.imagesPerSecond = stepsPerMs * r.batch * 1000;
      status.etaSeconds = (r.totalSteps - step) / stepsPerMs / 1000;
    }
  }
  return status;
}
