// The backend panel's figures when WASM cannot start for a real reason: its .wasm binaries are not where
// tfjs is told to look (an empty folder). This file must be the first to start wasm in its process
// (Vitest runs each file in its own), because tfjs-wasm's paths are fixed once it has started. The
// chooser runs on the real cpu backend; the panel is rendered to markup in Node (no DOM).

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../backend/setup.ts';
import { chooseBackend, type BackendHost } from '../worker/backend-choice.ts';
import { BackendSummary } from './BackendPanel.tsx';

const noBinaries = mkdtempSync(join(tmpdir(), 'resnet-lab-no-wasm-')) + '/';

const host: BackendHost = {
  backends: ['wasm', 'cpu'],
  unavailable: { webgpu: 'WebGPU exists only in browsers', webgl: 'WebGL exists only in browsers' },
  machine: 'test machine',
  async initBackend(name) {
    // One thread: tfjs's own single-threaded loader, which reads the binaries from wasmPaths.
    const info = await initBackend(name, name === 'wasm' ? { wasmPaths: noBinaries, threads: 1 } : {});
    return { adapter: info.backend };
  },
  probeWebGpu: async () => undefined,
};

const WHY =
  /could not start: Backend 'wasm' is not available: tf\.setBackend failed: Aborted\(Error: ENOENT: no such file or directory, open '[^']*resnet-lab-no-wasm-[^']*tfjs-backend-wasm-simd\.wasm'\)/;

describe('a WASM that cannot start', () => {
  it('is listed with its reason among the figures of the automatic choice', async () => {
    const info = await chooseBackend('auto', host, () => undefined);
    expect(info.backend).toBe('cpu');
    expect(info.timings.map((t) => `${t.backend} ${t.outcome}`)).toEqual([
      'webgpu not-available',
      'wasm failed',
      'webgl not-available',
      'cpu measured',
    ]);
    expect(info.timings[1]).toMatchObject({ reason: expect.stringMatching(WHY) });

    const html = renderToStaticMarkup(createElement(BackendSummary, { info }));
    const row = (b: string) =>
      html.match(new RegExp(`<tr data-backend="${b}" data-outcome="([a-z-]+)"><th scope="row">([^<]*)</th><td>([^<]*)</td>`))?.slice(1);
    const unescape = (s: string) => s.replace(/&#x27;/g, "'");
    expect(row('wasm')?.slice(0, 2)).toEqual(['failed', 'WASM']);
    expect(unescape(row('wasm')![2])).toMatch(new RegExp(`^failed: ${WHY.source}`));
    expect(row('webgpu')).toEqual(['not-available', 'WebGPU', 'not available: WebGPU exists only in browsers']);
    expect(row('webgl')).toEqual(['not-available', 'WebGL', 'not available: WebGL exists only in browsers']);
    expect(row('cpu')?.slice(0, 2)).toEqual(['measured', 'CPU (in use)']);
    expect(row('cpu')![2]).toMatch(/^[\d,]+ ms/);
    expect(html).toContain('Per training step of ResNet-8 at batch 16');
  });

  it('chosen by hand: the panel names it and its reason, and what runs instead', async () => {
    const current = await chooseBackend('cpu', host, () => undefined);
    const info = await chooseBackend('wasm', host, () => undefined, { current });
    expect(info.backend).toBe('cpu');
    expect(info.refused).toEqual({
      backend: 'wasm',
      reason: expect.stringMatching(/^Backend 'wasm' is not available: tf\.setBackend failed: Aborted\(Error: ENOENT/),
    });
    const html = renderToStaticMarkup(createElement(BackendSummary, { info })).replace(/&#x27;/g, "'");
    expect(html).toMatch(
      /<p class="notice warn" role="alert" data-testid="backend-refused">WASM could not start: Backend 'wasm' is not available: tf\.setBackend failed: Aborted\(Error: ENOENT[^<]*\. Running instead: CPU \(chosen by you\)\.<\/p>/,
    );
  });
});
