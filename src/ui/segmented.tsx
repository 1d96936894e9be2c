// A row of buttons acting as one radio group (the chart scale, the Compare x-axis): the chosen one is
// aria-checked, and the group has an accessible name.
export function Segmented<T extends string>({
  label,
  options,
  value,
  onChange,
}: {
  label: string;
  options: readonly (readonly [T, string])[];
  value: T;
  onChange: (v: T) => void;
}) {
  return (
    <div className="segmented" role="radiogroup" aria-label={label}>
      {options.map(([v, text]) => (
        <button key={v} type="button" role="radio" aria-checked={value === v} onClick={() => onChange(v)}>
          {text}
        </button>
      ))}
    </div>
  );
}

export const SCALE_OPTIONS = [
  ['linear', 'Linear'],
  ['log', 'Log'],
] as const;
