// The page's memory of automatic backend choices: kept per device and step, newest first, at most 8,
// and anything stored in another form dropped (so that device measures again). Pure functions, no storage.

import { describe, expect, it } from 'vitest';
import { parseRemembered, remember } from './backend-memory.ts';
import type { BackendInfo } from '../worker/protocol.ts';

const choice = (device: string, depth: number, backend: BackendInfo['backend'] = 'wasm'): BackendInfo => ({
  backend,
  adapter: backend,
  reason: 'faster of WebGPU and WASM per step of ResNet-20 at batch 128',
  timings: [{ backend, outcome: 'measured', ms: 100, rounds: 3 }],
  measuredOn: { device, step: { depth, batch: 128 } },
});

describe('remembered backend choices', () => {
  it('keeps one choice per device and step, the newest first', () => {
    let list = remember([], choice('gpu A', 20));
    list = remember(list, choice('gpu B', 20));
    list = remember(list, choice('gpu A', 110));
    list = remember(list, { ...choice('gpu A', 20, 'webgpu'), refused: { backend: 'webgl', reason: 'x' } });
    expect(list.map((r) => `${r.measuredOn!.device} ${r.measuredOn!.step.depth} ${r.backend}`)).toEqual([
      'gpu A 20 webgpu',
      'gpu A 110 wasm',
      'gpu B 20 wasm',
    ]);
    expect(list[0].refused).toBeUndefined();
    expect(parseRemembered(JSON.stringify(list))).toEqual(list);
  });

  it('keeps at most 8, and ignores a choice by hand', () => {
    let list: BackendInfo[] = [];
    for (let i = 0; i < 12; i++) list = remember(list, choice(`gpu ${i}`, 20));
    expect(list).toHaveLength(8);
    expect(list[0].measuredOn!.device).toBe('gpu 11');
    expect(remember(list, { backend: 'cpu', adapter: 'cpu', reason: 'chosen by you', timings: [] })).toEqual(list);
  });

  it('drops what it cannot use', () => {
    expect(parseRemembered(null)).toEqual([]);
    expect(parseRemembered('{not json')).toEqual([]);
    // A choice without its device (an older form), a made-up backend, a damaged step.
    const old = { backend: 'wasm', adapter: 'wasm', reason: 'fastest measured', timings: [] };
    const bad = { ...choice('gpu', 20), backend: 'tpu' };
    const damaged = { ...choice('gpu', 20), measuredOn: { device: 'gpu', step: { depth: '20' } } };
    expect(parseRemembered(JSON.stringify([old, bad, damaged, choice('gpu', 20)]))).toEqual([choice('gpu', 20)]);
  });
});
