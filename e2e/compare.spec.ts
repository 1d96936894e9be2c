// Compare, repeats and per-run export, in Chromium: two tiny ResNet-8 runs on WASM with seeds 5 and 6
// are summarised in the Runs list as mean ± std; two that differ in the learning rate are ticked for
// Compare; both charts draw both runs, the x-axis switches to iterations and
// images, the other run is pinned as the baseline, the summary table highlights the learning rate
// where it differs from the baseline; the selection survives a reload; a run deleted while selected
// drops out; a run from the Runs list downloads as a .zip bundle that decodes to that run.
import { readFile } from 'node:fs/promises';
import { expect, test, type Page } from '@playwright/test';
import { decodeRunFile } from '../src/state/bundle-zip.ts';
import { button, control, openLab, setRunOptions } from './lab.ts';
import { storedRuns } from './history.ts';

const TINY = '/?protocol=gcr&depth=8&batch=8&epochs=1&seed=5';
const STEPS = 15;

async function trainedRuns(page: Page, n: number) {
  await expect(page.getByTestId('run-row')).toHaveCount(n, { timeout: 60_000 });
  await expect(page.locator('[data-testid="run-row"][data-status="max-steps"]')).toHaveCount(n, { timeout: 120_000 });
}

test('two runs side by side: overlaid curves, x-axis, baseline, differing key highlighted; export from the Runs list', async ({
  page,
}, info) => {
  await openLab(page, TINY, 'wasm');
  await setRunOptions(page, { maxSteps: STEPS, testImages: 50 });
  await button(page, 'Train').click();
  await trainedRuns(page, 1);
  // A repeat with another seed: the Runs list summarises the two as mean ± std.
  await control(page, 'Seed').fill('6');
  await control(page, 'Seed').press('Tab');
  await button(page, 'Train').click();
  await trainedRuns(page, 2);
  const group = page.getByTestId('repeat-group');
  await expect(group).toHaveCount(1);
  await expect(group).toHaveAttribute('data-runs', '2');
  await expect(group).toContainText('5, 6');
  await expect(group.getByTestId('repeat-final')).toHaveText(/^\d+\.\d\d ± \d+\.\d\d \(n = 2\)$/);
  await expect(group).toContainText('chosen on the test set');
  // The same seed with another learning rate.
  await control(page, 'Learning rate').fill('0.05');
  await control(page, 'Learning rate').press('Tab');
  await button(page, 'Train').click();
  await trainedRuns(page, 3);
  const [second, first] = await storedRuns(page); // newest first: lr 0.05 seed 6, then lr 0.1 seed 6
  expect(first.steps).toHaveLength(STEPS);
  expect(second.steps).toHaveLength(STEPS);

  // Tick both, the older first: it is the baseline until another is pinned.
  const panel = page.getByTestId('compare-panel');
  await expect(panel).toHaveAttribute('data-selected', '0');
  await page.locator(`[data-run-id="${first.run.id}"]`).getByRole('checkbox').check();
  await page.locator(`[data-run-id="${second.run.id}"]`).getByRole('checkbox').check();
  await expect(panel).toHaveAttribute('data-selected', '2');
  const rows = page.getByTestId('compare-row');
  await expect(rows).toHaveCount(2);
  await expect(page.getByTestId('compare-loss')).toHaveAttribute('data-lines', '2');
  await expect(page.getByTestId('compare-error')).toHaveAttribute('data-lines', '2');
  // Same batch: both runs' 15 steps share one x grid; both test errors at step 0 and 15.
  await expect(page.getByTestId('compare-loss')).toHaveAttribute('data-rows', String(STEPS));
  await expect(page.getByTestId('compare-error')).toHaveAttribute('data-rows', '2');
  await expect(page.getByTestId('compare-loss').locator('.recharts-line')).toHaveCount(2);
  const firstRow = page.locator(`[data-testid="compare-row"][data-run-id="${first.run.id}"]`);
  const secondRow = page.locator(`[data-testid="compare-row"][data-run-id="${second.run.id}"]`);
  await expect(firstRow).toHaveAttribute('data-baseline', 'true');

  // The learning rate is the one key that differs; the non-baseline row's cell is highlighted.
  await expect(page.getByTestId('compare-key')).toHaveCount(1);
  await expect(page.getByTestId('compare-key')).toHaveAttribute('data-key', 'lr');
  await expect(secondRow.locator('td[data-key="lr"]')).toHaveAttribute('data-differs', 'true');
  await expect(secondRow.locator('td[data-key="lr"]')).toHaveText('0.05');
  await expect(firstRow.locator('td[data-key="lr"]')).toHaveAttribute('data-differs', 'false');
  await expect(secondRow.getByTestId('compare-final')).toContainText(/pp/); // difference to the baseline
  await expect(panel.locator('.flag').first()).toHaveText('chosen on the test set');
  await expect(page.getByTestId('compare-common')).toContainText('depth 8');

  // The x-axis: iterations (the axis says so), then training images.
  const axis = page.getByRole('radiogroup', { name: 'Compare x-axis' });
  await axis.getByRole('radio', { name: 'Iterations' }).click();
  await expect(axis.getByRole('radio', { name: 'Iterations' })).toHaveAttribute('aria-checked', 'true');
  await expect(page.getByTestId('compare-loss').locator('.recharts-label').first()).toHaveText('iterations');
  await axis.getByRole('radio', { name: 'Images' }).click();
  await expect(page.getByTestId('compare-error').locator('.recharts-label').first()).toHaveText('training images seen');

  // Pin the other run: now the first run's learning rate is the one unlike the baseline's.
  await secondRow.getByRole('radio', { name: `Baseline ${second.run.name}` }).check(); // both runs have the default name
  await expect(secondRow).toHaveAttribute('data-baseline', 'true');
  await expect(firstRow).toHaveAttribute('data-baseline', 'false');
  await expect(firstRow.locator('td[data-key="lr"]')).toHaveAttribute('data-differs', 'true');
  await expect(secondRow.locator('td[data-key="lr"]')).toHaveAttribute('data-differs', 'false');
  await page.getByTestId('compare-panel').screenshot({ path: info.outputPath('compare.png') });

  // Export the first run from the Runs list: a .zip file with its 15 steps.
  const [file] = await Promise.all([
    page.waitForEvent('download'),
    page.locator(`[data-testid="run-row"][data-run-id="${first.run.id}"]`).getByRole('button', { name: 'Export' }).click(),
  ]);
  expect(file.suggestedFilename()).toMatch(/\.zip$/);
  const path = info.outputPath(file.suggestedFilename());
  await file.saveAs(path);
  const bundle = decodeRunFile(new Uint8Array(await readFile(path)), path);
  expect(bundle.meta.name).toBe(first.run.name);
  expect(Array.from(bundle.steps.loss)).toEqual(first.losses);
  expect(bundle.config).toContain('lr=0.1');

  // A reload keeps the selection, the pin and the axis.
  await page.reload();
  await expect(panel).toHaveAttribute('data-selected', '2', { timeout: 60_000 });
  await expect(secondRow).toHaveAttribute('data-baseline', 'true');
  await expect(axis.getByRole('radio', { name: 'Images' })).toHaveAttribute('aria-checked', 'true');
  await expect(page.getByTestId('compare-loss')).toHaveAttribute('data-lines', '2');

  // Deleted while selected: it drops out (and the remaining run is the baseline).
  await page.locator(`[data-testid="run-row"][data-run-id="${second.run.id}"]`).getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByTestId('run-row')).toHaveCount(2);
  await expect(panel).toHaveAttribute('data-selected', '1');
  await expect(firstRow).toHaveAttribute('data-baseline', 'true');
  await expect(page.getByTestId('compare-key')).toHaveCount(0);
});
