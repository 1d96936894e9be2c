// Never lose a run, in the browser: every run is recorded in IndexedDB and listed; a reload in the
// middle of a run offers Resume, and the resumed run's losses equal an uninterrupted run's with the
// same seed (both on wasm); the runs list opens, renames and deletes (with undo); a diverging run is
// kept as diverged with its step and learning rate; the training worker dying is detected, said, the
// run resumable and a new worker started; a background tab is reported on.
import { expect, test } from '@playwright/test';
import { button, checkpointAtLeast, control, iteration, lossPoints, openLab, setRunOptions } from './lab.ts';
import { setTabHidden, storedRuns, trainingWorker } from './history.ts';

const TINY = '/?protocol=gcr&depth=8&batch=8&epochs=1&seed=5';

async function checkpointEvery(page: import('@playwright/test').Page, steps: number | undefined) {
  await control(page, 'Checkpoint every (steps)').fill(steps === undefined ? '' : String(steps));
}

test('reload mid-run, Resume: the same losses as a run never interrupted; the Runs list opens, renames, deletes with undo', async ({
  page,
}) => {
  // Enough steps that a fast machine is still training when the page reloads; which checkpoint the
  // resume starts from depends on the machine's speed, so it is read from the offer.
  const STEPS = 100;
  await openLab(page, TINY, 'wasm');
  await setRunOptions(page, { maxSteps: STEPS, testImages: 50 });
  await checkpointEvery(page, 10);

  // An uninterrupted run.
  await button(page, 'Train').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Reached the step limit', { timeout: 120_000 });
  await expect(page.getByTestId('run-row')).toHaveCount(1);
  await expect(page.getByTestId('run-row').first()).toHaveAttribute('data-status', 'max-steps');

  // The same run again, reloaded a few steps after its first checkpoint.
  await button(page, 'Train').click();
  await checkpointAtLeast(page, 10);
  await expect.poll(() => iteration(page)).toBeGreaterThanOrEqual(13);
  await page.reload();
  await expect(page.getByTestId('data-label')).toContainText('CIFAR-10', { timeout: 60_000 });
  const offer = page.getByTestId('resume-offer');
  await expect(offer).toContainText('was interrupted at step');
  const said = /its last checkpoint is at step (\d+)/.exec(await offer.innerText());
  expect(said).not.toBeNull();
  const kept = Number(said![1]);
  expect(kept % 10).toBe(0);
  expect(kept).toBeGreaterThanOrEqual(10);
  const [interrupted] = await storedRuns(page);
  expect(interrupted.run.status).toBe('interrupted');
  expect(interrupted.run.lastStep).toBeGreaterThanOrEqual(kept); // steps after it, if stored, are cut back on resume

  await offer.getByRole('button', { name: 'Resume' }).click();
  await expect(page.getByTestId('run-phase')).toHaveText('Reached the step limit', { timeout: 120_000 });
  await expect(offer).toHaveCount(0);
  expect(await lossPoints(page)).toBe(STEPS); // steps up to the checkpoint from the history, the rest trained again
  const [resumed, straight] = await storedRuns(page);
  expect(resumed.run.id).toBe(interrupted.run.id);
  expect(resumed.run.status).toBe('max-steps');
  expect(resumed.steps).toEqual(straight.steps);
  expect(resumed.losses).toEqual(straight.losses); // bit for bit (float32 as stored)
  test.info().annotations.push({
    type: 'resume',
    description: `reloaded at step >= 13, resumed from the checkpoint at step ${kept}: losses of steps ${kept + 1}-${STEPS} equal the straight run's: ${resumed.losses.slice(kept, kept + 3).join(', ')}, ...`,
  });

  // The Runs list: open the first run (re-plotted), rename it, delete the second and undo.
  const rows = page.getByTestId('run-row');
  await expect(rows).toHaveCount(2);
  const first = page.locator(`[data-run-id="${straight.run.id}"]`);
  await first.getByRole('button', { name: 'Open' }).click();
  await expect(page.getByTestId('shown-run')).toContainText(straight.run.name);
  await expect(page.getByTestId('loss-chart')).toHaveAttribute('data-points', String(STEPS));
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
  await setRunOptions(page, { maxSteps: 200, testImages: 50 }); // still training after the steps below on a fast machine
  await checkpointEvery(page, 8);
  await button(page, 'Train').click();
  await checkpointAtLeast(page, 8);
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
  expect(await lossPoints(page)).toBe(200);
  const [run] = await storedRuns(page);
  expect(run.run.status).toBe('max-steps');
  expect(run.steps).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
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
