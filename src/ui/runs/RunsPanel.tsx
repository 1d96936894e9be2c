// The Runs list: every run recorded in this browser (IndexedDB), newest first, with its status (and
// where it diverged), steps, final and best test error, backend, start time and size. Open re-plots a
// run in the charts; Resume continues an interrupted (or stopped, or failed) run from its last
// checkpoint; Rename; Delete with Undo. Also the checkpoint interval for tests ("every N steps"; the
// lab always checkpoints at epoch ends and every 5 minutes) and the last checkpoint of the live run.
import { useId, useState } from 'react';
import { formatBytes } from '../../storage/errors.ts';
import type { RunMeta } from '../../storage/schema.ts';
import { canResume } from '../../state/runs-slice.ts';
import { count, percent } from '../format.ts';
import { useLab } from '../store-context.tsx';
import './runs.css';

function statusText(r: RunMeta): string {
  switch (r.status) {
    case 'max-steps':
      return 'step limit';
    case 'diverged':
      return r.divergedAt ? `diverged at step ${count(r.divergedAt.step)} (lr ${r.divergedAt.lr})` : 'diverged';
    default:
      return r.status;
  }
}

function configText(config: string): string {
  const q = new URLSearchParams(config);
  return [`ResNet-${q.get('depth') ?? '?'}`, q.get('protocol'), q.get('solver'), q.get('batch') && `batch ${q.get('batch')}`].filter(Boolean).join(', ');
}

const time = (ms: number) => new Date(ms).toLocaleString('en-GB', { dateStyle: 'short', timeStyle: 'short' });

function RunRow({ run, live, shown, busy }: { run: RunMeta; live: boolean; shown: boolean; busy: boolean }) {
  const open = useLab((s) => s.openRun);
  const resume = useLab((s) => s.resumeRun);
  const rename = useLab((s) => s.renameRun);
  const remove = useLab((s) => s.deleteRun);
  const [editing, setEditing] = useState<string | undefined>();
  const active = run.status === 'running' || run.status === 'paused';
  const size = run.sizes.series + run.sizes.checkpoints + run.sizes.weights;
  const commit = () => {
    if (editing !== undefined && editing.trim() !== run.name) void rename(run.id, editing);
    setEditing(undefined);
  };
  return (
    <tr className={shown ? 'run-shown' : undefined} data-testid="run-row" data-run-id={run.id} data-status={run.status}>
      <td className="run-name">
        {editing === undefined ? (
          <span data-testid="run-name">{run.name}</span>
        ) : (
          <input
            aria-label="New name"
            value={editing}
            autoFocus
            maxLength={200}
            onChange={(e) => setEditing(e.target.value)}
            onBlur={commit}
            onKeyDown={(e) => {
              if (e.key === 'Enter') commit();
              if (e.key === 'Escape') setEditing(undefined);
            }}
          />
        )}
        <div className="muted small">
          {configText(run.config)}, seed {run.seed}
        </div>
      </td>
      <td>
        <span className={`run-status run-status-${run.status}`}>{statusText(run)}</span>
        {live && active && <div className="muted small">in this tab</div>}
      </td>
      <td>
        {count(run.lastStep)}
        {run.totalSteps ? ` / ${count(run.totalSteps)}` : ''}
        {run.checkpoints[0] && <div className="muted small">checkpoint at {count(run.checkpoints[0].step)}</div>}
      </td>
      <td title="final / best (the best is chosen on the test set)">
        {percent(run.finalTestError)} / {percent(run.bestTestError)}
      </td>
      <td>{run.backend}</td>
      <td>{time(run.startedAt)}</td>
      <td>{formatBytes(size)}</td>
      <td className="run-actions">
        <button type="button" disabled={busy} onClick={() => void open(run.id)}>
          Open
        </button>
        {canResume(run) && (
          <button type="button" disabled={busy} onClick={() => void resume(run.id)}>
            Resume
          </button>
        )}
        <button type="button" onClick={() => setEditing(run.name)}>
          Rename
        </button>
        <button type="button" disabled={active} onClick={() => void remove(run.id)}>
          Delete
        </button>
      </td>
    </tr>
  );
}

function CheckpointOptions() {
  const id = useId();
  const runOptions = useLab((s) => s.runOptions);
  const setRunOptions = useLab((s) => s.setRunOptions);
  const [text, setText] = useState(runOptions.checkpointEvery === undefined ? '' : String(runOptions.checkpointEvery));
  const [error, setError] = useState<string | undefined>();
  const commit = (t: string) => {
    setText(t);
    const v = t.trim();
    if (v === '') {
      setError(undefined);
      return setRunOptions({ ...runOptions, checkpointEvery: undefined });
    }
    if (!/^\d+$/.test(v) || Number(v) < 1) return setError('a whole number of at least 1, or empty');
    setError(undefined);
    setRunOptions({ ...runOptions, checkpointEvery: Number(v) });
  };
  return (
    <div className="runs-checkpoints small">
      Checkpoints at every epoch end and every 5 minutes (the last two are kept); also every{' '}
      <input id={id} aria-label="Checkpoint every (steps)" inputMode="numeric" placeholder="–" value={text} onChange={(e) => commit(e.target.value)} /> steps
      (not in the share link).
      {error && (
        <span className="field-error" role="alert">
          {' '}
          Checkpoint every: {error}
        </span>
      )}
    </div>
  );
}

export function RunsPanel() {
  const id = useId();
  const runs = useLab((s) => s.runs);
  const state = useLab((s) => s.runsState);
  const error = useLab((s) => s.runsError);
  const shownRun = useLab((s) => s.shownRun);
  const liveStoredId = useLab((s) => s.liveStoredId);
  const lastCheckpoint = useLab((s) => s.lastCheckpoint);
  const undo = useLab((s) => s.undo);
  const undoDelete = useLab((s) => s.undoDelete);
  const forget = useLab((s) => s.forgetDeleted);
  const phase = useLab((s) => s.phase);
  const busy = phase === 'starting' || phase === 'running' || phase === 'paused';
  const total = runs.reduce((s, r) => s + r.sizes.series + r.sizes.checkpoints + r.sizes.weights, 0);

  return (
    <section className="panel runs" aria-labelledby={`${id}-title`} data-testid="runs-panel">
      <h2 id={`${id}-title`}>
        Runs{' '}
        <span className="muted small">
          {state === 'ready' ? `${runs.length} saved in this browser, ${formatBytes(total)}` : state === 'loading' ? 'opening the history…' : 'not saved'}
        </span>
      </h2>
      <CheckpointOptions />
      {lastCheckpoint && lastCheckpoint.storedId === liveStoredId && (
        <p className="small muted" data-testid="last-checkpoint" data-step={lastCheckpoint.step} data-tensors={lastCheckpoint.tensors}>
          Last checkpoint of the current run: step {count(lastCheckpoint.step)}, {new Date(lastCheckpoint.at).toLocaleTimeString('en-GB')}.
        </p>
      )}
      {undo && (
        <div className="notice" role="status" data-testid="undo-notice">
          Deleted “{undo.name}”.{' '}
          <button type="button" onClick={() => void undoDelete()}>
            Undo
          </button>{' '}
          <button type="button" onClick={() => void forget()}>
            OK
          </button>
        </div>
      )}
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
      {runs.length > 0 ? (
        <div className="runs-table-box">
          <table className="runs-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Status</th>
                <th>Steps</th>
                <th>Test error</th>
                <th>Backend</th>
                <th>Started</th>
                <th>Size</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <RunRow key={r.id} run={r} live={r.id === liveStoredId} shown={r.id === shownRun?.id} busy={busy} />
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        state === 'ready' && <p className="muted">Every run you train is saved here, with its checkpoints, so a closed tab never costs you a run.</p>
      )}
    </section>
  );
}
