// The Runs list: every run recorded in this browser (IndexedDB), newest first, with its status (and
// where it diverged), steps, final and best test error, backend, start time and size. Open re-plots a
// run in the charts; Resume continues an interrupted (or stopped, or failed) run from its last
// checkpoint; Rename; Delete with Undo; Export downloads any stored run as a run bundle (.zip); the
// Compare box puts it in the Compare view (src/ui/compare). Runs that repeat one configuration with other
// seeds are summarised above the list as mean ± std. Also the checkpoint interval for tests ("every N steps"; the
// lab always checkpoints at epoch ends and every 5 minutes) and the last checkpoint of the live run.
// The row of the run this page trains shows its steps and test error from the page's record as it goes
// (ProgressCells); the rest of the table comes from IndexedDB, read again now and then (runs-slice.ts).
import { useEffect, useId, useMemo, useState } from 'react';
import { formatBytes } from '../../storage/errors.ts';
import type { RunMeta } from '../../storage/schema.ts';
import { configDifferences, formatMeanStd, groupRepeats } from '../../state/compare.ts';
import { configFromQuery, formatConfigValue } from '../../experiment/config.ts';
import { MAX_COMPARE } from '../../state/compare-slice.ts';
import { canResume, liveProgress, liveRecordFor, type LiveProgress } from '../../state/runs-slice.ts';
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
  return [`ResNet-${q.get('depth') ?? '?'}`, q.get('protocol'), q.get('solver'), q.get('batch') && `batch ${q.get('batch')}`]
    .filter(Boolean)
    .join(', ');
}

/** Saves bytes as a file (a temporary link clicked once). */
function download(fileName: string, bytes: Uint8Array) {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

/** A training run's steps and test error from the page's record; redrawn with the store's revision, alone. */
function ProgressCells({ run, live }: { run: RunMeta; live: boolean }) {
  const record = useLab((s) => (live ? liveRecordFor(s, run.id) : undefined));
  useLab((s) => (record ? s.revision : 0));
  const p: LiveProgress = record
    ? liveProgress(run, record)
    : { lastStep: run.lastStep, testError: run.finalTestError, bestTestError: run.bestTestError };
  return (
    <>
      <td data-testid="run-steps" data-step={p.lastStep}>
        {count(p.lastStep)}
        {run.totalSteps ? ` / ${count(run.totalSteps)}` : ''}
        {run.checkpoints[0] && <div className="muted small">checkpoint at {count(run.checkpoints[0].step)}</div>}
      </td>
      <td
        data-testid="run-test-error"
        title={record ? 'latest / best so far (the best is chosen on the test set)' : 'final / best (the best is chosen on the test set)'}
      >
        {percent(p.testError)} / {percent(p.bestTestError)}
      </td>
    </>
  );
}

const time = (ms: number) => new Date(ms).toLocaleString('en-GB', { dateStyle: 'short', timeStyle: 'short' });

function RunRow({ run, live, shown, busy }: { run: RunMeta; live: boolean; shown: boolean; busy: boolean }) {
  const open = useLab((s) => s.openRun);
  const resume = useLab((s) => s.resumeRun);
  const rename = useLab((s) => s.renameRun);
  const remove = useLab((s) => s.deleteRun);
  const exportRun = useLab((s) => s.exportStoredRun);
  const compared = useLab((s) => s.compareIds.includes(run.id));
  const compareFull = useLab((s) => s.compareIds.length >= MAX_COMPARE);
  const toggleCompare = useLab((s) => s.toggleCompare);
  const [editing, setEditing] = useState<string | undefined>();
  const [exporting, setExporting] = useState<'busy' | { error: string } | undefined>();
  const doExport = async () => {
    setExporting('busy');
    try {
      const { fileName, bytes } = await exportRun(run.id);
      download(fileName, bytes);
      setExporting(undefined);
    } catch (e) {
      setExporting({ error: e instanceof Error ? e.message : String(e) });
    }
  };
  const active = run.status === 'running' || run.status === 'paused';
  const size = run.sizes.series + run.sizes.checkpoints + run.sizes.weights;
  const commit = () => {
    if (editing !== undefined && editing.trim() !== run.name) void rename(run.id, editing);
    setEditing(undefined);
  };
  return (
    <tr className={shown ? 'run-shown' : undefined} data-testid="run-row" data-run-id={run.id} data-status={run.status}>
      <td className="run-compare">
        <input
          type="checkbox"
          aria-label={`Compare ${run.name}`}
          title={!compared && compareFull ? `At most ${MAX_COMPARE} runs in Compare` : 'Show in Compare'}
          checked={compared}
          disabled={!compared && compareFull}
          onChange={(e) => toggleCompare(run.id, e.target.checked)}
        />
      </td>
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
      <ProgressCells run={run} live={live && active} />
      <td>{run.backend}</td>
      <td>{time(run.startedAt)}</td>
      <td data-testid="run-size" data-bytes={size}>
        {formatBytes(size)}
      </td>
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
        <button
          type="button"
          disabled={exporting === 'busy'}
          title="Download this run as a run bundle (.zip)"
          onClick={() => void doExport()}
        >
          Export
        </button>
        <button type="button" disabled={active} onClick={() => void remove(run.id)}>
          Delete
        </button>
        {typeof exporting === 'object' && (
          <div className="field-error small" role="alert">
            Export failed: {exporting.error}
          </div>
        )}
      </td>
    </tr>
  );
}

/** Finished runs grouped by configuration apart from the seed (and by step limit and test images). */
function Repeats({ runs }: { runs: RunMeta[] }) {
  const addToCompare = useLab((s) => s.addToCompare);
  const { groups, configs } = useMemo(() => {
    const configs = new Map(runs.map((r) => [r, configFromQuery(r.config)] as const)); // the stored queries, parsed once
    const groups = groupRepeats(
      runs.filter((r) => r.status !== 'running' && r.status !== 'paused'),
      (r) => ({
        config: configs.get(r)!,
        final: r.finalTestError,
        // The evaluation before training (epoch 0) is no result.
        best: r.bestEpoch === undefined || r.bestEpoch > 0 ? r.bestTestError : undefined,
        variant: `steps ${r.maxSteps ?? 'all'}, test ${r.evalLimit ?? 'all'}, train ${r.trainImages ?? 50_000}`,
      }),
    ).filter((g) => g.runs.length > 1);
    return { groups, configs };
  }, [runs]);
  // What tells the groups apart beyond depth, protocol, solver and batch (a learning rate, a schedule).
  const varying = useMemo(
    () => configDifferences(groups.map((g) => configs.get(g.runs[0]!)!)).filter((k) => k !== 'seed'),
    [groups, configs],
  );
  if (groups.length === 0) return null;
  return (
    <div className="runs-repeats" data-testid="runs-repeats">
      <h3>Repeated seeds</h3>
      <table className="runs-table">
        <thead>
          <tr>
            <th>Configuration</th>
            <th>Seeds</th>
            <th title="Test error at the end of each run (the number the papers report): mean ± sample std, in %">Final test error, %</th>
            <th title="Each run's lowest test error, chosen by looking at the test set (optimistic): mean ± std, in %">Best epoch, %</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {groups.map((g) => {
            const first = g.runs[0]!;
            return (
              <tr key={g.key} data-testid="repeat-group" data-runs={g.runs.length}>
                <td>
                  {configText(first.config)}
                  {varying.length > 0 && `, ${varying.map((k) => `${k} ${formatConfigValue(configs.get(first)!, k)}`).join(', ')}`}
                  <div className="muted small">
                    {first.maxSteps !== undefined ? `${count(first.maxSteps)}-step limit, ` : ''}
                    {first.evalLimit !== undefined ? `${count(first.evalLimit)} test images` : 'whole test set'}
                  </div>
                </td>
                <td>{[...g.seeds].sort((a, b) => a - b).join(', ')}</td>
                <td data-testid="repeat-final">
                  <strong>{g.final ? formatMeanStd(g.final) : '–'}</strong>
                </td>
                <td>
                  {g.best ? formatMeanStd(g.best) : '–'} <span className="flag">chosen on the test set</span>
                </td>
                <td>
                  <button type="button" onClick={() => addToCompare(g.runs.map((r) => r.id))}>
                    Compare these
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function CheckpointOptions() {
  const id = useId();
  const runOptions = useLab((s) => s.runOptions);
  const setRunOptions = useLab((s) => s.setRunOptions);
  const [text, setText] = useState(runOptions.checkpointEvery === undefined ? '' : String(runOptions.checkpointEvery));
  const [error, setError] = useState<string | undefined>();
  // The queue sets each item's run options: show the interval in force unless the box holds an edit in progress.
  const every = runOptions.checkpointEvery;
  useEffect(() => {
    if (error !== undefined) return;
    setText((t) => ((t.trim() === '' ? undefined : Number(t.trim())) === every ? t : every === undefined ? '' : String(every)));
  }, [every, error]);
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
      <input
        id={id}
        aria-label="Checkpoint every (steps)"
        inputMode="numeric"
        placeholder="–"
        value={text}
        onChange={(e) => commit(e.target.value)}
      />{' '}
      steps (not in the share link).
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
          {state === 'ready'
            ? `${runs.length} saved in this browser, ${formatBytes(total)}`
            : state === 'loading'
              ? 'opening the history…'
              : 'not saved'}
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
      <Repeats runs={runs} />
      {runs.length > 0 ? (
        <div className="runs-table-box">
          <table className="runs-table">
            <thead>
              <tr>
                <th title={`Show in Compare (up to ${MAX_COMPARE})`}>Compare</th>
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
        state === 'ready' && (
          <p className="muted">Every run you train is saved here, with its checkpoints, so a closed tab never costs you a run.</p>
        )
      )}
    </section>
  );
}
