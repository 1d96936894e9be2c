// Training in the worker on real CIFAR-10 images: a tiny ResNet on WASM (loss points and test-error
// points appear, the loss falls, Pause/Resume/Stop, weights downloaded and loaded back with the same
// test error, a corrupt file refused) and one run on WebGPU with the lab's WebGPU kernels (SwiftShader
// under --enable-unsafe-webgpu).
// The last spec trains ResNet-20 for a few dozen steps and saves docs/screenshot.png for the README.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { button, control, iteration, longTasks, lossPoints, openLab, resetLongTasks, setRunOptions } from './lab.ts';

/** A measured number: kept with the test's results and printed (never asserted). */
function report(info: TestInfo, type: string, description: string): void {
  info.annotations.push({ type, description });
  console.log(`${type}: ${description}`);
}

const TINY = '/?protocol=gcr&depth=8&batch=16&epochs=1&seed=5';

async function download(page: Page, name: string, dir: string): Promise<string> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name, exact: true }).click()]);
  expect(file.suggestedFilename()).toBe(name);
  const path = `${dir}/${name}`;
  await file.saveAs(path);
  return path;
}

async function loadWeights(page: Page, files: string[]): Promise<void> {
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), button(page, 'Load weights').click()]);
  await chooser.setFiles(files);
}

test('train a tiny ResNet on WASM: curves, pause/resume/stop, weights round trip', async ({ page }, info) => {
  await openLab(page, TINY, 'wasm');
  await expect(page.getByTestId('backend-adapter')).toContainText('WebAssembly');
  await setRunOptions(page, { maxSteps: 120, testImages: 500 });
  await resetLongTasks(page);
  await button(page, 'Train').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Running');
  await expect(page.getByTestId('run-backend')).toHaveText('wasm');
  await expect(page.getByTestId('error-chart')).toHaveAttribute('data-points', '1'); // epoch 0, before training
  await expect.poll(() => lossPoints(page), { timeout: 60_000 }).toBeGreaterThanOrEqual(20);

  await button(page, 'Pause').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Paused');
  const atPause = await iteration(page);
  await page.waitForTimeout(1500);
  expect(await iteration(page)).toBe(atPause);
  await expect(button(page, 'Download weights')).toBeEnabled(); // a paused model can be saved
  await button(page, 'Resume').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Running');
  await expect.poll(() => iteration(page)).toBeGreaterThan(atPause);

  await expect(page.getByTestId('run-phase')).toHaveText('Reached the step limit', { timeout: 120_000 });
  expect(await lossPoints(page)).toBe(120);
  await expect(page.getByTestId('error-chart')).toHaveAttribute('data-points', '2');
  const chart = page.getByTestId('loss-chart');
  const first = Number(await chart.getAttribute('data-first-loss'));
  const last = Number(await chart.getAttribute('data-last-loss'));
  report(info, 'loss', `mean of the first 5 steps ${first.toFixed(3)}, of the last 5 ${last.toFixed(3)}`);
  expect(last).toBeLessThan(first - 0.1);
  const testError = await page.getByTestId('status-test-error').innerText();
  expect(testError).toMatch(/^\d+\.\d\d%$/);

  const tasks = await longTasks(page);
  report(info, 'long tasks', `${tasks.length} main-thread tasks over 50 ms while training: ${tasks.map(Math.round).join(', ') || 'none'}`);

  // Download the weights (one link per file) and load them back: the same test error.
  await button(page, 'Download weights').click();
  await expect(page.getByTestId('weight-downloads')).toBeVisible();
  const dir = info.outputPath();
  const st = await download(page, 'resnet8-gcr-step120.safetensors', dir);
  const json = await download(page, 'model.json', dir);
  const bin = await download(page, 'weights.bin', dir);
  expect(JSON.parse(await readFile(json, 'utf8')).resnetLab.config).toContain('depth=8');

  await loadWeights(page, [st]);
  await expect(page.getByTestId('loaded-test-error')).toHaveText(testError);
  await loadWeights(page, [json, bin]);
  await expect(page.getByTestId('loaded-weights')).toContainText('model.json + weights.bin');
  await expect(page.getByTestId('loaded-test-error')).toHaveText(testError);

  // Weights of another network select their own architecture.
  await control(page, 'Depth').selectOption('20');
  await loadWeights(page, [st]);
  await expect(page.getByText('The weights are for ResNet-8')).toBeVisible();
  await expect(control(page, 'Custom n')).toHaveValue('1');
  await expect(page.getByTestId('explanation')).toContainText('ResNet-8,');
  await expect(page.getByTestId('loaded-test-error')).toHaveText(testError);

  // A truncated weights file is refused with a clear error and changes nothing.
  await mkdir(`${dir}/cut`, { recursive: true });
  const cut = `${dir}/cut/weights.bin`;
  await writeFile(cut, (await readFile(bin)).subarray(0, 1000));
  await loadWeights(page, [json, cut]);
  await expect(page.getByRole('alert').filter({ hasText: 'weights.bin has 1000 bytes' })).toBeVisible();
  await expect(page.getByTestId('loaded-weights')).toHaveCount(0);

  // Stop: a second run ends at once, between steps.
  await setRunOptions(page, { maxSteps: 400, testImages: 100 });
  await button(page, 'Train').click();
  await expect.poll(() => lossPoints(page), { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
  await button(page, 'Stop').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Stopped');
  expect(await iteration(page)).toBeLessThan(400);
  await expect(button(page, 'Train')).toBeEnabled();
});

test('train on WebGPU (SwiftShader) when chosen', async ({ page }) => {
  await openLab(page, TINY, 'wasm');
  await control(page, 'Backend').selectOption('webgpu');
  await expect(page.getByTestId('backend-in-use')).toHaveText('webgpu', { timeout: 60_000 });
  await expect(page.getByTestId('backend-adapter')).toContainText(/swiftshader.*\(software adapter\); lab kernels$/i);
  await control(page, 'Batch size').fill('8');
  await setRunOptions(page, { maxSteps: 3, testImages: 16 });
  await button(page, 'Train').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Reached the step limit', { timeout: 170_000 });
  await expect(page.getByTestId('run-backend')).toHaveText('webgpu');
  expect(await lossPoints(page)).toBe(3);
  await expect(page.getByTestId('error-chart')).toHaveAttribute('data-points', '2');
});

test('screenshot of a ResNet-20 run next to the published numbers (docs/screenshot.png)', async ({ page }) => {
  await openLab(page, '/?protocol=gcr&depth=20&batch=32&seed=1', 'wasm');
  await setRunOptions(page, { maxSteps: 60, testImages: 500 });
  await page.getByText('Run options (not in the share link)').click(); // fold it again
  await button(page, 'Train').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Reached the step limit', { timeout: 170_000 });
  await expect(page.getByRole('list', { name: 'Published results' })).toContainText('gcr (Torch), ResNet-20: 8.29%');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: 'docs/screenshot.png' });
});
