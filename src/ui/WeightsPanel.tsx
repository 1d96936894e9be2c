// Weights out and in. "Download weights" prepares the current model in three formats (.safetensors,
// TF.js model.json + weights.bin, model.onnx) and offers one link per file (one click each, so the
// browser never blocks them as multiple downloads). "Load weights" takes a .safetensors file or
// model.json + weights.bin, checks them against the selected network (or selects the one they name),
// and shows their test error.
import { useEffect, useId, useMemo, useRef } from 'react';
import type { WeightFiles } from '../worker/protocol.ts';
import { count, percent } from './format.ts';
import { useLab } from './store-context.tsx';

interface Link {
  name: string;
  url: string;
  bytes: number;
  what: string;
}

function useDownloadLinks(files: WeightFiles | undefined): Link[] {
  const links = useMemo(() => {
    if (!files) return [];
    const make = (name: string, part: BlobPart, type: string, bytes: number, what: string) => ({
      name,
      url: URL.createObjectURL(new Blob([part], { type })),
      bytes,
      what,
    });
    return [
      make(
        `${files.baseName}.safetensors`,
        files.safetensors as Uint8Array<ArrayBuffer>,
        'application/octet-stream',
        files.safetensors.byteLength,
        'PyTorch names',
      ),
      make('model.json', files.modelJson, 'application/json', files.modelJson.length, 'TF.js'),
      make(
        'weights.bin',
        files.weightsBin as Uint8Array<ArrayBuffer>,
        'application/octet-stream',
        files.weightsBin.byteLength,
        'TF.js, with model.json',
      ),
      make('model.onnx', files.onnx as Uint8Array<ArrayBuffer>, 'application/octet-stream', files.onnx.byteLength, 'ONNX, NCHW input'),
    ];
  }, [files]);
  useEffect(() => () => links.forEach((l) => URL.revokeObjectURL(l.url)), [links]);
  return links;
}

export function WeightsPanel() {
  const id = useId();
  const busy = useLab((s) => s.weightsBusy);
  const files = useLab((s) => s.weightFiles);
  const loaded = useLab((s) => s.loaded);
  const notice = useLab((s) => s.weightsNotice);
  const error = useLab((s) => s.errors.weights);
  const phase = useLab((s) => s.phase);
  const record = useLab((s) => s.record);
  const data = useLab((s) => s.data);
  const evalProgress = useLab((s) => s.evalProgress);
  const prepare = useLab((s) => s.prepareWeights);
  const load = useLab((s) => s.loadWeights);
  const input = useRef<HTMLInputElement>(null);
  const links = useDownloadLinks(files);
  const hasModel = Boolean(record || loaded);
  const canDownload = hasModel && (phase === 'paused' || phase === 'ended' || phase === 'idle') && !busy;
  const canLoad = !busy && Boolean(data) && !(phase === 'starting' || phase === 'running' || phase === 'paused');

  return (
    <section className="panel" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Weights</h2>
      <div className="buttons">
        <button type="button" disabled={!canDownload} onClick={() => void prepare()}>
          Download weights
        </button>
        <button type="button" disabled={!canLoad} onClick={() => input.current?.click()}>
          Load weights
        </button>
        <input
          ref={input}
          type="file"
          multiple
          hidden
          accept=".safetensors,.json,.bin"
          aria-label="Weights files"
          onChange={(e) => {
            if (e.target.files && e.target.files.length > 0) void load([...e.target.files]);
            e.target.value = '';
          }}
        />
      </div>
      {!hasModel && <p className="muted small">Train (or load) a network first; pause or stop a run to download it.</p>}
      {links.length > 0 && (
        <div className="downloads" data-testid="weight-downloads">
          <p className="small">Weights after {count(files!.steps)} steps, one file per click:</p>
          <ul>
            {links.map((l) => (
              <li key={l.name}>
                <a href={l.url} download={l.name}>
                  {l.name}
                </a>{' '}
                <span className="muted small">
                  {l.what}, {(l.bytes / 1024).toFixed(0)} KiB
                </span>
              </li>
            ))}
          </ul>
        </div>
      )}
      {evalProgress?.purpose === 'weights' && (
        <div className="progress-row" role="status">
          <label htmlFor={`${id}-eval`}>Testing the weights</label>
          <progress id={`${id}-eval`} max={evalProgress.total} value={evalProgress.done} />
          <span className="progress-text">
            {count(evalProgress.done)} / {count(evalProgress.total)}
          </span>
        </div>
      )}
      {busy && !evalProgress && (
        <p className="muted" role="status">
          Working…
        </p>
      )}
      {notice && <p className="notice">{notice}</p>}
      {loaded && (
        <p data-testid="loaded-weights">
          Loaded {loaded.files.join(' + ')}: test error <strong data-testid="loaded-test-error">{percent(loaded.testError)}</strong> on{' '}
          {count(loaded.evaluated)} test images.
        </p>
      )}
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
