// The experiment queue in Chromium: three seeds of a tiny configuration queued and started, the page
// reloaded while the second trains, Continue queue resumes that same stored run from its checkpoint and
// goes on, all three end done, and mean ± std over the seeds is shown (final epoch, and best epoch
// flagged as chosen on the test set). Also: "Queue this table" adds every row of a published table, the
// queue survives a reload, and an unreadable saved queue is said and kept aside.
import { expect, test, type Page } from '@playwright/test';
import { button, checkpointAtLeast, control, openLab, setRunOptions } from './lab.ts';
import { storedRuns } from './history.ts';

const TINY = '/?protocol=gcr&depth=8&batch=8&epochs=1&seed=5';

interface SavedItem {
  state: string;
  storedId?: string;
  config: string;
}

async function savedQueue(page: Page): Promise<{ running: boolean; items: SavedItem[] } | null> {
  return page.evaluate(() => {
    const t = window.localStorage.getItem('resnet-lab.queue');
    return t === null ? null : JSON.parse(t);
  });
}

const items = (page: Page) => page.getByTestId('queue-item');
const states = async (page: Page) => items(page).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-state')));

test('three seeds queued; a reload during the second; Continue queue resumes it; mean ± std over the seeds', async ({ page }) => {
  // Enough steps that the second run is still training when the page reloads after its first checkpoint.
  const STEPS = 200;
  await openLab(page, TINY, 'wasm');
  await setRunOptions(page, { maxSteps: STEPS, testImages: 50 });
  await control(page, 'Checkpoint every (steps)').fill('10');

  await control(page, 'Seeds to queue').fill('3');
  await button(page, 'Queue 3 seeds').click();
  await expect(items(page)).toHaveCount(3);
  await expect(items(page).locator('td:nth-child(3)')).toHaveText(['5', '6', '7']);
  await expect(items(page).first()).toContainText(`max ${STEPS} steps, 50 test images, checkpoint every 10`);

  await button(page, 'Start queue').click();
  await expect(items(page).nth(1)).toHaveAttribute('data-state', 'running', { timeout: 120_000 });
  await expect(items(page).first()).toHaveAttribute('data-state', 'done');
  await checkpointAtLeast(page, 10);
  const before = await savedQueue(page);
  expect(before!.items.map((i) => i.state)).toEqual(['done', 'running', 'waiting']);
  const secondRun = before!.items[1]!.storedId;
  expect(secondRun).toBeTruthy();

  await page.reload();
  await expect(page.getByTestId('data-label')).toContainText('CIFAR-10', { timeout: 60_000 });
  const notice = page.getByTestId('queue-notice');
  await expect(notice).toHaveAttribute('data-kind', 'interrupted');
  await expect(notice).toContainText(
    'The queue was interrupted at “ResNet-8 gcr sgd-nesterov”, seed 6. Continue queue resumes that run from its last checkpoint',
  );
  expect(await states(page)).toEqual(['done', 'interrupted', 'waiting']);
  await expect(page.getByTestId('queue-status')).toContainText('paused, 2 to run');

  await button(page, 'Continue queue').click();
  await expect(notice).toHaveCount(0);
  await expect(items(page).nth(1)).toHaveAttribute('data-state', 'running');
  await expect.poll(() => states(page), { timeout: 120_000 }).toEqual(['done', 'done', 'done']);
  await expect(page.getByTestId('queue-status')).toHaveText('all 3 done');

  // The second item is the same stored run, continued (not a new one); three runs in all.
  const after = await savedQueue(page);
  expect(after!.items[1]!.storedId).toBe(secondRun);
  const runs = await storedRuns(page);
  expect(runs).toHaveLength(3);
  const second = runs.find((r) => r.run.id === secondRun)!;
  expect(second.run.status).toBe('max-steps');
  expect(second.steps).toEqual(Array.from({ length: STEPS }, (_, k) => k + 1));

  // Each item: final-epoch error, best epoch flagged; over the seeds: mean ± std (n = 3).
  for (let k = 0; k < 3; k++) {
    await expect(items(page).nth(k).getByTestId('queue-result')).toContainText(
      /final \d+\.\d\d%.*best \d+\.\d\d% at epoch [\d.]+ chosen on the test set/s,
    );
    await expect(items(page).nth(k).getByTestId('queue-state')).toHaveText('done (step limit)');
  }
  await expect(page.getByTestId('queue-group')).toHaveCount(1);
  await expect(page.getByTestId('queue-group')).toContainText('5, 6, 7');
  await expect(page.getByTestId('queue-group-final')).toHaveText(/^\d+\.\d\d ± \d+\.\d\d \(n = 3\)$/);
  await expect(page.getByTestId('queue-group-best')).toHaveText(/^\d+\.\d\d ± \d+\.\d\d \(n = 3\) chosen on the test set$/);
  test.info().annotations.push({
    type: 'queue',
    description: `3 seeds x ${STEPS} steps, reloaded at the second; final error ${await page.getByTestId('queue-group-final').innerText()}`,
  });

  await page.getByTestId('queue-panel').screenshot({ path: test.info().outputPath('queue-panel.png') });

  // Clear finished empties it (and what is saved).
  await button(page, 'Clear finished').click();
  await expect(items(page)).toHaveCount(0);
  expect((await savedQueue(page))!.items).toEqual([]);
});

test('Queue this table adds every row as Run this selects it; the queue survives a reload; an unreadable one is kept aside', async ({
  page,
}) => {
  await openLab(page, TINY, 'wasm');
  await page.getByRole('tab', { name: 'gcr: solvers' }).click();
  const rows = page.getByRole('table', { name: 'gcr: solvers' }).locator('tbody tr');
  const n = await rows.count();
  expect(n).toBeGreaterThan(1);
  await button(page, 'Queue this table').click();
  await expect(page.getByTestId('queued-table')).toContainText(`${n} rows added to the queue (seed 5)`);
  await expect(items(page)).toHaveCount(n);
  const firstRow = (await rows.first().locator('th').innerText()).split('\n')[0]!;
  await expect(items(page).first().getByTestId('queue-label')).toHaveText(`gcr: solvers: ${firstRow}`);
  // Exactly the row's configuration: Run this on the row selects the same query the item holds.
  await rows.first().getByRole('button', { name: 'Run this' }).click();
  await expect.poll(() => page.evaluate(() => window.location.search.slice(1))).toBe((await savedQueue(page))!.items[0]!.config);

  // Moved and removed, then reloaded: the same queue.
  await items(page).first().getByRole('button', { name: 'Move item 1 down' }).click();
  await expect(items(page).nth(1).getByTestId('queue-label')).toHaveText(`gcr: solvers: ${firstRow}`);
  await items(page).last().getByRole('button', { name: 'Remove' }).click();
  await expect(items(page)).toHaveCount(n - 1);
  const labels = await items(page).getByTestId('queue-label').allInnerTexts();
  await page.reload();
  await expect(page.getByTestId('data-label')).toContainText('CIFAR-10', { timeout: 60_000 });
  await expect(items(page).getByTestId('queue-label')).toHaveText(labels);
  await expect(page.getByTestId('queue-notice')).toHaveCount(0);

  // Unreadable saved queue: said, kept aside, not written over; the new queue saves again.
  await page.evaluate(() =>
    window.localStorage.setItem('resnet-lab.queue', '{"version":1,"running":false,"items":[{"id":"x","label":"<b>bad</b>"}]}'),
  );
  await page.reload();
  await expect(page.getByTestId('data-label')).toContainText('CIFAR-10', { timeout: 60_000 });
  await expect(page.getByTestId('queue-notice')).toHaveAttribute('data-kind', 'unreadable');
  await expect(page.getByTestId('queue-notice')).toContainText(
    'The saved queue could not be read (item 1: config is missing). It was kept aside',
  );
  await expect(items(page)).toHaveCount(0);
  expect(await page.evaluate(() => window.localStorage.getItem('resnet-lab.queue.unreadable'))).toContain('<b>bad</b>');
  await button(page, 'Add current configuration').click();
  await expect(items(page)).toHaveCount(1);
  expect((await savedQueue(page))!.items).toHaveLength(1);
  expect(await page.evaluate(() => window.localStorage.getItem('resnet-lab.queue.unreadable'))).toContain('<b>bad</b>');
});
