// Which data the lab trains on. When public/data is absent it runs on the demo sample, clearly
// labelled, and offers to take the official cifar-10-binary.tar.gz (or its six .bin files) by drop or
// file picker, with progress and the MD5 check.
import { useId, useRef, useState } from 'react';
import { percent } from './format.ts';
import { useLab } from './store-context.tsx';

const STAGE_TEXT = {
  download: 'Reading',
  gunzip: 'Unpacking',
  md5: 'Checking MD5 of',
  parse: 'Reading records of',
  stats: 'Computing statistics of',
} as const;

export function DataPanel() {
  const id = useId();
  const data = useLab((s) => s.data);
  const busy = useLab((s) => s.dataBusy);
  const progress = useLab((s) => s.dataProgress);
  const error = useLab((s) => s.errors.data);
  const phase = useLab((s) => s.phase);
  const loadData = useLab((s) => s.loadData);
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const active = phase === 'starting' || phase === 'running' || phase === 'paused';
  const take = (files: FileList | null) => {
    if (files && files.length > 0 && !active) void loadData({ kind: 'files', files: [...files] });
  };

  return (
    <section className="panel" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Data {data?.kind === 'demo' && <span className="badge demo">demo</span>}</h2>
      {data ? (
        <p data-testid="data-label">
          {data.label}
          <br />
          <span className="muted small">from {data.origin}</span>
        </p>
      ) : (
        !busy && !error && <p className="muted">No data loaded.</p>
      )}
      {busy && (
        <div className="progress-row" role="status">
          <label htmlFor={`${id}-progress`}>{progress ? `${STAGE_TEXT[progress.stage]} ${progress.file}` : 'Loading data…'}</label>
          <progress id={`${id}-progress`} max={1} value={progress?.fraction ?? undefined} />
          {progress && <span className="progress-text">{percent(progress.fraction, 0)}</span>}
        </div>
      )}
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
      {(data?.kind !== 'full' || error) && (
        <p className="small">
          For the real experiment run <code>npm run data</code> and reload, or give the page the official{' '}
          <code>cifar-10-binary.tar.gz</code> (or its six <code>.bin</code> files):
        </p>
      )}
      <div
        className={`dropzone${over ? ' over' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          take(e.dataTransfer.files);
        }}
      >
        <span>Drop cifar-10-binary.tar.gz here, or</span>{' '}
        <button type="button" disabled={busy || active} onClick={() => input.current?.click()}>
          Choose CIFAR-10 files
        </button>
        <input
          ref={input}
          type="file"
          multiple
          hidden
          accept=".gz,.tgz,.bin"
          aria-label="CIFAR-10 files"
          onChange={(e) => {
            take(e.target.files);
            e.target.value = '';
          }}
        />
      </div>
    </section>
  );
}
