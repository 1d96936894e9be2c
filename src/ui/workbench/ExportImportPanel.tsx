// Export and import of runs. "Export run" prepares the current run (paused or ended) as a run bundle
// (a .zip: configuration, metrics, weights, in one file) and its curves as CSV and JSON, one link per
// file. "Import run" reads a bundle (.zip, or an older .rlab: someone else's run, or one from the
// CLI's queue) and shows it beside yours: its curves on both charts as an overlay, its summary here,
// and its result in the published tables. A damaged file gets an error naming the problem, and nothing changes.
import { useEffect, useId, useMemo, useRef } from 'react';
import { configDifferences } from '../../state/compare.ts';
import { configFromQuery } from '../../experiment/config.ts';
import { contentBytes, type ExportFile } from '../../state/run-export.ts';
import { finalAndBest } from '../../state/reference-tables.ts';
import { importedRunResult } from '../../state/workbench.ts';
import { describeExperiment } from '../../train/experiment.ts';
import { duration, epochs, percent } from '../format.ts';
import { useLab } from '../store-context.tsx';

function useFileLinks(files: ExportFile[] | undefined) {
  const links = useMemo(
    () =>
      (files ?? []).map((f) => ({
        name: f.name,
        what: f.what,
        bytes: contentBytes(f.content),
        url: URL.createObjectURL(new Blob([f.content as BlobPart], { type: f.type })),
      })),
    [files],
  );
  useEffect(() => () => links.forEach((l) => URL.revokeObjectURL(l.url)), [links]);
  return links;
}

const size = (bytes: number) =>
  bytes < 1024 * 1024 ? `${Math.max(1, Math.round(bytes / 1024))} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export function ExportImportPanel() {
  const id = useId();
  const record = useLab((s) => s.record);
  const phase = useLab((s) => s.phase);
  const busy = useLab((s) => s.exportBusy);
  const exported = useLab((s) => s.exported);
  const exportError = useLab((s) => s.exportError);
  const prepare = useLab((s) => s.prepareExport);
  const importBundle = useLab((s) => s.importBundle);
  const importError = useLab((s) => s.importError);
  const input = useRef<HTMLInputElement>(null);
  const links = useFileLinks(exported?.files);
  const notes = useLab((s) => s.runNotes);
  // Only a run trained in this page can be exported here; one opened from the Runs list cannot (yet).
  const live = Boolean(record && notes && notes.runId === record.runId);
  const canExport = live && (phase === 'paused' || phase === 'ended') && !busy;

  return (
    <section className="panel export" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Export and import</h2>
      <div className="buttons">
        <button type="button" disabled={!canExport} onClick={() => void prepare()}>
          Export run
        </button>
        <button type="button" onClick={() => input.current?.click()}>
          Import run
        </button>
        <input
          ref={input}
          type="file"
          hidden
          accept=".zip,.rlab"
          aria-label="Run bundle file"
          onChange={(e) => {
            const f = e.target.files?.[0];
            if (f) void importBundle(f);
            e.target.value = '';
          }}
        />
      </div>
      {!record && (
        <p className="muted small">
          Export needs a run (paused or ended). Import takes a run bundle (.zip, or an older .rlab) from this lab or its CLI (
          <code>lab queue</code>).
        </p>
      )}
      {record && !live && (
        <p className="muted small">This run was opened from the run history: only a run trained in this page can be exported here.</p>
      )}
      {busy && (
        <p className="muted" role="status">
          Preparing the files…
        </p>
      )}
      {links.length > 0 && (
        <div className="downloads" data-testid="run-downloads">
          <p className="small">The current run, one file per click:</p>
          <ul>
            {links.map((l) => (
              <li key={l.name}>
                <a href={l.url} download={l.name}>
                  {l.name}
                </a>{' '}
                <span className="muted small">
                  {l.what}, {size(l.bytes)}
                </span>
              </li>
            ))}
          </ul>
        </div>
      )}
      {exported?.notice && <p className="notice warn">{exported.notice}</p>}
      {exportError && (
        <p className="notice error" role="alert">
          {exportError}
        </p>
      )}
      {importError && (
        <p className="notice error" role="alert">
          {importError}
        </p>
      )}
      <OverlaySummary />
    </section>
  );
}

function OverlaySummary() {
  const overlay = useLab((s) => s.overlay);
  const record = useLab((s) => s.record);
  const config = useLab((s) => s.config);
  const clear = useLab((s) => s.clearOverlay);
  if (!overlay) return null;
  const { bundle, fileName } = overlay;
  const { meta } = bundle;
  // Final and best after training started (the bundle's own `best` may be the evaluation before training).
  const result = finalAndBest(importedRunResult(overlay).tests) ?? { final: undefined, best: undefined };
  const c = configFromQuery(bundle.config); // the bundle's query string (checked when it was read)
  const differs = configDifferences([c, record?.config ?? config]);
  return (
    <div className="overlay-summary" data-testid="overlay-summary">
      <h3>
        <span className="swatch overlay-swatch" /> Imported: {fileName}
      </h3>
      <p className="small">
        {describeExperiment(c)}, seed {c.seed}
      </p>
      <dl className="facts">
        <div>
          <dt>Final test error</dt>
          <dd data-testid="overlay-final">
            {result.final ? `${percent(result.final.testError)} at epoch ${epochs(result.final.epoch)}` : '–'}
            {result.final && result.final.evaluated < 10_000 ? ` (${result.final.evaluated} test images)` : ''}
          </dd>
        </div>
        <div>
          <dt>Best epoch</dt>
          <dd>
            {result.best ? `${percent(result.best.testError)} at epoch ${epochs(result.best.epoch)}` : '–'}{' '}
            <span className="flag">chosen on the test set</span>
          </dd>
        </div>
        <div>
          <dt>Status</dt>
          <dd>
            {meta.status}, {bundle.steps.step.length.toLocaleString('en-US')} steps
          </dd>
        </div>
        <div>
          <dt>Backend</dt>
          <dd>{meta.backend}</dd>
        </div>
        <div>
          <dt>Images/s</dt>
          <dd>{meta.imagesPerSecond === null ? '–' : meta.imagesPerSecond.toFixed(meta.imagesPerSecond < 10 ? 1 : 0)}</dd>
        </div>
        <div>
          <dt>Training time</dt>
          <dd>{duration(meta.trainSeconds ?? undefined)}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{meta.startedAt.slice(0, 16).replace('T', ' ')} UTC</dd>
        </div>
        <div>
          <dt>Made by</dt>
          <dd>
            {meta.producer}
            {bundle.weights ? ', with weights' : ', no weights'}
          </dd>
        </div>
      </dl>
      <p className="small">
        Its curves are drawn on the charts above (orange).{' '}
        {differs.length === 0
          ? `Same configuration as ${record ? 'your run' : 'the one selected'}.`
          : `Differs from ${record ? 'your run' : 'the selected configuration'} in: ${differs.join(', ')}.`}
      </p>
      <p className="small" data-testid="overlay-saved">
        {overlay.saved === undefined
          ? 'Saving it to your Runs…'
          : overlay.saved.kind === 'saved'
            ? `Saved to your Runs as “${overlay.saved.name}”: open it there, compare it with your runs, or delete it.`
            : overlay.saved.kind === 'already'
              ? `Already in your Runs as “${overlay.saved.name}” (not saved twice).`
              : `Not saved to your Runs: ${overlay.saved.reason} It is shown here until you leave the page.`}
      </p>
      <button type="button" onClick={clear}>
        Remove overlay
      </button>
    </div>
  );
}
