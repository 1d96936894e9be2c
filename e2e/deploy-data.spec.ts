// The data set in a deployment: the built dist/, copied under /lab/ of a plain static server (no special
// headers; playwright.config.ts serves it at LAB_E2E_STATIC_URL), trains on the full CIFAR-10 from its
// compact PNG copy with a progress bar, and after a reload has it again from the browser's Cache
// Storage without requesting the data files. Not the build step itself (src/data/cifar-png.test.ts,
// src/worker/data-source.test.ts).
import { existsSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { button, setRunOptions } from './lab.ts';

const STATIC_URL = process.env.LAB_E2E_STATIC_URL;
const DATA_FILE = /\/data\/cifar-10-(png|batches-bin)\/[^/?]+\.(png|bin)(\?|$)/;

test('the built site trains on the full CIFAR-10 and keeps it across a reload', async ({ page, context }) => {
  test.skip(!STATIC_URL, 'needs the static server of playwright.config.ts (LAB_E2E_STATIC_URL)');
  test.skip(!existsSync('public/data/cifar-10-batches-bin/test_batch.bin'), 'needs `npm run data` before the build');
  test.setTimeout(300_000);
  // Data files the page, its workers and its service worker received (the page first asks for the
  // .bin files a dev server would have, and this host answers 404).
  const requested: string[] = [];
  context.on('response', (r) => {
    if (DATA_FILE.test(r.url()) && r.ok()) requested.push(r.url());
  });
  await page.addInitScript(() => window.localStorage.setItem('resnet-lab.backend', 'wasm'));
  const label = page.getByTestId('data-label');

  await page.goto(`${STATIC_URL}?depth=8&batch=16&epochs=1`);
  await expect(page.locator('progress').first()).toBeVisible({ timeout: 60_000 });
  await expect(page.getByText(/^(Reading|Unpacking|Reading records of) \S+\.png$/).first()).toBeVisible({ timeout: 60_000 });
  await expect(label).toContainText('CIFAR-10 (50,000 training, 10,000 test images)', { timeout: 180_000 });
  await expect(label).toContainText('data/cifar-10-png/');
  const files = new Set(requested.map((u) => new URL(u).pathname.split('/').pop()));
  expect([...files].sort()).toEqual([
    'data_batch_1.png',
    'data_batch_2.png',
    'data_batch_3.png',
    'data_batch_4.png',
    'data_batch_5.png',
    'labels.bin',
    'test_batch.png',
  ]);

  await expect(page.getByTestId('backend-in-use')).toHaveText('wasm', { timeout: 120_000 });
  await setRunOptions(page, { maxSteps: 3, testImages: 100 });
  await button(page, 'Train').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Reached the step limit', { timeout: 120_000 });

  requested.length = 0;
  await page.reload();
  await expect(label).toContainText('CIFAR-10 (50,000 training, 10,000 test images)', { timeout: 120_000 });
  await expect(label).toContainText('kept by this browser');
  await expect(label).not.toContainText('partly');
  expect(requested).toEqual([]);
});
