// The claimed result a share link can carry (src/state/claim.ts). ClaimNotice shows the opened link's
// claim next to the configuration, labelled as what the sharer says (the page has not checked it),
// with the published number for the same configuration when there is one; ShareResultOption lets
// "Share" add your ended run's result to the link. URL text is only ever shown as text.
import { useMemo } from 'react';
import { describeClaim } from '../../experiment/claim.ts';
import { matchingRow } from '../../state/references.ts';
import { activeClaim, shareableClaim } from '../../state/workbench.ts';
import { useLab } from '../store-context.tsx';

export function ClaimNotice() {
  const sharedClaim = useLab((s) => s.sharedClaim);
  const config = useLab((s) => s.config);
  const issues = useLab((s) => s.claimIssues);
  const dismiss = useLab((s) => s.dismissClaimIssues);
  const claim = useMemo(() => activeClaim({ sharedClaim, config }), [sharedClaim, config]);
  const row = useMemo(() => (claim ? matchingRow(config) : undefined), [claim, config]);
  return (
    <>
      {claim && (
        <div className="claim" data-testid="claim" role="note" aria-label="Claimed result">
          <span className="claim-label">Claim</span> The person who shared this link says: {describeClaim(claim)} with this configuration.{' '}
          <span className="muted">Not verified by this page: train it to check.</span>
          {row && (
            <span className="muted">
              {' '}
              Published for it: {row.error.toFixed(2)}% ({row.name}).
            </span>
          )}
        </div>
      )}
      {!claim && sharedClaim && (
        <p className="muted small" data-testid="claim-stale">
          The link’s claim ({describeClaim(sharedClaim.claim)}) was for the configuration it opened with; you have changed it since.
        </p>
      )}
      {issues.length > 0 && (
        <div className="notice warn" role="alert" data-testid="claim-issues">
          The link’s run summary was not understood and is not shown:
          <ul>
            {issues.map((i, k) => (
              <li key={k}>{i.message}</li>
            ))}
          </ul>
          <button type="button" onClick={dismiss}>
            Dismiss
          </button>
        </div>
      )}
    </>
  );
}

/** The "include my result" choice beside Share; shown only when the ended run's result can be claimed. */
export function ShareResultOption({ checked, onChange }: { checked: boolean; onChange(v: boolean): void }) {
  const record = useLab((s) => s.record);
  const phase = useLab((s) => s.phase);
  const summary = useLab((s) => s.summary);
  const config = useLab((s) => s.config);
  const claim = useMemo(() => shareableClaim({ record, phase, summary, config }), [record, phase, summary, config]);
  if (!claim) return null;
  return (
    <label className="check small share-claim">
      <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} />
      Share with my result ({describeClaim(claim).replace(/^claimed /, '')})
    </label>
  );
}
