// Never lose a run, in the browser: every run is recorded in IndexedDB and listed; a reload in the
// middle of a run offers Resume, and the resumed run's losses equal an uninterrupted run's with the
// same seed (both on wasm); the runs list opens, renames and deletes (with undo); a diverging run is
// kept as diverged with its step and learning rate; the training worker dying is detected, said, the
// run resumable and a new worker started; a background tab is reported on.
import { expect, test } from '@playwright/test';
import { button, control, iteration, lossPoints, openLab, setRunOptions } from './lab.ts';
import { setTabHidden, storedRuns, trainingWorker } from './history.ts';

const TINY = '/?protocol=gcr&depth=8&batch=8&epochs=1&seed=5';

async function checkpointEvery(page: import('@playwright/test').Page, steps: number | undefined) {
  await control(page, 'Checkpoint every (steps)').fill(steps === undefined ? '' : String(steps));
}

test('reload mid-run, Resume: the same losses as a run never interrupted; the Runs list opens, renames, deletes with undo', async ({ page }) => {
  await openLab(page, TINY, 'wasm');
  await setRunOptions(page, { maxSteps: 30, testImages: 50 });
  await checkpointEvery(page, 10);

  // An uninterrupted run.
  await button(page, 'Train').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Reached the step limit', { timeout: 120_000 });
  await expect(page.getByTestId('run-row')).toHaveCount(1);
  await expect(page.getByTestId('run-row').first()).toHaveAttribute('data-status', 'max-steps');

  // The same run again, reloaded after its checkpoint at step 10 (a few steps later).
  await button(page, 'Train').click();
  await expect(page.getByTestId('last-checkpoint')).toHaveAttribute('data-step', '10', { timeout: 120_000 });
  await expect.poll(() => iteration(page)).toBeGreaterThanOrEqual(13);
  await page.reload();
  await expect(page.getByTestId('data-label')).toContainText('CIFAR-10', { timeout: 60_000 });
  const offer = page.getByTestId('resume-offer');
  await expect(offer).toContainText('was interrupted at step');
  await expect(offer).toContainText('its last checkpoint is at step 10');
  const [interrupted] = await storedRuns(page);
  expect(interrupted.run.status).toBe('interrupted');
  expect(interrupted.run.lastStep).toBeGreaterThanOrEqual(10); // steps after it, if stored, are cut back on resume

  await offer.getByRole('button', { name: 'Resume' }).click();
  await expect(page.getByTestId('run-phase')).toHaveText('Reached the step limit', { timeout: 120_000 });
  await expect(offer).toHaveCount(0);
  expect(await lossPoints(page)).toBe(30); // steps 1-10 from the history, 11-30 trained again
  const [resumed, straight] = await storedRuns(page);
  expect(resumed.run.id).toBe(interrupted.run.id);
  expect(resumed.run.status).toBe('max-steps');
  expect(resumed.steps).toEqual(straight.steps);
  expect(resumed.losses).toEqual(straight.losses); // bit for bit (float32 as stored)
  test.info().annotations.push({ type: 'resume', description: `losses of steps 11-30 after a reload at step >= 13 equal the straight run's: ${resumed.losses.slice(10, 13).join(', ')}, ...` });

  // The Runs list: open the first run (re-plotted), rename it, delete the second and undo.
  const rows = page.getByTestId('run-row');
  await expect(rows).toHaveCount(2);
  const first = page.locator(`[data-run-id="${straight.run.id}"]`);
  await first.getByRole('button', { name: 'Open' }).click();
  await expect(page.getByTestId('shown-run')).toContainText(straight.run.name);
  await expect(page.getByTestId('loss-chart')).toHaveAttribute('data-points', '30');
  await expect(page.getByTestId('error-chart')).toHaveAttribute('data-points', '2');
  await first.getByRole('button', { name: 'Rename' }).click();
  await page.getByLabel('New name').fill('<b>straight</b> run');
  await page.getByLabel('New name').press('Enter');
  await expect(first.getByTestId('run-name')).toHaveText('<b>straight</b> run'); // text, never markup
  await expect(page.locator('.runs b')).toHaveCount(0);

  const second = page.locator(`[data-run-id="${resumed.run.id}"]`);
  await second.getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByTestId('undo-notice')).toContainText('Deleted');
  await expect(rows).toHaveCount(1);
  await page.getByTestId('undo-notice').getByRole('button', { name: 'Undo' }).click();
  await expect(rows).toHaveCount(2);
  await second.getByRole('button', { name: 'Delete' }).click();
  await page.getByTestId('undo-notice').getByRole('button', { name: 'OK' }).click();
  await expect(rows).toHaveCount(1);
  await page.reload();
  await expect(page.getByTestId('run-row')).toHaveCount(1);
  await expect(page.getByTestId('run-name')).toHaveText('<b>straight</b> run');
});

test('the training worker dies mid-run: detected, said, the run interrupted and resumable in a new worker', async ({ page }) => {
  await openLab(page, TINY, 'wasm');
  await setRunOptions(page, { maxSteps: 60, testImages: 50 });
  await checkpointEvery(page, 8);
  await button(page, 'Train').click();
  await expect(page.getByTestId('last-checkpoint')).toHaveAttribute('data-step', '8', { timeout: 120_000 });
  // A background tab meanwhile: the page says afterwards whether the browser slowed training.
  await setTabHidden(page, true);
  const hiddenAt = await iteration(page);
  await expect.poll(() => iteration(page), { timeout: 60_000 }).toBeGreaterThanOrEqual(hiddenAt + 10);
  await setTabHidden(page, false);
  await expect(page.getByTestId('run-notice')).toContainText(/in the background/);
  test.info().annotations.push({ type: 'background', description: await page.getByTestId('run-notice').innerText() });

  const worker = await trainingWorker(page);
  await worker.evaluate(() => (self as unknown as { close(): void }).close()); // the browser ends the worker
  const notice = page.getByTestId('run-notice');
  await expect(notice).toContainText('The training worker stopped unexpectedly', { timeout: 30_000 });
  await expect(notice).toContainText('Resume continues from there');
  await expect(page.getByTestId('run-phase')).toHaveText('Interrupted');
  await expect(page.getByTestId('run-row').first()).toHaveAttribute('data-status', 'interrupted');
  await expect(page.getByTestId('backend-in-use')).toHaveText('wasm', { timeout: 60_000 }); // the new worker's
  await expect(page.getByTestId('data-label')).toContainText('CIFAR-10', { timeout: 60_000 });

  await page.getByTestId('resume-offer').getByRole('button', { name: 'Resume' }).click();
  await expect(page.getByTestId('run-phase')).toHaveText('Reached the step limit', { timeout: 120_000 });
  expect(await lossPoints(page)).toBe(60);
  const [run] = await storedRuns(page);
  expect(run.run.status).toBe('max-steps');
  expect(run.steps).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
});

test('a diverging run is kept as diverged, with the step and the learning rate', async ({ page }) => {
  await openLab(page, '/?protocol=gcr&depth=8&batch=8&epochs=1&seed=5&lr=10&wd=1&schedule=constant', 'wasm');
  await setRunOptions(page, { maxSteps: 200, testImages: 20 });
  await button(page, 'Train').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Diverged', { timeout: 120_000 });
  await expect(page.getByText(/the run diverged/)).toBeVisible();
  const row = page.getByTestId('run-row').first();
  await expect(row).toHaveAttribute('data-status', 'diverged');
  await expect(row).toContainText(/diverged at step \d+ \(lr 10\)/);
  const [run] = await storedRuns(page);
  expect(run.run.divergedAt?.lr).toBe(10);
  expect(run.steps.length).toBe(run.run.divergedAt!.step - 1); // the history up to the bad step is kept
  expect(await lossPoints(page)).toBe(run.steps.length);
});
