// The lab as people reach it: on Vite's dev server (`npm start`), and from the built dist/ copied under
// /lab/ of a plain static server that sends no special headers (as GitHub Pages would serve it), where
// the page isolates itself with its service worker, trains on WASM with threads, and shares links on
// its own origin and path; with service workers blocked it says why WASM runs on one thread.
// The servers are started by playwright.config.ts (LAB_E2E_DEV_URL, LAB_E2E_STATIC_URL).
import { expect, test, type Page } from '@playwright/test';
import { button, control, lossPoints, openLab, setRunOptions } from './lab.ts';

const DEV_URL = process.env.LAB_E2E_DEV_URL!;
const STATIC_URL = process.env.LAB_E2E_STATIC_URL!;
const TINY_QUERY = '?protocol=gcr&depth=8&batch=16&epochs=1&seed=5';
/** The backend line of a WASM backend with threads and the lab's own kernels. */
const WASM_THREADED = /WebAssembly SIMD, [2-9] threads; lab kernels: .*, [2-9] threads/;

async function trainSteps(page: Page, steps: number): Promise<void> {
  await setRunOptions(page, { maxSteps: steps, testImages: 200 });
  await button(page, 'Train').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Reached the step limit', { timeout: 120_000 });
  await expect.poll(() => lossPoints(page)).toBe(steps);
}

test('the dev server (npm start) trains on WASM with threads and the lab kernels', async ({ page }) => {
  await openLab(page, DEV_URL + TINY_QUERY, 'wasm');
  await expect(page.getByTestId('backend-adapter')).toHaveText(WASM_THREADED);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  await trainSteps(page, 20);
  await expect(page.getByTestId('run-backend')).toHaveText('wasm');
});

test('the build under /lab/ of a plain static server isolates itself, trains on WASM threads, shares its own URL', async ({
  page,
  browser,
}) => {
  await openLab(page, STATIC_URL + TINY_QUERY, 'wasm');
  const isolation = await page.evaluate(() => ({ isolated: crossOriginIsolated, worker: navigator.serviceWorker.controller?.scriptURL }));
  expect(isolation).toEqual({ isolated: true, worker: `${STATIC_URL}coi-sw.js` });
  await expect(page.getByTestId('isolation-notice')).toHaveCount(0);
  await expect(page.getByTestId('backend-adapter')).toHaveText(WASM_THREADED);
  await trainSteps(page, 20);

  await button(page, 'Share').click();
  const link = await control(page, 'Share link').inputValue();
  expect(link.startsWith(`${STATIC_URL}?`)).toBe(true);
  expect(new URL(link).searchParams.get('depth')).toBe('8');

  // Opened by someone else (a fresh browser profile), the link restores the experiment.
  const other = await browser.newContext();
  try {
    const visitor = await other.newPage();
    await visitor.goto(link);
    await expect(visitor.getByTestId('explanation')).toContainText('ResNet-8,', { timeout: 60_000 });
    await expect(visitor.getByTestId('explanation')).toContainText('batch 16');
    expect(await visitor.evaluate(() => crossOriginIsolated)).toBe(true);
  } finally {
    await other.close();
  }
});

test('where isolation is impossible the page says why and trains WASM on one thread', async ({ browser }) => {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    await openLab(page, STATIC_URL + TINY_QUERY, 'wasm');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
    await expect(page.getByTestId('isolation-notice')).toContainText('WASM runs on one thread here');
    await expect(page.getByTestId('backend-adapter')).toContainText('WebAssembly SIMD, 1 thread');
    await trainSteps(page, 10);
  } finally {
    await context.close();
  }
});
