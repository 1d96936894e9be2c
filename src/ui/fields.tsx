// Form controls of the experiment panel: a labelled select and a labelled text field whose value is
// checked with the same parser as the share URL. The <label> holds only the control's name, so the
// visible label is exactly the accessible name; the "changed" mark sits beside it.
import { useId, useState, type ReactNode } from 'react';
import { parseConfigQuery, type ConfigKey, type ExperimentConfig } from '../experiment/config.ts';

/** A value typed for `key`, checked as the URL would check it. */
export function parseField<K extends ConfigKey>(key: K, text: string): { value: ExperimentConfig[K] } | { error: string } {
  const { config, issues } = parseConfigQuery(new URLSearchParams({ [key]: text }).toString());
  const issue = issues.find((i) => i.key === key);
  if (!issue) return { value: config[key] };
  const m = /is invalid: (.*); default used$/.exec(issue.message);
  return { error: m ? m[1] : issue.message };
}

interface RowProps {
  id: string;
  label: string;
  changed?: boolean;
  hint?: ReactNode;
  error?: string;
  /** Spans the panel's two columns. */
  wide?: boolean;
  children: ReactNode;
}

export function FieldRow({ id, label, changed, hint, error, wide, children }: RowProps) {
  return (
    <div className={`field${changed ? ' field-changed' : ''}${wide ? ' field-wide' : ''}`}>
      <div className="field-head">
        <label htmlFor={id}>{label}</label>
        {changed && (
          <span className="changed-badge" title="differs from the protocol's value">
            changed
          </span>
        )}
      </div>
      {children}
      {error ? (
        <div className="field-error" id={`${id}-error`} role="alert">
          {error}
        </div>
      ) : hint ? (
        <div className="field-hint" id={`${id}-hint`}>
          {hint}
        </div>
      ) : null}
    </div>
  );
}

export interface Option {
  value: string;
  label: string;
}

interface SelectProps {
  label: string;
  value: string;
  options: readonly Option[];
  onChange(value: string): void;
  changed?: boolean;
  hint?: ReactNode;
  disabled?: boolean;
  wide?: boolean;
}

export function SelectField({ label, value, options, onChange, changed, hint, disabled, wide }: SelectProps) {
  const id = useId();
  return (
    <FieldRow id={id} label={label} changed={changed} hint={hint} wide={wide}>
      <select
        id={id}
        value={value}
        disabled={disabled}
        onChange={(e) => onChange(e.target.value)}
        aria-describedby={hint ? `${id}-hint` : undefined}
      >
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </FieldRow>
  );
}

interface TextProps {
  label: string;
  /** The current value as text. */
  value: string;
  /** Returns an error message, or undefined when the text was accepted. */
  onCommit(text: string): string | undefined;
  changed?: boolean;
  hint?: ReactNode;
  disabled?: boolean;
  inputMode?: 'decimal' | 'numeric' | 'text';
  placeholder?: string;
  wide?: boolean;
}

/** A text field that applies every valid edit at once and shows why an invalid one is not applied. */
export function TextField({ label, value, onCommit, changed, hint, disabled, inputMode = 'decimal', placeholder, wide }: TextProps) {
  const id = useId();
  const [draft, setDraft] = useState<string | null>(null);
  const [error, setError] = useState<string | undefined>();
  return (
    <FieldRow id={id} label={label} changed={changed} hint={hint} error={error} wide={wide}>
      <input
        id={id}
        type="text"
        inputMode={inputMode}
        spellCheck={false}
        autoComplete="off"
        disabled={disabled}
        placeholder={placeholder}
        value={draft ?? value}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : hint ? `${id}-hint` : undefined}
        onChange={(e) => {
          setDraft(e.target.value);
          setError(onCommit(e.target.value));
        }}
        onBlur={() => {
          if (!error) setDraft(null);
        }}
      />
    </FieldRow>
  );
}
