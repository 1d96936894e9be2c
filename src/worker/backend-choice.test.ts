// The automatic backend choice in Node, on the real cpu and wasm backends, small steps (ResNet-8,
// batch 16). There is no GPU here: in the hardware-GPU tests the host's 'webgpu' entry runs a real tfjs
// backend (cpu or wasm) and its adapter is labelled as a hardware GPU, so what is tested is the
// decision (both timed, the faster taken, remembered per device and step), not WebGPU itself.
// A choice by hand that cannot start uses Node's real refusal of WebGL, labelled as WebGPU.

import { describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from '../backend/setup.ts';
import { chooseBackend, type BackendHost } from './backend-choice.ts';
import type { BackendInfo, BackendTiming } from './protocol.ts';

const STEP = { depth: 8, batch: 16 };
const BUDGET_MS = 1_000;

/** A host whose backends run as `runs` says; records every backend started and every probe line. */
function host(
  runs: Partial<Record<BackendName, BackendName>>,
  gpu: { adapter: string; fallback: boolean } | undefined,
  machine = 'test machine, 2 cores',
) {
  const started: BackendName[] = [];
  const probes: string[] = [];
  const h: BackendHost = {
    backends: (['webgpu', 'wasm', 'cpu'] as const).filter((b) => runs[b] !== undefined),
    unavailable: { webgl: 'not in this test' },
    machine,
    async initBackend(name) {
      started.push(name);
      const real = runs[name] ?? name;
      await initBackend(real, { threads: 1 });
      return { adapter: name === 'webgpu' ? `${gpu?.adapter} (tfjs ${real} labelled as WebGPU)` : real };
    },
    probeWebGpu: async () => gpu,
  };
  const choose = (choice: Parameters<typeof chooseBackend>[0], options: Parameters<typeof chooseBackend>[3] = {}) => {
    started.length = 0;
    probes.length = 0;
    return chooseBackend(choice, h, (m) => probes.push(m), { step: STEP, budgetMs: BUDGET_MS, ...options });
  };
  return { choose, started, probes };
}

const HARDWARE = { adapter: 'Test GPU (hardware)', fallback: false };
const outcomes = (info: BackendInfo) => info.timings.map((t) => `${t.backend} ${t.outcome}`);
const measured = (info: BackendInfo) => info.timings.flatMap((t) => (t.outcome === 'measured' ? [t] : [])).sort((a, b) => a.ms - b.ms);

describe('automatic choice with a hardware GPU (a real tfjs backend labelled as the GPU)', () => {
  let slowGpu: BackendInfo;

  it('times WebGPU and WASM on the experiment step and takes the faster', async () => {
    // 'webgpu' runs tfjs-cpu, far slower than the lab's wasm kernels: WASM wins.
    const h = host({ webgpu: 'cpu', wasm: 'wasm', cpu: 'cpu' }, HARDWARE);
    slowGpu = await h.choose('auto');
    expect(outcomes(slowGpu)).toEqual(['webgpu measured', 'wasm measured', 'webgl not-available', 'cpu not-measured']);
    expect(slowGpu.backend).toBe(measured(slowGpu)[0].backend);
    expect(slowGpu.backend).toBe('wasm');
    expect(slowGpu.reason).toBe('faster of WebGPU and WASM per step of ResNet-8 at batch 16');
    expect(slowGpu.measuredOn).toEqual({ device: 'WebGPU adapter: Test GPU (hardware); test machine, 2 cores', step: STEP });
    expect(h.probes.filter((p) => p.startsWith('timing'))).toEqual([
      'timing webgpu (ResNet-8 at batch 16, after a warm-up step)',
      'timing wasm (ResNet-8 at batch 16, after a warm-up step)',
    ]);
    expect(h.started.at(-1)).toBe('wasm');

    // 'webgpu' runs wasm and 'wasm' runs tfjs-cpu: WebGPU wins.
    const fast = await host({ webgpu: 'wasm', wasm: 'cpu' }, HARDWARE).choose('auto');
    expect(fast.backend).toBe(measured(fast)[0].backend);
    expect(fast.backend).toBe('webgpu');
    expect(fast.adapter).toMatch(/Test GPU/);
  });

  it('takes a choice remembered for this device and step without measuring', async () => {
    const h = host({ webgpu: 'cpu', wasm: 'wasm', cpu: 'cpu' }, HARDWARE);
    const again = await h.choose('auto', { remembered: [slowGpu] });
    expect(h.started).toEqual(['wasm']);
    expect(h.probes.some((p) => p.startsWith('timing'))).toBe(false);
    expect(again).toMatchObject({ backend: 'wasm', timings: slowGpu.timings, measuredOn: slowGpu.measuredOn });
    expect(again.reason).toBe(`measured earlier on this device: ${slowGpu.reason}`);
  });

  it('measures again on another device, and for another step', async () => {
    const otherGpu = host({ webgpu: 'cpu', wasm: 'wasm', cpu: 'cpu' }, { adapter: 'Other GPU', fallback: false });
    const a = await otherGpu.choose('auto', { remembered: [slowGpu] });
    expect(otherGpu.probes.filter((p) => p.startsWith('timing'))).toHaveLength(2);
    expect(a.measuredOn?.device).toBe('WebGPU adapter: Other GPU; test machine, 2 cores');

    const otherMachine = host({ webgpu: 'cpu', wasm: 'wasm', cpu: 'cpu' }, HARDWARE, 'test machine, 8 cores');
    await otherMachine.choose('auto', { remembered: [slowGpu] });
    expect(otherMachine.probes.filter((p) => p.startsWith('timing'))).toHaveLength(2);

    const sameDevice = host({ webgpu: 'cpu', wasm: 'wasm', cpu: 'cpu' }, HARDWARE);
    const b = await sameDevice.choose('auto', { remembered: [slowGpu], step: { depth: 8, batch: 8 } });
    expect(sameDevice.probes.filter((p) => p.startsWith('timing'))).toHaveLength(2);
    expect(b.measuredOn?.step).toEqual({ depth: 8, batch: 8 });
  });
});

describe('automatic choice without a hardware GPU', () => {
  it('leaves a software adapter out, with its reason, and measures the others on the small step', async () => {
    const h = host({ webgpu: 'cpu', wasm: 'wasm', cpu: 'cpu' }, { adapter: 'Google SwiftShader', fallback: true });
    const info = await h.choose('auto', { step: { depth: 56, batch: 128 } });
    expect(h.started).not.toContain('webgpu');
    expect(info.timings[0]).toEqual({
      backend: 'webgpu',
      outcome: 'not-available',
      reason: 'only a software adapter (Google SwiftShader), left out of the automatic choice',
    } satisfies BackendTiming);
    expect(outcomes(info)).toEqual(['webgpu not-available', 'wasm measured', 'webgl not-available', 'cpu measured']);
    expect(info.reason).toBe('fastest measured per step of ResNet-8 at batch 16');
    // The small step, whatever the experiment's: a software adapter's device remembers it for any step.
    expect(info.measuredOn).toEqual({ device: 'WebGPU software adapter: Google SwiftShader; test machine, 2 cores', step: STEP });
    expect(info.backend).toBe(measured(info)[0].backend);
  });

  it('says there is no adapter, and what this environment does not offer', async () => {
    const info = await host({ webgpu: 'cpu', wasm: 'wasm' }, undefined).choose('auto');
    expect(info.timings).toContainEqual({ backend: 'webgpu', outcome: 'not-available', reason: 'no WebGPU adapter' });
    expect(info.timings).toContainEqual({ backend: 'cpu', outcome: 'not-available', reason: 'not offered in this environment' });
    expect(info.backend).toBe('wasm');
  });
});

describe('a backend chosen by hand that cannot start', () => {
  // 'webgpu' here starts the real webgl backend, which refuses to start in Node.
  const runs = { webgpu: 'webgl', wasm: 'wasm', cpu: 'cpu' } as const;

  it('names the backend and the reason, and keeps the one in use', async () => {
    const h = host(runs, HARDWARE);
    const current = await h.choose('cpu');
    expect(current).toMatchObject({ backend: 'cpu', reason: 'chosen by you', timings: [] });
    const info = await h.choose('webgpu', { current });
    expect(info.refused).toEqual({
      backend: 'webgpu',
      reason: expect.stringMatching(/^Backend 'webgl' is not available: webgl exists only in browsers/),
    });
    expect(info).toMatchObject({ backend: 'cpu', reason: 'chosen by you' });
    expect(h.started).toEqual(['webgpu', 'cpu']);
  });

  it('chooses automatically when none was in use, listing the failure among the figures', async () => {
    const h = host(runs, HARDWARE);
    const info = await h.choose('webgpu');
    expect(info.refused?.backend).toBe('webgpu');
    expect(info.timings[0]).toMatchObject({
      backend: 'webgpu',
      outcome: 'failed',
      reason: expect.stringMatching(/^could not start: .*only in browsers/),
    });
    expect(outcomes(info)).toEqual(['webgpu failed', 'wasm measured', 'webgl not-available', 'cpu not-measured']);
    expect(info.backend).toBe('wasm');
  });

  it('names a backend this environment does not offer', async () => {
    const h = host({ wasm: 'wasm', cpu: 'cpu' }, undefined);
    const current: BackendInfo = { backend: 'wasm', adapter: 'wasm', reason: 'chosen by you', timings: [] };
    const info = await h.choose('webgl', { current });
    expect(info.refused).toEqual({ backend: 'webgl', reason: 'not in this test' });
    expect(info.backend).toBe('wasm');
  });
});
