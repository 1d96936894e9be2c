// What the engine needs from a browser (worker or page): tfjs backends via src/backend/setup.ts, the
// WebGPU adapter, files of the site fetched with progress, the run history (IndexedDB), and whether
// the WebGPU device was lost.

import * as tf from '@tensorflow/tfjs-core';
import { openRunStore } from '../storage/run-store.ts';
import { describeBackend, initBackend } from '../backend/setup.ts';
import type { EngineHost } from './engine.ts';
import type { GpuProbe } from './backend-choice.ts';
import type { BackendName } from './protocol.ts';
import { readWithProgress } from './data-source.ts';

interface AdapterLike {
  isFallbackAdapter?: boolean;
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
}

async function probeWebGpu(): Promise<GpuProbe | undefined> {
  const gpu = (globalThis.navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return undefined;
  const adapter = (await gpu.requestAdapter({ powerPreference: 'high-performance' })) as (GPUAdapter & AdapterLike) | null;
  if (!adapter) return undefined;
  const info = adapter.info ?? {};
  const name = [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' ') || 'unnamed adapter';
  // Chrome moved isFallbackAdapter from the adapter to adapter.info; SwiftShader also names itself.
  const fallback = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true || /swiftshader/i.test(name);
  return { adapter: name, fallback };
}

/** The backends this browser offers, and why each of the others is missing. */
function availableBackends(): { backends: BackendName[]; unavailable: Partial<Record<BackendName, string>> } {
  const backends: BackendName[] = [];
  const unavailable: Partial<Record<BackendName, string>> = {};
  if ((globalThis.navigator as Navigator & { gpu?: GPU }).gpu) backends.push('webgpu');
  else
    unavailable.webgpu =
      globalThis.isSecureContext === false
        ? 'WebGPU needs a secure context (https or localhost)'
        : 'this browser has no WebGPU (navigator.gpu)';
  if (typeof OffscreenCanvas !== 'undefined' || typeof document !== 'undefined') backends.push('webgl');
  else unavailable.webgl = 'no OffscreenCanvas in this worker';
  if (typeof WebAssembly !== 'undefined') backends.push('wasm');
  else unavailable.wasm = 'this browser has no WebAssembly';
  backends.push('cpu');
  return { backends, unavailable };
}

/**
 * The machine apart from its GPU, read before wasm starts (setup.ts then changes the worker's
 * hardwareConcurrency): logical cores and the browser, so another browser or version measures again.
 */
function machine(): string {
  const nav = globalThis.navigator;
  return `${nav.hardwareConcurrency ?? '?'} logical cores; ${nav.userAgent}`;
}

/**
 * Watches the WebGPU device of tfjs's webgpu backend: `lost()` says why once the browser has taken it
 * away (driver reset, GPU process crash, device.destroy()); training on it then fails, and the run is
 * interrupted rather than failed (the page starts a new worker and offers to resume).
 */
function deviceWatch(): { watch(): void; lost(): string | undefined } {
  let reason: string | undefined;
  const watched = new WeakSet<object>();
  return {
    watch() {
      const device = (tf.backend() as unknown as { device?: GPUDevice }).device;
      if (!device || watched.has(device)) return;
      watched.add(device);
      void device.lost.then((info) => {
        reason = `${info.reason ?? 'unknown'}${info.message ? `: ${info.message}` : ''}`;
      });
    },
    // Only while webgpu is the backend: a later failure on another backend is not the device's.
    lost: () => (tf.getBackend() === 'webgpu' ? reason : undefined),
  };
}

/** `siteRoot`: the absolute URL of the site's root folder (where index.html, demo/ and data/ are), ending in "/". */
export function browserHost(siteRoot: string): EngineHost {
  const device = deviceWatch();
  const { backends, unavailable } = availableBackends();
  return {
    backends,
    unavailable,
    machine: machine(),
    async initBackend(name) {
      const info = await initBackend(name);
      if (name === 'webgpu') device.watch();
      return { adapter: describeBackend(info) };
    },
    deviceLost: device.lost,
    openRunStore: () => openRunStore(),
    probeWebGpu,
    async fetchBytes(path, onProgress) {
      const response = await fetch(new URL(path, siteRoot));
      // A dev server may answer a missing file with the page itself.
      if (response.status === 404 || (response.headers.get('Content-Type') ?? '').startsWith('text/html')) return undefined;
      if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${response.statusText}`);
      return readWithProgress(response, onProgress);
    },
  };
}
