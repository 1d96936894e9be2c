// The page's side of the training worker: a LabEngine whose methods post requests and whose promises
// settle on the worker's replies. Created once per page (createLabEngine); its listeners are attached
// once. When module workers are unavailable, the same Engine runs in the page instead.

import { Engine } from './engine.ts';
import { browserHost } from './browser-host.ts';
import type { ExperimentConfig } from '../experiment/types.ts';
import type {
  BackendChoice,
  DataSource,
  EngineEvent,
  EngineReplies,
  EngineRequest,
  InspectOptions,
  LabEngine,
  ReplyType,
  RunOptions,
  SetBackendOptions,
  WorkerMessage,
} from './protocol.ts';

type RequestOf<T extends ReplyType> = Extract<EngineRequest, { type: T }>;

/** A request the worker refused or failed, with the worker's error name and message. */
export class WorkerRequestError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export class WorkerEngine implements LabEngine {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: EngineReplies[ReplyType]): void; reject(e: Error): void }>();
  private readonly listeners = new Set<(e: EngineEvent) => void>();

  private worker: Worker;

  /** `spawn` makes a fresh worker for restart() (after the first one died). */
  constructor(
    worker: Worker,
    private readonly spawn?: () => Worker,
  ) {
    this.worker = worker;
    this.attach(worker);
  }

  private attach(worker: Worker): void {
    worker.addEventListener('message', (e: MessageEvent<WorkerMessage>) => {
      if (worker === this.worker) this.receive(e.data);
    });
    worker.addEventListener('error', (e: ErrorEvent) => {
      if (worker !== this.worker) return;
      const message = `The training worker failed: ${e.message || 'it could not start'}`;
      this.rejectPending('WorkerError', message);
      this.dispatch({ type: 'error', scope: 'backend', name: 'WorkerError', message });
    });
  }

  private rejectPending(name: string, message: string): void {
    for (const p of this.pending.values()) p.reject(new WorkerRequestError(name, message));
    this.pending.clear();
  }

  /**
   * Replaces the worker (one that died, or lost its GPU device) by a fresh one: requests still waiting
   * are rejected with `reason`; the new worker has no backend or data until asked. False without `spawn`.
   */
  restart(reason: string): boolean {
    if (!this.spawn) return false;
    const old = this.worker;
    this.worker = this.spawn();
    this.attach(this.worker);
    this.rejectPending('WorkerStopped', reason);
    (old as Partial<Worker>).terminate?.();
    return true;
  }

  private receive(m: WorkerMessage): void {
    if (m.type === 'event') return this.dispatch(m.event);
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.value);
    else p.reject(new WorkerRequestError(m.name, m.message));
  }

  private dispatch(e: EngineEvent): void {
    for (const l of this.listeners) l(e);
  }

  private request<T extends ReplyType>(make: (id: number) => RequestOf<T>): Promise<EngineReplies[T]> {
    const id = this.nextId++;
    return new Promise<EngineReplies[T]>((resolve, reject) => {
      // The reply to request `id` is the value for its type T (serve.ts answers each type with its method).
      this.pending.set(id, { resolve: resolve as (v: EngineReplies[ReplyType]) => void, reject });
      this.worker.postMessage(make(id));
    });
  }

  setBackend(choice: BackendChoice, options: SetBackendOptions = {}) {
    return this.request<'set-backend'>((id) => ({ type: 'set-backend', id, choice, options }));
  }
  loadData(source: DataSource) {
    return this.request<'load-data'>((id) => ({ type: 'load-data', id, source }));
  }
  train(config: ExperimentConfig, options: RunOptions) {
    return this.request<'train'>((id) => ({ type: 'train', id, config, options }));
  }
  continueRun(storedId: string, options: RunOptions) {
    return this.request<'continue-run'>((id) => ({ type: 'continue-run', id, storedId, options }));
  }
  pause() {
    this.worker.postMessage({ type: 'pause' } satisfies EngineRequest);
  }
  resume() {
    this.worker.postMessage({ type: 'resume' } satisfies EngineRequest);
  }
  stop() {
    this.worker.postMessage({ type: 'stop' } satisfies EngineRequest);
  }
  exportWeights() {
    return this.request<'export-weights'>((id) => ({ type: 'export-weights', id }));
  }
  loadWeights(files: File[], config: ExperimentConfig, options: RunOptions) {
    return this.request<'load-weights'>((id) => ({ type: 'load-weights', id, files, config, options }));
  }
  inspect(options: InspectOptions) {
    return this.request<'inspect'>((id) => ({ type: 'inspect', id, options }));
  }
  testImages(indices: number[]) {
    return this.request<'test-images'>((id) => ({ type: 'test-images', id, indices }));
  }
  subscribe(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The page's engine: the training worker, or the same engine in the page where module workers fail. */
export function createLabEngine(): LabEngine {
  try {
    const spawn = () => new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'resnet-lab-training' });
    return new WorkerEngine(spawn(), spawn);
  } catch {
    return new Engine(browserHost(new URL(import.meta.env.BASE_URL, document.baseURI).href));
  }
}
