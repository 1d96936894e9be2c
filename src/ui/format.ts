// Number formats the page uses (percentages, durations, counts).
export const percent = (fraction: number | undefined, digits = 2) =>
  fraction === undefined || !Number.isFinite(fraction) ? '–' : `${(fraction * 100).toFixed(digits)}%`;

export const count = (n: number) => Math.round(n).toLocaleString('en-US');

export function duration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m > 0) return `${m} min ${String(sec).padStart(2, '0')} s`;
  return `${sec} s`;
}

export const num = (v: number | undefined, digits = 4) =>
  v === undefined || !Number.isFinite(v) ? '–' : Number(v.toPrecision(digits)).toString();

/** Epochs as a person reads them: 164, 2.35, 0.026, 0.00048. */
export function epochs(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (v >= 10) return String(Number(v.toFixed(1)));
  if (v >= 0.1 || v === 0) return String(Number(v.toFixed(2)));
  return String(Number(v.toPrecision(2)));
}
