// The backend in use, why it was chosen, every backend the automatic choice considered (its time per
// step, or why it has none), a backend chosen by hand that could not start, and the control to
// override the choice. What it is not: the choice itself (src/worker/backend-choice.ts).
import { useId } from 'react';
import type { BackendChoice, BackendInfo, BackendName, BackendTiming } from '../worker/protocol.ts';
import { useLab, useLabStore } from './store-context.tsx';
import { startBackend } from './backend-memory.ts';

const CHOICES: { value: BackendChoice; label: string }[] = [
  { value: 'auto', label: 'Automatic' },
  { value: 'webgpu', label: 'WebGPU' },
  { value: 'webgl', label: 'WebGL' },
  { value: 'wasm', label: 'WASM' },
  { value: 'cpu', label: 'CPU' },
];

export function BackendPanel() {
  const id = useId();
  const choice = useLab((s) => s.backendChoice);
  const backend = useLab((s) => s.backend);
  const busy = useLab((s) => s.backendBusy);
  const probe = useLab((s) => s.backendProbe);
  const error = useLab((s) => s.errors.backend);
  const phase = useLab((s) => s.phase);
  const store = useLabStore();
  const active = phase === 'starting' || phase === 'running' || phase === 'paused';

  return (
    <section className="panel" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Compute backend</h2>
      <div className="field">
        <div className="field-head">
          <label htmlFor={id}>Backend</label>
        </div>
        <select
          id={id}
          value={choice}
          disabled={busy || active}
          onChange={(e) => {
            const next = e.target.value as BackendChoice;
            void startBackend(store, next, true);
          }}
        >
          {CHOICES.map((c) => (
            <option key={c.value} value={c.value}>
              {c.label}
            </option>
          ))}
        </select>
      </div>
      {busy ? (
        <p className="muted" role="status">
          Starting the backend{probe ? `: ${probe}` : '…'}
        </p>
      ) : backend ? (
        <BackendSummary info={backend} />
      ) : null}
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

const label = (b: BackendName) => CHOICES.find((c) => c.value === b)?.label ?? b;

function figure(t: BackendTiming): string {
  switch (t.outcome) {
    case 'measured':
      return `${Math.round(t.ms).toLocaleString('en-US')} ms${t.rounds === 0 ? ' (first step only)' : ''}`;
    case 'failed':
      return `failed: ${t.reason}`;
    case 'not-available':
      return `not available: ${t.reason}`;
    case 'not-measured':
      return `not measured: ${t.reason}`;
  }
}

/** The backend in use and why, a backend chosen by hand that could not start, and the figures behind an automatic choice. */
export function BackendSummary({ info }: { info: BackendInfo }) {
  return (
    <>
      <p>
        In use: <strong data-testid="backend-in-use">{info.backend}</strong>
        <br />
        <span data-testid="backend-adapter">{info.adapter}</span>
        <br />
        <span className="muted small" data-testid="backend-reason">
          {info.reason}
        </span>
      </p>
      {info.refused && (
        <p className="notice warn" role="alert" data-testid="backend-refused">
          {label(info.refused.backend)} could not start: {info.refused.reason}. Running instead: {label(info.backend)} ({info.reason}).
        </p>
      )}
      {info.timings.length > 0 && <Timings info={info} />}
    </>
  );
}

/** One row per backend considered: milliseconds per training step, or why there is no figure. */
function Timings({ info }: { info: BackendInfo }) {
  const on = info.measuredOn;
  return (
    <table className="small" data-testid="backend-timings">
      <caption className="muted" title={on ? `Measured on: ${on.device}` : undefined}>
        {on ? `Per training step of ResNet-${on.step.depth} at batch ${on.step.batch}` : 'Backends considered'}
      </caption>
      <thead>
        <tr>
          <th scope="col">Backend</th>
          <th scope="col">Per step</th>
        </tr>
      </thead>
      <tbody>
        {info.timings.map((t) => (
          <tr key={t.backend} data-backend={t.backend} data-outcome={t.outcome}>
            <th scope="row">
              {label(t.backend)}
              {t.backend === info.backend ? ' (in use)' : ''}
            </th>
            <td>{figure(t)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
