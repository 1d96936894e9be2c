// What the engine needs from a browser (worker or page): tfjs backends via src/backend/setup.ts, the
// WebGPU adapter, and files of the site fetched with progress.

import { initBackend, type BackendInfo as SetupInfo } from '../backend/setup.ts';
import type { EngineHost } from './engine.ts';
import type { GpuProbe } from './backend-choice.ts';
import type { BackendName } from './protocol.ts';
import { readWithProgress } from './data-source.ts';

interface AdapterLike {
  isFallbackAdapter?: boolean;
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
}

function describe(info: SetupInfo): string {
  switch (info.backend) {
    case 'wasm':
      return `WebAssembly${info.simd ? ' SIMD' : ''}, ${info.threads} thread${info.threads === 1 ? '' : 's'}`;
    case 'cpu':
      return 'JavaScript (tfjs-cpu), 1 thread';
    case 'webgl':
      return info.adapterInfo ? `WebGL2: ${info.adapterInfo}` : 'WebGL2';
    case 'webgpu':
      return info.adapterInfo ? `WebGPU: ${info.adapterInfo}` : 'WebGPU';
  }
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

function availableBackends(): BackendName[] {
  const out: BackendName[] = [];
  if ((globalThis.navigator as Navigator & { gpu?: GPU }).gpu) out.push('webgpu');
  if (typeof OffscreenCanvas !== 'undefined' || typeof document !== 'undefined') out.push('webgl');
  if (typeof WebAssembly !== 'undefined') out.push('wasm');
  out.push('cpu');
  return out;
}

/** `base` is the site's base URL (Vite's BASE_URL), ending in "/". */
export function browserHost(base: string): EngineHost {
  return {
    backends: availableBackends(),
    async initBackend(name) {
      return { adapter: describe(await initBackend(name)) };
    },
    probeWebGpu,
    async fetchBytes(path, onProgress) {
      const response = await fetch(new URL(base + path, globalThis.location.href));
      // A dev server may answer a missing file with the page itself.
      if (response.status === 404 || (response.headers.get('Content-Type') ?? '').startsWith('text/html')) return undefined;
      if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${response.statusText}`);
      return readWithProgress(response, onProgress);
    },
  };
}
