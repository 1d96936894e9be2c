// What the page must say about runs, above everything else: an interrupted run it can resume, what
// happened to the last run (the worker died, the GPU device was lost, the tab was slowed in the
// background), and a storage write that failed, with the largest stored runs to delete (training goes
// on meanwhile). Every text is shown as text.
import { formatBytes } from '../../storage/errors.ts';
import { canResume } from '../../state/runs-slice.ts';
import { count } from '../format.ts';
import { useLab } from '../store-context.tsx';

export function RunNotices() {
  const runs = useLab((s) => s.runs);
  const phase = useLab((s) => s.phase);
  const liveStoredId = useLab((s) => s.liveStoredId);
  const notice = useLab((s) => s.runNotice);
  const problem = useLab((s) => s.storageProblem);
  const resume = useLab((s) => s.resumeRun);
  const deleteRun = useLab((s) => s.deleteRun);
  const dismissNotice = useLab((s) => s.dismissRunNotice);
  const dismissProblem = useLab((s) => s.dismissStorageProblem);
  const busy = phase === 'starting' || phase === 'running' || phase === 'paused';
  const resumable = runs.filter((r) => r.status === 'interrupted' && canResume(r));
  const offer = busy ? undefined : resumable[0];

  return (
    <>
      {offer && (
        <div className="run-offer" role="status" data-testid="resume-offer">
          <span>
            Run <strong>“{offer.name}”</strong> was interrupted at step {count(offer.lastStep)}
            {offer.totalSteps ? ` of ${count(offer.totalSteps)}` : ''}; its last checkpoint is at step {count(offer.checkpoints[0].step)}.
            {resumable.length > 1
              ? ` (${resumable.length - 1} more interrupted run${resumable.length > 2 ? 's' : ''} in the Runs list.)`
              : ''}
          </span>
          <button type="button" className="primary" onClick={() => void resume(offer.id)}>
            Resume
          </button>
        </div>
      )}
      {notice && (
        <div className={`run-notice run-notice-${notice.kind}`} role={notice.kind === 'info' ? 'status' : 'alert'} data-testid="run-notice">
          <span>{notice.message}</span>
          <button type="button" onClick={dismissNotice}>
            Dismiss
          </button>
        </div>
      )}
      {problem && (
        <div className="run-notice run-notice-storage" role="alert" data-testid="storage-problem">
          <div>
            <strong>Storage:</strong> {problem.message} Training goes on.
            {problem.largestRuns.length > 0 && (
              <ul>
                {problem.largestRuns.map((r) => (
                  <li key={r.id}>
                    “{r.name}”, {formatBytes(r.bytes)}{' '}
                    <button type="button" disabled={r.id === liveStoredId && busy} onClick={() => void deleteRun(r.id)}>
                      Delete
                    </button>
                  </li>
                ))}
              </ul>
            )}
          </div>
          <button type="button" onClick={dismissProblem}>
            Dismiss
          </button>
        </div>
      )}
    </>
  );
}
