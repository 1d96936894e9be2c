// The published tables, one tab each (paper Table 6; gcr's depth, block-variant, solver and
// BN-momentum tables; neon's with GPU memory and time per epoch). Every row has "Run this", which
// selects exactly that configuration (the URL follows); the row the configuration is marked, and a
// run that reproduces a row (yours, or an imported bundle) shows its final-epoch error beside it with
// the difference, and its best epoch, flagged as chosen on the test set. "Queue this table" adds
// every row's exact "Run this" configuration to the experiment queue (src/ui/queue).
import { useMemo, useState } from 'react';
import { countTrainableParams } from '../../model/resnet.ts';
import { modelSpec } from '../../train/experiment.ts';
import {
  REFERENCE_TABLES,
  NEON_COSTS,
  formatDiff,
  resultBeside,
  rowSettings,
  type ResultBesideRow,
  type RunResult,
} from '../../state/reference-tables.ts';
import type { ExperimentConfig } from '../../experiment/config.ts';
import { rowConfig, rowMatches, type ReferenceRow } from '../../state/references.ts';
import { currentRunResult, importedRunResult } from '../../state/workbench.ts';
import { count, epochs, percent } from '../format.ts';
import { useLab } from '../store-context.tsx';

function defaultTab(config: ExperimentConfig): string {
  const hit = REFERENCE_TABLES.find((t) => t.rows.some((r) => rowMatches(r, config)));
  if (hit) return hit.id;
  return config.protocol === 'gcr' ? 'gcr-depth' : config.protocol;
}

const params = (row: ReferenceRow) => `${(countTrainableParams(modelSpec(rowConfig(row))) / 1e6).toFixed(2)}M`;

function RowResult({ r }: { r: ResultBesideRow }) {
  const cut = !r.complete || r.final.epoch < r.plannedEpochs;
  const partial = r.final.evaluated < r.fullTestSet;
  return (
    <div className="row-result" data-testid="row-result">
      <div>
        <span className="muted">{r.label}:</span> final <strong>{percent(r.final.testError)}</strong>{' '}
        <span className={r.diffPoints > 0 ? 'diff worse' : 'diff better'} title="final minus published, percentage points">
          ({formatDiff(r.diffPoints)})
        </span>
        {cut ? (
          <span className="muted">
            {' '}
            after {epochs(r.final.epoch)} of {r.plannedEpochs} epochs
          </span>
        ) : null}
        {partial ? <span className="muted"> on {count(r.final.evaluated)} test images</span> : null}
      </div>
      <div className="muted small">
        best {percent(r.best.testError)} at epoch {epochs(r.best.epoch)} <span className="flag">chosen on the test set</span>
      </div>
    </div>
  );
}

export function ReferenceTables() {
  const config = useLab((s) => s.config);
  const phase = useLab((s) => s.phase);
  const record = useLab((s) => s.record);
  const summary = useLab((s) => s.summary);
  const epochCount = useLab((s) => s.record?.epochs.length ?? 0);
  const overlay = useLab((s) => s.overlay);
  const selectedRow = useLab((s) => s.selectedRow);
  const runThis = useLab((s) => s.runThis);
  const queueTable = useLab((s) => s.queueAddTable);
  const [tab, setTab] = useState(() => defaultTab(config));
  const [queued, setQueued] = useState<{ table: string; seed: number } | undefined>();
  const locked = phase === 'starting' || phase === 'running' || phase === 'paused';

  const runs = useMemo(() => {
    const out: RunResult[] = [];
    const mine = currentRunResult({ record, phase, summary });
    if (mine) out.push(mine);
    if (overlay) out.push(importedRunResult(overlay));
    return out;
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the record is mutable: epochCount says it grew
  }, [record, phase, summary, epochCount, overlay]);

  const table = REFERENCE_TABLES.find((t) => t.id === tab) ?? REFERENCE_TABLES[0]!;
  const selectedStill = selectedRow && rowMatches(selectedRow, config) ? selectedRow : undefined;

  return (
    <section className="panel references" aria-labelledby="references-title">
      <h2 id="references-title">Published results</h2>
      <div className="tabs" role="tablist" aria-label="Published tables">
        {REFERENCE_TABLES.map((t) => (
          <button key={t.id} type="button" role="tab" aria-selected={t.id === table.id} onClick={() => setTab(t.id)}>
            {t.title}
          </button>
        ))}
      </div>
      <p className="muted small table-caption">{table.caption}</p>
      <div className="queue-table-action">
        <button
          type="button"
          title={`Add every row of this table to the queue, each exactly as Run this selects it, with seed ${config.seed} and the current run options`}
          onClick={() => {
            queueTable(table.id);
            setQueued({ table: table.id, seed: config.seed });
          }}
        >
          Queue this table
        </button>
        {queued?.table === table.id && (
          <span className="muted small" role="status" data-testid="queued-table">
            {' '}
            {table.rows.length} row{table.rows.length === 1 ? '' : 's'} added to the queue (seed {queued.seed}): start it in the Queue
            panel.
          </span>
        )}
      </div>
      {selectedStill && (
        <p className="notice" role="status" data-testid="run-this-notice">
          “{selectedStill.name}” is selected: its configuration is in the Experiment panel and the link. Press Train to run it.
        </p>
      )}
      <div className="table-scroll">
        <table className="ref-table" aria-label={table.title}>
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Settings</th>
              <th scope="col" className="num">
                Params
              </th>
              <th scope="col" className="num">
                Published
              </th>
              {table.costs && (
                <>
                  <th scope="col" className="num">
                    GPU memory
                  </th>
                  <th scope="col" className="num">
                    s / epoch
                  </th>
                </>
              )}
              <th scope="col">Your result</th>
              <th scope="col">
                <span className="visually-hidden">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {table.rows.map((row) => {
              const current = rowMatches(row, config);
              const results = runs.map((r) => resultBeside(row, r)).filter((r): r is ResultBesideRow => r !== undefined);
              const cost = NEON_COSTS[row.depth];
              return (
                <tr key={row.name} className={current ? 'current' : undefined} aria-current={current ? 'true' : undefined}>
                  <th scope="row">
                    {row.name}
                    {row.note && !table.costs ? <div className="muted small">{row.note}</div> : null}
                  </th>
                  <td className="small">{rowSettings(row)}</td>
                  <td className="num">{params(row)}</td>
                  <td className="num">
                    <strong>{row.error.toFixed(2)}%</strong>
                  </td>
                  {table.costs && (
                    <>
                      <td className="num">{cost ? `${cost.gpuMiB} MiB` : '–'}</td>
                      <td className="num">{cost ? `${cost.secondsPerEpoch} s` : '–'}</td>
                    </>
                  )}
                  <td>
                    {results.length === 0 ? <span className="muted small">–</span> : results.map((r) => <RowResult key={r.label} r={r} />)}
                  </td>
                  <td>
                    <button
                      type="button"
                      disabled={locked}
                      title={`Select this configuration (${row.protocol} protocol), keeping your seed`}
                      onClick={() => {
                        runThis(row);
                        window.scrollTo({ top: 0, behavior: 'smooth' });
                      }}
                    >
                      Run this
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <p className="muted small">
        The headline is the error after the last epoch, as gcr and neon reported it. The best epoch is shown too, but it was picked by
        looking at the test set, so it is not a fair result.
      </p>
    </section>
  );
}
