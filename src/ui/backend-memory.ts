// What this browser remembers about backends (localStorage): the user's override, and the result of the
// last automatic measurement, so a page load does not measure every backend again.
import type { LabStore } from '../state/store.ts';
import type { BackendChoice, BackendInfo } from '../worker/protocol.ts';

const CHOICE_KEY = 'resnet-lab.backend';
const AUTO_KEY = 'resnet-lab.auto-backend';
const CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'];

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

/** The last automatic choice made in this browser (same user agent), if any. */
function rememberedAuto(): BackendInfo | undefined {
  try {
    const saved = JSON.parse(read(AUTO_KEY) ?? 'null') as { userAgent: string; info: BackendInfo } | null;
    if (!saved || saved.userAgent !== navigator.userAgent || !CHOICES.includes(saved.info?.backend)) return undefined;
    return saved.info;
  } catch {
    return undefined;
  }
}

/**
 * Starts `choice` and remembers it. `measureAgain`: for 'auto', ignore the remembered result (the user
 * chose Automatic again, so measure now).
 */
export async function startBackend(store: LabStore, choice: BackendChoice, measureAgain = false): Promise<void> {
  write(CHOICE_KEY, choice === 'auto' ? null : choice);
  await store.getState().chooseBackend(choice, choice === 'auto' && !measureAgain ? rememberedAuto() : undefined);
  const info = store.getState().backend;
  if (choice === 'auto' && info && info.timings.length > 0) write(AUTO_KEY, JSON.stringify({ userAgent: navigator.userAgent, info }));
}
