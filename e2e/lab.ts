// Helpers shared by the e2e specs: open the lab with a backend already chosen (so a spec does not wait
// for the automatic measurement unless it tests it), set run options, read the page's numbers.
import { expect, type Page } from '@playwright/test';

export type Backend = 'auto' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/** Opens the lab at `path` with `backend` as this browser's remembered choice; waits for data and backend. */
export async function openLab(page: Page, path = '/', backend: Backend = 'wasm'): Promise<void> {
  await page.addInitScript((b) => {
    if (b !== 'auto') window.localStorage.setItem('resnet-lab.backend', b);
    // Long tasks on the main thread, for the report (never asserted: timings depend on the machine).
    const w = window as unknown as { __longTasks: number[] };
    w.__longTasks = [];
    try {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.__longTasks.push(e.duration);
      }).observe({ type: 'longtask', buffered: true });
    } catch {
      // longtask entries unsupported
    }
  }, backend);
  await page.goto(path);
  await expect(page.getByTestId('data-label')).toContainText('CIFAR-10', { timeout: 60_000 });
  if (backend !== 'auto') await expect(page.getByTestId('backend-in-use')).toHaveText(backend, { timeout: 120_000 });
}

export const control = (page: Page, label: string) => page.getByLabel(label, { exact: true });
export const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });

/** The "changed" mark next to a control's label. */
export const changedMark = (page: Page, label: string) => page.locator('.field', { has: control(page, label) }).locator('.changed-badge');

export async function setRunOptions(page: Page, options: { maxSteps?: number; testImages?: number }): Promise<void> {
  const summary = page.getByText('Run options (not in the share link)');
  if (!(await control(page, 'Max steps').isVisible())) await summary.click();
  await control(page, 'Max steps').fill(options.maxSteps === undefined ? '' : String(options.maxSteps));
  await control(page, 'Test images').fill(options.testImages === undefined ? '' : String(options.testImages));
}

export async function lossPoints(page: Page): Promise<number> {
  return Number(await page.getByTestId('loss-chart').getAttribute('data-points'));
}

export async function iteration(page: Page): Promise<number> {
  const text = await page.getByTestId('status-iteration').innerText();
  return Number(text.split(' of ')[0].replace(/,/g, ''));
}

/** The step of the current run's last saved checkpoint (0 before the first). */
export async function checkpointStep(page: Page): Promise<number> {
  return Number((await page.getByTestId('last-checkpoint').getAttribute('data-step')) ?? 0);
}

/** Waits until the current run has saved a checkpoint at `step` or later (runs may be fast: never an exact step). */
export async function checkpointAtLeast(page: Page, step: number, timeout = 120_000): Promise<number> {
  await expect.poll(() => checkpointStep(page).catch(() => 0), { timeout }).toBeGreaterThanOrEqual(step);
  return checkpointStep(page);
}

export async function longTasks(page: Page): Promise<number[]> {
  return page.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks);
}

export async function resetLongTasks(page: Page): Promise<void> {
  await page.evaluate(() => {
    (window as unknown as { __longTasks: number[] }).__longTasks = [];
  });
}
