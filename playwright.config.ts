// Playwright e2e suite of the lab: real Chromium (Debian's, at /usr/bin/chromium; scripts/ensure-chromium.sh
// installs it when missing, and `npm run e2e` runs that first). Three servers on free localhost ports:
//  - the production build (`npm run build`, as the Pages workflow makes it) served by `vite preview`
//    (baseURL: most specs);
//  - the same dist/ copied under /lab/ of a plain static server that sends no special headers
//    (python3 -m http.server), as a GitHub Pages-like host: LAB_E2E_STATIC_URL;
//  - Vite's dev server, as `npm start` runs it: LAB_E2E_DEV_URL.
// One worker: every spec trains, and the machines have 2 cores.

import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './scripts/chromium.ts';

/** A free TCP port, chosen once in the main process and inherited by the test workers. */
function freePort(): number {
  const script =
    "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})";
  return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
}
/** `count` distinct free ports. */
function freePorts(count: number): number[] {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(freePort());
  return [...ports];
}
if (process.env.LAB_E2E_PORT === undefined) {
  [process.env.LAB_E2E_PORT, process.env.LAB_E2E_STATIC_PORT, process.env.LAB_E2E_DEV_PORT] = freePorts(3).map(String);
}
const port = Number(process.env.LAB_E2E_PORT);
const staticPort = Number(process.env.LAB_E2E_STATIC_PORT);
const devPort = Number(process.env.LAB_E2E_DEV_PORT);
/** The static host's root folder, outside the project (Vite's dev server scans its HTML files); the build goes into its lab/. */
const STATIC_ROOT = join(tmpdir(), `resnet-lab-e2e-static-${staticPort}`);
process.env.LAB_E2E_STATIC_URL = `http://127.0.0.1:${staticPort}/lab/`;
process.env.LAB_E2E_DEV_URL = `http://127.0.0.1:${devPort}/`;

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 180_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    viewport: { width: 1440, height: 1000 },
    acceptDownloads: true,
    launchOptions: {
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_ARGS,
    },
    trace: 'retain-on-failure',
  },
  // Started in this order, each once the one before answers: the build is made by the first.
  webServer: [
    {
      command: `npm run build --silent -- --logLevel warn && rm -rf ${STATIC_ROOT} && mkdir -p ${STATIC_ROOT} && cp -r dist ${STATIC_ROOT}/lab && npx vite preview --host 127.0.0.1 --port ${port} --strictPort`,
      url: `http://127.0.0.1:${port}/`,
      timeout: 300_000,
      reuseExistingServer: false,
      stdout: 'ignore',
      stderr: 'pipe',
    },
    {
      command: `python3 -m http.server ${staticPort} --bind 127.0.0.1 --directory ${STATIC_ROOT}`,
      url: `${process.env.LAB_E2E_STATIC_URL}index.html`,
      timeout: 30_000,
      reuseExistingServer: false,
      stdout: 'ignore',
      stderr: 'ignore',
    },
    {
      command: `npx vite --host 127.0.0.1 --port ${devPort} --strictPort --logLevel warn`,
      url: process.env.LAB_E2E_DEV_URL,
      timeout: 60_000,
      reuseExistingServer: false,
      stdout: 'ignore',
      stderr: 'pipe',
    },
  ],
});
