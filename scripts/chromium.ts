// Debian's Chromium and the launch flags that work for it headless on these machines (docs/protocols.md
// §7): shared by the e2e suite (playwright.config.ts) and the bench (bench/browser.ts).
// `--enable-unsafe-webgpu` is what offers WebGPU headless (through SwiftShader here).

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--enable-unsafe-webgpu',
];
