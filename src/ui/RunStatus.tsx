// Live status of the run: epoch and iteration, progress of the epoch and of the run, images per
// second, time left, learning rate and backend. Redraws with the store's throttled revision.
import { liveStatus } from '../state/store.ts';
import { count, duration, epochs, num, percent } from './format.ts';
import { useLab } from './store-context.tsx';

const END_TEXT = {
  finished: 'Finished',
  stopped: 'Stopped',
  diverged: 'Diverged',
  'max-steps': 'Reached the step limit',
  failed: 'Failed',
  interrupted: 'Interrupted',
} as const;

export function RunStatus() {
  const record = useLab((s) => s.record);
  useLab((s) => s.revision);
  const phase = useLab((s) => s.phase);
  const summary = useLab((s) => s.summary);
  const backend = useLab((s) => s.backend);
  const trainError = useLab((s) => s.errors.train);
  const evalProgress = useLab((s) => s.evalProgress);
  const shownRun = useLab((s) => s.shownRun);

  const status = record ? liveStatus(record) : undefined;
  const state = phase === 'ended' && summary ? END_TEXT[summary.end] : phase === 'idle' ? 'Ready' : phase[0].toUpperCase() + phase.slice(1);

  return (
    <section className="panel status" aria-labelledby="status-title">
      <h2 id="status-title">
        Run{' '}
        <span className={`phase phase-${phase}`} data-testid="run-phase">
          {state}
        </span>
      </h2>
      {shownRun && (
        <p className="small muted" data-testid="shown-run">
          Saved run “{shownRun.name}”, opened from the Runs list.
        </p>
      )}
      {status ? (
        <>
          <dl className="status-grid">
            <div>
              <dt>Epoch</dt>
              <dd data-testid="status-epoch" title={`${status.epoch.toFixed(3)} epochs done`}>
                {epochs(status.epoch)} of {epochs(status.epochs)}
              </dd>
            </div>
            <div>
              <dt>Iteration</dt>
              <dd data-testid="status-iteration">
                {count(status.step)} of {count(status.totalSteps)}
              </dd>
            </div>
            <div>
              <dt>Images/s</dt>
              <dd>{status.imagesPerSecond === undefined ? '–' : status.imagesPerSecond.toFixed(status.imagesPerSecond < 10 ? 1 : 0)}</dd>
            </div>
            <div>
              <dt>Time left</dt>
              <dd>{phase === 'running' || phase === 'paused' ? duration(status.etaSeconds) : '–'}</dd>
            </div>
            <div>
              <dt>Learning rate</dt>
              <dd>{num(status.lr)}</dd>
            </div>
            <div>
              <dt>Backend</dt>
              <dd data-testid="run-backend">{record?.backend}</dd>
            </div>
            <div>
              <dt>Loss (smoothed)</dt>
              <dd>{num(status.loss)}</dd>
            </div>
            <div>
              <dt>Test error</dt>
              <dd data-testid="status-test-error">{percent(status.lastTestError)}</dd>
            </div>
          </dl>
          <div className="progress-row">
            <label htmlFor="epoch-progress">Epoch progress</label>
            <progress id="epoch-progress" max={1} value={status.epochFraction} />
          </div>
          <div className="progress-row">
            <label htmlFor="run-progress">Run progress</label>
            <progress id="run-progress" max={1} value={status.runFraction} />
            <span className="progress-text">{percent(status.runFraction, 1)}</span>
          </div>
        </>
      ) : (
        <p className="muted">
          Press Train to start{backend ? ` on ${backend.backend}` : ''}. The loss and the test error appear below as the network learns.
        </p>
      )}
      {evalProgress && evalProgress.purpose === 'epoch' && (
        <div className="progress-row">
          <label htmlFor="eval-progress">Testing</label>
          <progress id="eval-progress" max={evalProgress.total} value={evalProgress.done} />
        </div>
      )}
      {summary?.message && <p className="notice warn">{summary.message}</p>}
      {trainError && (
        <p className="notice error" role="alert">
          {trainError}
        </p>
      )}
    </section>
  );
}
