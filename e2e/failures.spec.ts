// Failures a long run must survive, in the browser: the disk filling up (the worker's
// navigator.storage.estimate() made to report 100 kB free: Chromium 156 ignores the DevTools
// protocol's Storage.overrideQuotaForOrigin for estimate()) is reported with the runs to delete while training goes on, and the
// checkpoint from before stays usable; the WebGPU device lost in the middle of a run (SwiftShader,
// destroyed from inside the worker) marks the run interrupted, says so and starts a new worker.
import { expect, test } from '@playwright/test';
import { button, checkpointAtLeast, checkpointStep, control, iteration, openLab, setRunOptions } from './lab.ts';
import { storedRuns, trainingWorker } from './history.ts';

const TINY = '/?protocol=gcr&depth=8&batch=8&epochs=1&seed=5';

test('storage runs short mid-run: told what to delete, training goes on, the previous checkpoint resumes', async ({ page }) => {
  await openLab(page, TINY, 'wasm');
  await setRunOptions(page, { maxSteps: 12, testImages: 50 });
  await button(page, 'Train').click(); // a finished run: something to delete later
  await expect(page.getByTestId('run-phase')).toHaveText('Reached the step limit', { timeout: 120_000 });

  // Enough steps that a fast machine is still training when the disk fills up; the kept checkpoint is
  // whichever was saved last before that (never an exact step: the speed of the machine decides).
  const STEPS = 200;
  await setRunOptions(page, { maxSteps: STEPS, testImages: 50 });
  await control(page, 'Checkpoint every (steps)').fill('8');
  await button(page, 'Train').click();
  await checkpointAtLeast(page, 8);
  // The disk is nearly full now: 100 kB free (a ResNet-8 checkpoint is ~600 kB).
  const worker = await trainingWorker(page);
  await worker.evaluate(() => {
    const storage = navigator.storage as StorageManager & { estimate(): Promise<StorageEstimate> };
    storage.estimate = async () => ({ usage: 50e6, quota: 50e6 + 100_000 });
  });

  const problem = page.getByTestId('storage-problem');
  await expect(problem).toContainText('Not enough storage space to save the checkpoint', { timeout: 60_000 });
  await expect(problem).toContainText('The previously saved checkpoint is kept');
  await expect(problem.getByRole('button', { name: 'Delete' }).first()).toBeVisible(); // the largest runs, to delete
  const kept = await checkpointStep(page); // the last one saved before the disk filled up
  expect(kept % 8).toBe(0);
  await expect.poll(() => iteration(page), { timeout: 60_000 }).toBeGreaterThanOrEqual(kept + 17); // training goes on
  expect(await checkpointStep(page)).toBe(kept); // two more checkpoints were due; neither replaced it

  // The tab goes away (and with it the full disk); the run resumes from the checkpoint kept.
  await page.reload();
  await expect(page.getByTestId('resume-offer')).toContainText(`its last checkpoint is at step ${kept}`, { timeout: 60_000 });
  await expect(page.getByTestId('data-label')).toContainText('CIFAR-10', { timeout: 60_000 });
  await page.getByTestId('resume-offer').getByRole('button', { name: 'Resume' }).click();
  await expect(page.getByTestId('run-phase')).toHaveText('Reached the step limit', { timeout: 120_000 });
  const [run] = await storedRuns(page);
  expect(run.run.status).toBe('max-steps');
  expect(run.steps).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
});

test('the WebGPU device is lost mid-run: the run is interrupted and resumable, a new worker starts', async ({ page }) => {
  test.slow(); // SwiftShader compiles every shader on the CPU
  await openLab(page, TINY, 'wasm');
  await control(page, 'Backend').selectOption('webgpu');
  await expect(page.getByTestId('backend-in-use')).toHaveText('webgpu', { timeout: 60_000 });
  await setRunOptions(page, { maxSteps: 400, testImages: 16 });
  await control(page, 'Checkpoint every (steps)').fill('4');
  await button(page, 'Train').click();
  await checkpointAtLeast(page, 4, 300_000);
  const worker = await trainingWorker(page);
  // The driver takes the device away (what a GPU reset or a crashed GPU process does).
  await worker.evaluate(() => {
    const engine = (self as unknown as { _tfengine: { backend: { device: { destroy(): void } } } })._tfengine;
    engine.backend.device.destroy();
  });
  await expect(page.getByTestId('run-phase')).toHaveText('Interrupted', { timeout: 120_000 });
  const notice = page.getByTestId('run-notice');
  await expect(notice).toContainText('The GPU device was lost');
  await expect(notice).toContainText('A new worker has been started');
  await expect(page.getByTestId('run-row').first()).toHaveAttribute('data-status', 'interrupted');
  await expect(page.getByTestId('resume-offer')).toContainText('its last checkpoint is at step');
  await expect(page.getByTestId('backend-in-use')).toHaveText('webgpu', { timeout: 120_000 }); // the new worker's device
});
