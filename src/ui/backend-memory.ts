// What this browser remembers about backends (localStorage): the user's override, and the automatic
// choices measured here, each with the device and the step it was measured on, so that a page load on
// the same device for the same step does not measure again, and another device does.
// What it is not: the choice itself (src/worker/backend-choice.ts), which picks among these.
import type { LabStore } from '../state/store.ts';
import type { BackendChoice, BackendInfo, BackendName } from '../worker/protocol.ts';

const CHOICE_KEY = 'resnet-lab.backend';
const AUTO_KEY = 'resnet-lab.auto-backends';
const CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'];
/** Automatic choices kept: devices and steps (depth, batch) together. */
const KEEP = 8;

function read(key: string): string | null {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null; // storage unavailable (private mode, sandbox): nothing remembered
  }
}

function write(key: string, value: string | null): void {
  try {
    if (value === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, value);
  } catch {
    // the choice lasts for this page only
  }
}

export function savedBackendChoice(): BackendChoice {
  const v = read(CHOICE_KEY);
  return CHOICES.find((c) => c === v) ?? 'auto';
}

const isBackend = (v: unknown): v is BackendName => v !== 'auto' && CHOICES.includes(v as BackendChoice);

function isRemembered(v: unknown): v is BackendInfo {
  const info = v as Partial<BackendInfo> | null;
  const on = info?.measuredOn;
  return (
    isBackend(info?.backend) &&
    typeof info.reason === 'string' &&
    Array.isArray(info.timings) &&
    typeof on?.device === 'string' &&
    Number.isInteger(on.step?.depth) &&
    Number.isInteger(on.step?.batch)
  );
}

/** The automatic choices in their stored text, newest first; anything else (older formats, damage) is dropped. */
export function parseRemembered(text: string | null): BackendInfo[] {
  try {
    const list = JSON.parse(text ?? '[]') as unknown;
    return Array.isArray(list) ? list.filter(isRemembered).slice(0, KEEP) : [];
  } catch {
    return [];
  }
}

/** `list` with `info` first, in place of an earlier choice for the same device and step; at most KEEP. */
export function remember(list: readonly BackendInfo[], info: BackendInfo): BackendInfo[] {
  if (!info.measuredOn) return [...list];
  const { device, step } = info.measuredOn;
  const same = (r: BackendInfo) =>
    r.measuredOn?.device === device && r.measuredOn.step.depth === step.depth && r.measuredOn.step.batch === step.batch;
  const { refused: _refused, ...kept } = info;
  return [kept, ...list.filter((r) => !same(r))].slice(0, KEEP);
}

/**
 * Starts `choice` and remembers it. `measureAgain`: for 'auto', ignore the remembered choices (the user
 * chose Automatic again, so measure now). A backend chosen by hand gets them too, for when it cannot
 * start and one is chosen automatically instead.
 */
export async function startBackend(store: LabStore, choice: BackendChoice, measureAgain = false): Promise<void> {
  write(CHOICE_KEY, choice === 'auto' ? null : choice);
  await store.getState().chooseBackend(choice, choice === 'auto' && measureAgain ? undefined : parseRemembered(read(AUTO_KEY)));
  const info = store.getState().backend;
  if (info?.measuredOn) write(AUTO_KEY, JSON.stringify(remember(parseRemembered(read(AUTO_KEY)), info)));
}
