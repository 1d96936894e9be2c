// Names what the opened link got wrong (unknown keys, invalid values) and says defaults were used.
// The values are shown as text only; nothing from the URL is interpreted as markup or code.
import { useLab } from './store-context.tsx';

export function UrlNotice() {
  const issues = useLab((s) => s.urlIssues);
  const dismiss = useLab((s) => s.dismissUrlIssues);
  if (issues.length === 0) return null;
  return (
    <div className="url-notice" role="alert" data-testid="url-notice">
      <strong>Some settings in this link were not understood and were replaced by defaults:</strong>
      <ul>
        {issues.map((i, k) => (
          <li key={k}>{i.message}</li>
        ))}
      </ul>
      <button type="button" onClick={dismiss}>
        Dismiss
      </button>
    </div>
  );
}
