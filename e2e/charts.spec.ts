// The run's charts and the Runs table while a default-length run is young: the x-axis spans the data
// so far, not the 200 planned epochs; "Planned range" shows them (with the published lines), the zoom
// buttons and a drag zoom; and the Runs table's steps, test error and size follow the run as it trains
// (before its first checkpoint, which at 3,125 steps an epoch is far away).
import { expect, test, type Locator, type Page } from '@playwright/test';
import { button, iteration, lossPoints, openLab, setRunOptions } from './lab.ts';

/** ResNet-20 for the published lines, batch 16 to train quickly on WASM: 3,125 steps an epoch, 200 epochs planned. */
const YOUNG = '/?protocol=gcr&depth=20&batch=16&epochs=200&seed=5';
const STEPS_PER_EPOCH = 50_000 / 16;

interface Axis {
  view: string;
  min: number;
  max: number;
  /** The loss chart's last data point (epochs). */
  end: number;
}

const axis = (chart: Locator): Promise<Axis> =>
  chart.evaluate((el: HTMLElement) => ({
    view: el.dataset.xView ?? '',
    min: Number(el.dataset.xMin),
    max: Number(el.dataset.xMax),
    end: Number(el.dataset.xEnd),
  }));

/** The numbers under a chart's x-axis. */
const tickLabels = async (chart: Locator): Promise<number[]> => {
  const texts = await chart.locator('.recharts-xAxis-tick-labels .recharts-cartesian-axis-tick-value').allTextContents();
  expect(texts.length).toBeGreaterThan(1);
  return texts.map(Number);
};

/** The Runs table's step for the current run and the run panel's iteration, read at the same moment. */
const rowAndPanel = (page: Page) =>
  page.evaluate(() => ({
    row: Number(document.querySelector('[data-testid="run-row"] [data-testid="run-steps"]')?.getAttribute('data-step')),
    panel: Number(document.querySelector('[data-testid="status-iteration"]')!.textContent!.split(' of ')[0].replace(/,/g, '')),
  }));

test('a young run: the x-axis fits its data; planned range, zoom; the Runs table follows the run', async ({ page }) => {
  await openLab(page, YOUNG, 'wasm');
  await setRunOptions(page, { maxSteps: 3000, testImages: 100 });
  await button(page, 'Train').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Running');
  await expect.poll(() => lossPoints(page), { timeout: 90_000 }).toBeGreaterThanOrEqual(30);

  // Fitted to the data: a few hundredths of an epoch, not 200.
  const loss = page.getByTestId('loss-chart');
  const error = page.getByTestId('error-chart');
  const fit = await axis(loss);
  expect(fit.view).toBe('fit');
  expect(fit.min).toBe(0);
  expect(fit.end).toBeGreaterThanOrEqual(30 / STEPS_PER_EPOCH);
  expect(fit.max).toBeGreaterThanOrEqual(fit.end);
  expect(fit.max).toBeLessThanOrEqual(fit.end * 1.1 * 1.05); // the grid's 10%, and steps since the read
  expect(fit.max).toBeLessThan(1);
  expect(Math.max(...(await tickLabels(loss)))).toBeLessThan(1);
  const errorFit = await axis(error);
  expect(errorFit.view).toBe('fit');
  expect(errorFit.max).toBeGreaterThan(0);
  expect(errorFit.max).toBeLessThan(1);
  await expect(error).toHaveAttribute('data-points', '1'); // the evaluation before training, at epoch 0

  // The planned range: 0 to 200 epochs, the published lines still drawn.
  await loss.getByRole('radio', { name: 'Planned range' }).click();
  await expect(loss).toHaveAttribute('data-x-view', 'planned');
  expect(await axis(loss)).toMatchObject({ min: 0, max: 200 });
  expect(await tickLabels(loss)).toContain(200);
  await error.getByRole('radio', { name: 'Planned range' }).click();
  expect(await axis(error)).toMatchObject({ view: 'planned', min: 0, max: 200 });
  expect(await error.locator('.recharts-reference-line').count()).toBeGreaterThan(0);
  await expect(error.getByRole('list', { name: 'Published results' })).toContainText('gcr');

  // Zoom buttons: in about the middle, out again.
  await loss.getByRole('button', { name: 'Zoom in' }).click();
  expect(await axis(loss)).toMatchObject({ view: 'zoom', min: 50, max: 150 });
  await expect(loss.getByRole('radio', { name: 'Planned range' })).toHaveAttribute('aria-checked', 'false');
  await loss.getByRole('button', { name: 'Zoom out' }).click();
  expect(await axis(loss)).toMatchObject({ view: 'zoom', min: 0, max: 200 });

  // A drag across the plot from a quarter to half of its width: about epochs 50 to 100.
  await loss.getByRole('radio', { name: 'Planned range' }).click();
  const box = (await loss.locator('.zoom-box').boundingBox())!;
  const left = box.x + 52; // the chart's left margin and y-axis
  const width = box.width - 52 - 16;
  const y = box.y + box.height / 2;
  await page.mouse.move(left + width / 4, y);
  await page.mouse.down();
  await page.mouse.move(left + (3 * width) / 8, y, { steps: 4 });
  await page.mouse.move(left + width / 2, y, { steps: 4 });
  await page.mouse.up();
  const dragged = await axis(loss);
  expect(dragged.view).toBe('zoom');
  expect(Math.abs(dragged.min - 50)).toBeLessThan(2); // a pixel or two
  expect(Math.abs(dragged.max - 100)).toBeLessThan(2);
  expect(Math.min(...(await tickLabels(loss)))).toBeGreaterThanOrEqual(dragged.min);

  // "Fit data" brings the fitted axis back; so does a double click after a zoom.
  await loss.getByRole('radio', { name: 'Fit data' }).click();
  await expect(loss).toHaveAttribute('data-x-view', 'fit');
  expect((await axis(loss)).max).toBeLessThan(1);
  await error.getByRole('button', { name: 'Zoom in' }).click();
  await expect(error).toHaveAttribute('data-x-view', 'zoom');
  await error.locator('.zoom-box').dblclick();
  await expect(error).toHaveAttribute('data-x-view', 'fit');
  expect((await axis(error)).max).toBeLessThan(1);

  // The Runs table follows the run: its steps are the run panel's iteration, long before any checkpoint.
  const row = page.getByTestId('run-row').first();
  await expect(row).toHaveAttribute('data-status', 'running');
  await expect(page.getByTestId('last-checkpoint')).toHaveCount(0);
  const start = await iteration(page);
  await expect.poll(async () => (await rowAndPanel(page)).row, { timeout: 60_000 }).toBeGreaterThan(start + 10);
  const { row: rowStep, panel } = await rowAndPanel(page);
  expect(Math.abs(rowStep - panel)).toBeLessThanOrEqual(20);
  await expect(row.getByTestId('run-steps')).toContainText(`/ ${(3000).toLocaleString('en-US')}`);
  await expect(row.getByTestId('run-test-error')).toContainText(/^\d+\.\d\d% \/ \d+\.\d\d%$/); // the evaluation at epoch 0
  // Its size grows as the worker stores the steps (in chunks; the list is read again every few seconds).
  await expect
    .poll(async () => Number(await row.getByTestId('run-size').getAttribute('data-bytes')), { timeout: 60_000 })
    .toBeGreaterThan(0);

  await button(page, 'Stop').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Stopped', { timeout: 60_000 });
  await expect(row).toHaveAttribute('data-status', 'stopped');
  const stoppedAt = await iteration(page);
  await expect(row.getByTestId('run-steps')).toHaveAttribute('data-step', String(stoppedAt));
});
