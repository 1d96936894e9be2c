// The experiment panel: every choice of the share URL as a labelled control, the protocol's values
// filled in and the user's changes marked, the one-line explanation, and the run buttons.
import { useMemo, useState } from 'react';
import {
  BLOCK_VARIANTS,
  changedFromProtocol,
  SHORTCUTS,
  SOLVER_NAMES,
  WARMUPS,
  type BlockVariant,
  type ConfigKey,
  type ExperimentConfig,
  type ShortcutType,
} from '../experiment/config.ts';
import { PROTOCOL_NAMES, PROTOCOLS, type ProtocolName } from '../experiment/protocols.ts';
import type { SolverName } from '../experiment/solvers.ts';
import { formatScheduleSpec, type WarmupSpec } from '../experiment/schedules.ts';
import { describeExperiment } from '../train/experiment.ts';
import { matchingRow } from '../state/references.ts';
import { parseField, SelectField, TextField, type Option } from './fields.tsx';
import { useLab, useLabStore } from './store-context.tsx';
import { shareUrl } from './url-sync.ts';
import { ClaimNotice, ShareResultOption } from './workbench/Claim.tsx';
import { shareQuery } from '../state/workbench.ts';

const DEPTH_PRESETS = [20, 32, 44, 56, 110, 1202];
const CUSTOM = 'custom';

const BLOCK_LABELS: Record<BlockVariant, string> = {
  'relu-bnbefore': 'ReLU after add, BN before add (paper)',
  'norelu-bnbefore': 'no ReLU after add, BN before add',
  'relu-bnafter': 'ReLU after add, BN after add',
  'norelu-bnafter': 'no ReLU after add, BN after add',
};
const SHORTCUT_LABELS: Record<ShortcutType, string> = {
  A: 'A: subsample + zero channels (paper, gcr)',
  B: 'B: 1x1 projection + BN',
  neon: 'neon: 1x1 conv, identity init',
};
const SOLVER_LABELS: Record<SolverName, string> = {
  'sgd-nesterov': 'SGD + Nesterov momentum (gcr)',
  sgd: 'SGD + momentum (paper, neon)',
  rmsprop: 'RMSprop',
  adagrad: 'Adagrad',
  adadelta: 'Adadelta',
  adam: 'Adam (not in the seeds)',
};
const WARMUP_LABELS: Record<WarmupSpec, string> = {
  none: 'none',
  fancy: "gcr's fancy policy: 0.001 for 400 iterations",
  paper: 'paper: lr/10 until training error < 80%',
};
const BNM_PRESETS = ['0.01', '0.1', '1', 'dynamic'];
const BNM_LABELS: Record<string, string> = {
  '0.01': '0.01',
  '0.1': '0.1 (Torch default)',
  '1': '1 (last batch only)',
  dynamic: 'dynamic 1/(1+k) (gcr)',
};

const opts = <T extends string>(values: readonly T[], labels: Record<T, string>): Option[] =>
  values.map((v) => ({ value: v, label: labels[v] }));

function commitWith<K extends ConfigKey>(key: K, set: (k: K, v: ExperimentConfig[K]) => void) {
  return (text: string): string | undefined => {
    const r = parseField(key, text);
    if ('error' in r) return r.error;
    set(key, r.value);
    return undefined;
  };
}

export function ExperimentPanel() {
  const config = useLab((s) => s.config);
  const setField = useLab((s) => s.setField);
  const setProtocol = useLab((s) => s.setProtocol);
  const phase = useLab((s) => s.phase);
  const locked = phase === 'starting' || phase === 'running' || phase === 'paused';
  const changed = useMemo(() => changedFromProtocol(config), [config]);
  const [customDepth, setCustomDepth] = useState(!DEPTH_PRESETS.includes(config.depth));
  const [customBnm, setCustomBnm] = useState(!BNM_PRESETS.includes(String(config.bnm)));
  const explanation = useMemo(() => describeExperiment(config), [config]);
  const row = useMemo(() => matchingRow(config), [config]);
  const set = setField as <K extends ConfigKey>(k: K, v: ExperimentConfig[K]) => void;

  const depthValue = customDepth || !DEPTH_PRESETS.includes(config.depth) ? CUSTOM : String(config.depth);
  const bnmValue = customBnm || !BNM_PRESETS.includes(String(config.bnm)) ? CUSTOM : String(config.bnm);

  return (
    <section className="panel experiment" aria-labelledby="experiment-title">
      <h2 id="experiment-title">Experiment</h2>
      <p className="explanation" data-testid="explanation">
        {explanation}
      </p>
      {row && (
        <p className="reference-match" data-testid="reference-match">
          This is exactly the published run “{row.name}” ({row.error.toFixed(2)}% test error).
        </p>
      )}
      <ClaimNotice />
      <RunButtons />
      <fieldset disabled={locked} className="controls">
        <legend className="visually-hidden">Configuration</legend>
        <SelectField
          label="Protocol"
          wide
          value={config.protocol}
          options={PROTOCOL_NAMES.map((p) => ({ value: p, label: PROTOCOLS[p].label }))}
          onChange={(v) => setProtocol(v as ProtocolName)}
          hint="fills in every value below; what you change afterwards stays"
        />
        <SelectField
          label="Depth"
          value={depthValue}
          options={[
            ...DEPTH_PRESETS.map((d) => ({ value: String(d), label: `${d} (n = ${(d - 2) / 6})` })),
            { value: CUSTOM, label: 'custom n…' },
          ]}
          changed={changed.has('depth')}
          onChange={(v) => {
            if (v === CUSTOM) return setCustomDepth(true);
            setCustomDepth(false);
            set('depth', Number(v));
          }}
          hint="6n + 2 layers"
        />
        {depthValue === CUSTOM && (
          <TextField
            label="Custom n"
            inputMode="numeric"
            value={String((config.depth - 2) / 6)}
            hint={`blocks per stage; depth ${config.depth}`}
            onCommit={(text) => {
              const n = Number(text.trim());
              if (!/^\d+$/.test(text.trim()) || n < 1 || n > 1666) return 'n must be a whole number from 1 to 1666';
              set('depth', 6 * n + 2);
              return undefined;
            }}
          />
        )}
        <SelectField
          label="Block variant"
          wide
          value={config.block}
          options={opts(BLOCK_VARIANTS, BLOCK_LABELS)}
          changed={changed.has('block')}
          onChange={(v) => set('block', v as BlockVariant)}
        />
        <SelectField
          label="Shortcut"
          wide
          value={config.shortcut}
          options={opts(SHORTCUTS, SHORTCUT_LABELS)}
          changed={changed.has('shortcut')}
          onChange={(v) => set('shortcut', v as ShortcutType)}
        />
        <SelectField
          label="Solver"
          wide
          value={config.solver}
          options={opts(SOLVER_NAMES, SOLVER_LABELS)}
          changed={changed.has('solver')}
          onChange={(v) => set('solver', v as SolverName)}
        />
        <TextField
          label="Learning rate"
          value={String(config.lr)}
          changed={changed.has('lr')}
          onCommit={commitWith('lr', set)}
          hint={config.solver === 'adadelta' ? 'Adadelta (as gcr ran it) uses no learning rate' : undefined}
        />
        <TextField
          label="Rho"
          value={String(config.rho)}
          changed={changed.has('rho')}
          onCommit={commitWith('rho', set)}
          hint="Adadelta's rho (RMSprop's alpha)"
        />
        <TextField label="Weight decay" value={String(config.wd)} changed={changed.has('wd')} onCommit={commitWith('wd', set)} />
        <SelectField
          label="BN momentum"
          wide
          value={bnmValue}
          options={[...BNM_PRESETS.map((v) => ({ value: v, label: BNM_LABELS[v] })), { value: CUSTOM, label: 'custom…' }]}
          changed={changed.has('bnm')}
          onChange={(v) => {
            if (v === CUSTOM) return setCustomBnm(true);
            setCustomBnm(false);
            set('bnm', v === 'dynamic' ? 'dynamic' : Number(v));
          }}
          hint="Torch convention: running = (1 − m) running + m batch"
        />
        {bnmValue === CUSTOM && (
          <TextField
            label="Custom BN momentum"
            value={String(config.bnm)}
            onCommit={commitWith('bnm', set)}
            hint="0 freezes the statistics"
          />
        )}
        <TextField
          label="Epochs"
          inputMode="numeric"
          value={String(config.epochs)}
          changed={changed.has('epochs')}
          onCommit={commitWith('epochs', set)}
        />
        <TextField
          label="Batch size"
          inputMode="numeric"
          value={String(config.batch)}
          changed={changed.has('batch')}
          onCommit={commitWith('batch', set)}
        />
        <TextField
          label="Seed"
          inputMode="numeric"
          value={String(config.seed)}
          onCommit={commitWith('seed', set)}
          hint="same seed, same backend: same run"
        />
        <details className="more">
          <summary>Schedule and warm-up</summary>
          <TextField
            label="Schedule"
            wide
            inputMode="text"
            value={formatScheduleSpec(config.schedule)}
            changed={changed.has('schedule')}
            onCommit={commitWith('schedule', set)}
            hint="gcr, neon, paper, constant, or EPOCH:LR steps such as 80:0.01,120:0.001"
          />
          <SelectField
            label="Warm-up"
            wide
            value={config.warmup}
            options={opts(WARMUPS, WARMUP_LABELS)}
            changed={changed.has('warmup')}
            onChange={(v) => set('warmup', v as WarmupSpec)}
          />
        </details>
        <RunOptions />
      </fieldset>
    </section>
  );
}

/** Options of the next run that are not part of the experiment (and not in the share link). */
function RunOptions() {
  const runOptions = useLab((s) => s.runOptions);
  const setRunOptions = useLab((s) => s.setRunOptions);
  const limit = (what: string, text: string): { ok: true; value?: number } | { ok: false; error: string } => {
    const t = text.trim();
    if (t === '') return { ok: true };
    if (!/^\d+$/.test(t) || Number(t) < 1)
      return { ok: false, error: `${what} must be a whole number of at least 1 (or empty for no limit)` };
    return { ok: true, value: Number(t) };
  };
  return (
    <details className="more">
      <summary>Run options (not in the share link)</summary>
      <TextField
        label="Max steps"
        inputMode="numeric"
        placeholder="no limit"
        value={runOptions.maxSteps === undefined ? '' : String(runOptions.maxSteps)}
        hint="stop after this many iterations"
        onCommit={(text) => {
          const r = limit('Max steps', text);
          if (!r.ok) return r.error;
          setRunOptions({ ...runOptions, maxSteps: r.value });
          return undefined;
        }}
      />
      <TextField
        label="Test images"
        inputMode="numeric"
        placeholder="all"
        value={runOptions.evalLimit === undefined ? '' : String(runOptions.evalLimit)}
        hint="evaluate on the first N test images only (faster; not comparable with the papers)"
        onCommit={(text) => {
          const r = limit('Test images', text);
          if (!r.ok) return r.error;
          setRunOptions({ ...runOptions, evalLimit: r.value });
          return undefined;
        }}
      />
    </details>
  );
}

function RunButtons() {
  const phase = useLab((s) => s.phase);
  const data = useLab((s) => s.data);
  const dataBusy = useLab((s) => s.dataBusy);
  const train = useLab((s) => s.train);
  const pause = useLab((s) => s.pause);
  const resume = useLab((s) => s.resume);
  const stop = useLab((s) => s.stop);
  const store = useLabStore();
  const [withResult, setWithResult] = useState(false);
  const [shared, setShared] = useState<{ url: string; copied: boolean } | undefined>();
  const active = phase === 'starting' || phase === 'running' || phase === 'paused';

  const share = async () => {
    const url = shareUrl(shareQuery(store.getState(), withResult)); // the ended run's claim when asked for
    let copied = false;
    try {
      await navigator.clipboard.writeText(url);
      copied = true;
    } catch {
      copied = false;
    }
    setShared({ url, copied });
  };

  return (
    <div className="run-buttons">
      <div className="buttons">
        <button type="button" className="primary" disabled={active || !data || dataBusy} onClick={() => void train()}>
          Train
        </button>
        <button type="button" disabled={phase !== 'running'} onClick={pause}>
          Pause
        </button>
        <button type="button" disabled={phase !== 'paused'} onClick={resume}>
          Resume
        </button>
        <button type="button" disabled={!active} onClick={stop}>
          Stop
        </button>
        <button type="button" onClick={() => void share()}>
          Share
        </button>
      </div>
      <ShareResultOption checked={withResult} onChange={setWithResult} />
      {shared && (
        <div className="share-result" role="status">
          {shared.copied ? 'Link copied: ' : 'Copy this link: '}
          <input readOnly aria-label="Share link" value={shared.url} onFocus={(e) => e.target.select()} />
        </div>
      )}
    </div>
  );
}
