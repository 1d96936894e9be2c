// The experiment queue on the page (issue 6): add the current configuration, N seeds of it, or a whole
// published table (from the table's own "Queue this table"); Start / Pause queue (a pause lets the
// current run finish), Continue after a reload or an interruption (the interrupted run resumes from
// its checkpoint); each item with its state and its final-epoch test error (the headline), its best
// epoch flagged as chosen on the test set; and, over repeated seeds of one configuration, mean ± std.
// Every text is shown as text.
import { useId, useState } from 'react';
import { formatMeanStd } from '../../state/compare.ts';
import type { ExperimentConfig } from '../../experiment/config.ts';
import { FINISHED_STATES, MAX_SEEDS, queueGroups, type QueueItem } from '../../state/queue.ts';
import type { RunOptions } from '../../worker/protocol.ts';
import { count, epochs, percent } from '../format.ts';
import { useLab } from '../store-context.tsx';
import './queue.css';

function stateText(i: QueueItem): string {
  if (i.state === 'done' && i.end === 'max-steps') return 'done (step limit)';
  return i.state;
}

/** "batch 8, 1 epoch" and the run options: "max 20 steps, 50 test images". */
function detailText(c: ExperimentConfig, options: RunOptions): string {
  const parts = [`batch ${c.batch}`, `${c.epochs} epoch${c.epochs === 1 ? '' : 's'}`];
  if (options.maxSteps !== undefined) parts.push(`max ${count(options.maxSteps)} steps`);
  if (options.evalLimit !== undefined) parts.push(`${count(options.evalLimit)} test images`);
  if (options.checkpointEvery !== undefined) parts.push(`checkpoint every ${count(options.checkpointEvery)}`);
  return parts.join(', ');
}

function ItemRow({ item, index, last, busyHere }: { item: QueueItem; index: number; last: boolean; busyHere: boolean }) {
  const remove = useLab((s) => s.queueRemove);
  const move = useLab((s) => s.queueMove);
  const retry = useLab((s) => s.queueRetry);
  const running = item.state === 'running';
  const again = item.state === 'stopped' || item.state === 'failed' || item.state === 'diverged' || item.state === 'interrupted';
  return (
    <tr data-testid="queue-item" data-state={item.state} data-item-id={item.id}>
      <td className="num">{index + 1}</td>
      <td>
        <span data-testid="queue-label">{item.label}</span>
        <div className="muted small">{detailText(item.config, item.options)}</div>
      </td>
      <td className="num">{item.config.seed}</td>
      <td>
        <span className={`queue-state queue-state-${item.state}`} data-testid="queue-state">
          {stateText(item)}
        </span>
        {running && busyHere && <div className="muted small">training now</div>}
        {item.message && <div className="muted small queue-message">{item.message}</div>}
      </td>
      <td data-testid="queue-result">
        {item.finalTestError !== undefined ? (
          <>
            final <strong>{percent(item.finalTestError)}</strong>
            {item.bestTestError !== undefined && (
              <div className="muted small">
                best {percent(item.bestTestError)}
                {item.bestEpoch !== undefined ? ` at epoch ${epochs(item.bestEpoch)}` : ''}{' '}
                <span className="flag">chosen on the test set</span>
              </div>
            )}
          </>
        ) : (
          <span className="muted">–</span>
        )}
      </td>
      <td className="queue-actions">
        <button
          type="button"
          aria-label={`Move item ${index + 1} up`}
          title="Move up"
          disabled={index === 0}
          onClick={() => move(item.id, -1)}
        >
          ↑
        </button>
        <button type="button" aria-label={`Move item ${index + 1} down`} title="Move down" disabled={last} onClick={() => move(item.id, 1)}>
          ↓
        </button>
        {again && (
          <button type="button" title="Put it back in line, to train from scratch" onClick={() => retry(item.id)}>
            Run again
          </button>
        )}
        <button type="button" disabled={running} title={running ? 'Stop its run first' : undefined} onClick={() => remove(item.id)}>
          Remove
        </button>
      </td>
    </tr>
  );
}

function Repeats({ items }: { items: QueueItem[] }) {
  const groups = queueGroups(items);
  if (groups.length === 0) return null;
  return (
    <div className="queue-repeats" data-testid="queue-repeats">
      <h3>Mean ± std over seeds</h3>
      <table className="queue-table">
        <thead>
          <tr>
            <th>Configuration</th>
            <th>Seeds</th>
            <th>Final-epoch test error</th>
            <th>Best-epoch test error</th>
          </tr>
        </thead>
        <tbody>
          {groups.map((g) => {
            const left = g.runs.length - (g.final?.n ?? 0);
            return (
              <tr key={g.key} data-testid="queue-group">
                <td>
                  {g.runs[0]!.label}
                  <div className="muted small">{detailText(g.runs[0]!.config, g.runs[0]!.options)}</div>
                </td>
                <td>{g.seeds.join(', ')}</td>
                <td data-testid="queue-group-final">
                  <strong>{g.final ? formatMeanStd(g.final) : '–'}</strong>
                  {left > 0 && <div className="muted small">{left} diverged, left out</div>}
                </td>
                <td data-testid="queue-group-best">
                  {g.best ? formatMeanStd(g.best) : '–'} <span className="flag">chosen on the test set</span>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p className="muted small">
        The headline is the error after the last epoch (as gcr reported it), in percent, ± the sample standard deviation over seeds. The
        best epoch's error is picked by looking at the test set, so it is optimistic.
      </p>
    </div>
  );
}

export function QueuePanel() {
  const id = useId();
  const items = useLab((s) => s.queueItems);
  const running = useLab((s) => s.queueRunning);
  const notice = useLab((s) => s.queueNotice);
  const saveError = useLab((s) => s.queueSaveError);
  const blocked = useLab((s) => s.queueBlocked);
  const phase = useLab((s) => s.phase);
  const addCurrent = useLab((s) => s.queueAddCurrent);
  const addSeeds = useLab((s) => s.queueAddSeeds);
  const start = useLab((s) => s.queueStart);
  const pause = useLab((s) => s.queuePause);
  const clearFinished = useLab((s) => s.queueClearFinished);
  const dismiss = useLab((s) => s.dismissQueueNotice);
  const discard = useLab((s) => s.queueDiscardUnreadable);
  const [seedsText, setSeedsText] = useState('3');

  const busy = phase === 'starting' || phase === 'running' || phase === 'paused';
  const seeds = /^\d{1,3}$/.test(seedsText.trim()) ? Number(seedsText.trim()) : NaN;
  const seedsOk = Number.isInteger(seeds) && seeds >= 1 && seeds <= MAX_SEEDS;
  const interrupted = items.some((i) => i.state === 'interrupted');
  const pending = items.filter((i) => i.state === 'waiting' || i.state === 'interrupted').length;
  const current = items.findIndex((i) => i.state === 'running');
  const finished = items.filter((i) => FINISHED_STATES.includes(i.state)).length;

  let status: string;
  if (items.length === 0) status = 'empty';
  else if (running && current >= 0) status = `running item ${current + 1} of ${items.length}`;
  else if (running && busy) status = 'waiting for the current run to end';
  else if (running) status = 'starting';
  else if (current >= 0) status = 'pausing: the current run finishes, then the queue waits';
  else if (pending === 0) status = `all ${items.length} done`;
  else status = `paused, ${pending} to run`;

  return (
    <section className="panel queue" aria-labelledby={`${id}-title`} data-testid="queue-panel">
      <h2 id={`${id}-title`}>
        Queue{' '}
        <span className="muted small" data-testid="queue-status">
          {status}
        </span>
      </h2>
      <p className="muted small">
        Experiments run one after another, each a saved run with its checkpoints; the queue survives a reload. Each item keeps the run
        options (max steps, test images, checkpoint interval) in force when it was added. Whole published tables are queued from their own
        tab below.
      </p>
      <div className="queue-controls">
        <button type="button" onClick={addCurrent}>
          Add current configuration
        </button>
        <span className="queue-seeds">
          <input
            aria-label="Seeds to queue"
            inputMode="numeric"
            value={seedsText}
            onChange={(e) => setSeedsText(e.target.value)}
            aria-invalid={!seedsOk}
          />
          <button
            type="button"
            disabled={!seedsOk}
            onClick={() => addSeeds(seeds)}
            title="The current configuration with seeds from the current seed upward"
          >
            Queue {seedsOk ? seeds : 'N'} seeds
          </button>
          {!seedsOk && (
            <span className="field-error" role="alert">
              a whole number from 1 to {MAX_SEEDS}
            </span>
          )}
        </span>
        <span className="queue-run-controls">
          {running ? (
            <button type="button" onClick={pause} title="The current run finishes; the next one does not start">
              Pause queue
            </button>
          ) : (
            <button type="button" className="primary" disabled={pending === 0 || current >= 0} onClick={start}>
              {interrupted ? 'Continue queue' : 'Start queue'}
            </button>
          )}
          <button type="button" disabled={finished === 0} onClick={clearFinished}>
            Clear finished
          </button>
        </span>
      </div>
      {running && busy && current < 0 && (
        <p className="muted small" role="status">
          A run you started is training: the queue starts its next item when that run ends.
        </p>
      )}
      {notice && (
        <div className={`notice queue-notice queue-notice-${notice.kind}`} role="alert" data-testid="queue-notice" data-kind={notice.kind}>
          <span>{notice.message}</span>{' '}
          {notice.kind === 'unreadable' && blocked && (
            <button type="button" onClick={discard}>
              Discard the unreadable queue
            </button>
          )}{' '}
          <button type="button" onClick={dismiss}>
            Dismiss
          </button>
        </div>
      )}
      {saveError && (
        <p className="notice error" role="alert" data-testid="queue-save-error">
          {saveError}
        </p>
      )}
      {items.length > 0 ? (
        <div className="queue-table-box">
          <table className="queue-table" aria-label="Queued experiments">
            <thead>
              <tr>
                <th className="num">#</th>
                <th>Experiment</th>
                <th className="num">Seed</th>
                <th>State</th>
                <th>Test error</th>
                <th>
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((item, k) => (
                <ItemRow key={item.id} item={item} index={k} last={k === items.length - 1} busyHere={busy} />
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p className="muted small">Nothing queued.</p>
      )}
      <Repeats items={items} />
    </section>
  );
}
