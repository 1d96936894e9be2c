// Data the user gives the page: the six official .bin files by file picker (MD5-checked, with progress),
// and a wrong file refused with a clear error that leaves the loaded data in place.
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

  await choose(page, BINS.map((f) => `${DIR}/${f}`));
  await expect(page.getByText(/Checking MD5 of|Reading records of/)).toBeVisible();
  await expect(page.getByTestId('data-label')).toContainText('data_batch_1.bin, data_batch_2.bin', { timeout: 120_000 });
  await expect(alert).toHaveCount(0);
});
