// The backend in use, why it was chosen, and the control to override it.
import { useId } from 'react';
import type { BackendChoice } from '../worker/protocol.ts';
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
        <p>
          In use: <strong data-testid="backend-in-use">{backend.backend}</strong>
          <br />
          <span data-testid="backend-adapter">{backend.adapter}</span>
          <br />
          <span className="muted small">{backend.reason}</span>
        </p>
      ) : null}
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
