// Data: the six official .bin files given by file picker (MD5-checked, with progress), a wrong file
// refused with a clear error that leaves the loaded data in place, and the demo sample when the server
// has no public/data.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { expect, test } from '@playwright/test';
import { button, openLab } from './lab.ts';

const DIR = 'public/data/cifar-10-batches-bin';
const BINS = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];

async function choose(page: import('@playwright/test').Page, files: string[]) {
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), button(page, 'Choose CIFAR-10 files').click()]);
  await chooser.setFiles(files);
}

test('a wrong file is refused by name; the six official .bin files are MD5-checked and used', async ({ page }, info) => {
  test.skip(!existsSync(`${DIR}/test_batch.bin`), 'needs `npm run data`');
  await openLab(page, '/', 'wasm');
  const wrong = info.outputPath('data_batch_1.bin');
  await writeFile(wrong, new Uint8Array(3073 * 3));
  await choose(page, [wrong]);
  const alert = page.getByRole('alert').filter({ hasText: 'missing data_batch_2.bin' });
  await expect(alert).toBeVisible();
  await expect(page.getByTestId('data-label')).toContainText('CIFAR-10 (50,000 training');

  await choose(
    page,
    BINS.map((f) => `${DIR}/${f}`),
  );
  await expect(page.getByText(/Checking MD5 of|Reading records of/)).toBeVisible();
  await expect(page.getByTestId('data-label')).toContainText('data_batch_1.bin, data_batch_2.bin', { timeout: 120_000 });
  await expect(alert).toHaveCount(0);
});

test('without public/data the lab trains on the demo sample, clearly labelled', async ({ page }) => {
  await page.route('**/data/**', (route) => route.fulfill({ status: 404, body: 'not here' }));
  await page.addInitScript(() => window.localStorage.setItem('resnet-lab.backend', 'wasm'));
  await page.goto('/?depth=8&batch=16&epochs=1');
  await expect(page.getByTestId('data-label')).toContainText('demo sample (500 training, 200 test images');
  await expect(page.locator('.badge.demo')).toHaveText('demo');
  await expect(page.getByText('npm run data', { exact: true })).toBeVisible();
  await expect(page.getByTestId('backend-in-use')).toHaveText('wasm', { timeout: 60_000 });
  const maxSteps = page.getByLabel('Max steps', { exact: true });
  await page.getByText('Run options (not in the share link)').click();
  await maxSteps.fill('5');
  await button(page, 'Train').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Reached the step limit', { timeout: 60_000 });
  await expect(page.getByTestId('error-caption')).toContainText('(200 test images)');
});
