// The reproduction workbench in Chromium: "Run this" on published rows sets the exact
// configuration (and the link); a link's claimed result is shown as a claim; after a tiny ResNet-8
// run on WASM, "Inspect model" shows the 10x10 confusion matrix and the image grid (and the error after
// BN recalibration), the run exports as a .zip bundle that imports back as an overlay on both charts
// (a damaged one refused, an older .rlab one read), and "Share with my result" makes a link that shows the claim.
import { readFile, writeFile } from 'node:fs/promises';
import { expect, test, type Page } from '@playwright/test';
import { encodeRunBundle } from '../src/state/bundle.ts';
import { decodeRunFile } from '../src/state/bundle-zip.ts';
import { button, control, openLab, setRunOptions } from './lab.ts';

const row = (page: Page, name: string) => page.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: false }) });

async function runThis(page: Page, tab: string, rowName: string): Promise<void> {
  await page.getByRole('tab', { name: tab, exact: true }).click();
  await row(page, rowName).getByRole('button', { name: 'Run this' }).click();
}

test('Run this sets the exact configuration; a claim link shows the claim', async ({ page }, info) => {
  await openLab(page, '/?seed=7');
  await runThis(page, 'gcr (Torch): depth', 'gcr (Torch), ResNet-110');
  await expect(control(page, 'Protocol')).toHaveValue('gcr');
  await expect(control(page, 'Depth')).toHaveValue('110');
  await expect(control(page, 'Warm-up')).toHaveValue('fancy');
  await expect(control(page, 'Seed')).toHaveValue('7'); // kept
  await expect(page).toHaveURL(/depth=110&.*warmup=fancy/);
  await expect(page.getByTestId('reference-match')).toContainText('gcr (Torch), ResNet-110');
  await expect(page.getByTestId('run-this-notice')).toContainText('Press Train');

  await runThis(page, 'He et al. 2015, Table 6', 'paper, ResNet-110');
  await expect(control(page, 'Protocol')).toHaveValue('paper');
  await expect(control(page, 'Solver')).toHaveValue('sgd');
  await expect(control(page, 'Warm-up')).toHaveValue('paper');
  await expect(page).toHaveURL(/protocol=paper&depth=110&.*schedule=paper&warmup=paper/);

  await runThis(page, 'gcr: solvers', 'gcr, RMSprop lr 0.01, 20 layers');
  await expect(control(page, 'Solver')).toHaveValue('rmsprop');
  await expect(control(page, 'Learning rate')).toHaveValue('0.01');
  await expect(control(page, 'Weight decay')).toHaveValue('0');

  // A (very short) run of a published configuration: its result appears beside the row, with the difference.
  await runThis(page, 'gcr (Torch): depth', 'gcr (Torch), ResNet-20');
  await setRunOptions(page, { maxSteps: 2, testImages: 100 });
  await button(page, 'Train').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Reached the step limit', { timeout: 90_000 });
  const testError = await page.getByTestId('status-test-error').innerText();
  const result = row(page, 'gcr (Torch), ResNet-20').getByTestId('row-result');
  await expect(result).toContainText(`final ${testError}`);
  await expect(result).toContainText(/\([+−]\d+\.\d\d\)/); // the difference from 8.29%, in points
  await expect(result).toContainText('after 0.0051 of 200 epochs on 100 test images');
  await expect(result).toContainText('chosen on the test set');
  await page.locator('.references').screenshot({ path: info.outputPath('references-result.png') });
  await page.getByRole('tab', { name: 'gcr: BN momentum', exact: true }).click();
  await expect(row(page, 'gcr, BN momentum 0.1, 20 layers').getByTestId('row-result')).toContainText(`final ${testError}`);

  await page.getByRole('tab', { name: 'neon (Nervana)', exact: true }).click();
  await expect(row(page, 'neon, ResNet-110')).toContainText('1277 MiB');
  await expect(row(page, 'neon, ResNet-110')).toContainText('60 s');
  await page.locator('.references').screenshot({ path: info.outputPath('references.png') });

  // A link with a claimed result: shown next to the configuration, labelled as a claim.
  await page.goto('/?protocol=gcr&depth=20&seed=3&claim_err=8.31&claim_epochs=200&claim_backend=webgpu');
  const claim = page.getByTestId('claim');
  await expect(claim).toContainText('claimed final test error 8.31% after 200 epochs (webgpu)');
  await expect(claim).toContainText('Not verified by this page');
  await expect(claim).toContainText('Published for it: 8.29%');
  await expect(page).toHaveURL(/claim_err=8.31/); // the address bar keeps it while the configuration is the claim's
  await page.locator('.experiment').screenshot({ path: info.outputPath('claim.png') });
  await control(page, 'Depth').selectOption('32');
  await expect(claim).toHaveCount(0);
  await expect(page.getByTestId('claim-stale')).toBeVisible();
  await expect(page).not.toHaveURL(/claim_err/);
  // A garbled claim is named and not shown.
  await page.goto('/?depth=20&claim_err=%3Cb%3Elots&claim_epochs=1');
  await expect(page.getByTestId('claim-issues')).toContainText('claim_err');
  await expect(page.getByTestId('claim')).toHaveCount(0);
});

test('inspect a tiny run, export it, import the bundle as an overlay, share it with its result', async ({ page, browser }, info) => {
  await openLab(page, '/?protocol=gcr&depth=8&batch=16&epochs=1&seed=11', 'wasm');
  await setRunOptions(page, { maxSteps: 30, testImages: 200 });
  await expect(button(page, 'Inspect model')).toBeDisabled();
  await button(page, 'Train').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Reached the step limit', { timeout: 90_000 });
  const testError = await page.getByTestId('status-test-error').innerText();

  // Inside the model: the same test error, a 10x10 matrix, a grid with the mistakes first.
  await button(page, 'Inspect model').click();
  await expect(page.getByTestId('inspect-error')).toHaveText(testError);
  await expect(page.getByTestId('inspection-summary')).toContainText('ResNet-8 after 30 steps, 200 test images');
  const matrix = page.getByRole('table', { name: 'Confusion matrix' });
  await expect(matrix.locator('tbody tr')).toHaveCount(10);
  await expect(matrix.locator('tbody td')).toHaveCount(100);
  const cells = await matrix.locator('tbody td').allInnerTexts();
  expect(cells.reduce((a, v) => a + Number(v), 0)).toBe(200);
  await expect(page.getByRole('table', { name: 'Per-class test error' }).locator('tbody tr')).toHaveCount(10);
  const tiles = page.getByTestId('grid-tile');
  await expect(tiles).toHaveCount(40);
  await expect(tiles.first()).toHaveClass(/wrong/); // mistakes first (after 30 steps there are many)
  await expect(tiles.first()).toContainText('true:');
  // The images are drawn: the first canvas has non-grey pixels.
  await expect
    .poll(() =>
      tiles
        .first()
        .locator('canvas')
        .evaluate((c: HTMLCanvasElement) =>
          c
            .getContext('2d')!
            .getImageData(0, 0, 32, 32)
            .data.some((v, i) => i % 4 !== 3 && v !== 0),
        ),
    )
    .toBe(true);
  // A matrix cell filters the grid to its images.
  const diag = matrix.locator('tbody tr').nth(0).locator('td').nth(0);
  const n00 = Number(await diag.innerText());
  if (n00 > 0) {
    await diag.getByRole('button').click();
    await expect(tiles).toHaveCount(Math.min(n00, 40));
    await button(page, 'Show all').click();
  }
  // With BN recalibration: the error with and without.
  await page.getByLabel('Recalibrate BN first').check();
  await page.getByLabel('Training images').fill('512');
  await button(page, 'Inspect model').click();
  await expect(page.getByTestId('recalibrated-error')).toHaveText(/^\d+\.\d\d%$/);
  await expect(page.getByTestId('inspection-summary')).toContainText('over 512 training images (32 batches)');
  await expect(page.getByTestId('inspect-error')).toHaveText(testError);
  await page.locator('.inspect').screenshot({ path: info.outputPath('inspect.png') });

  // Export the run: a bundle and the curves, one link per file.
  await button(page, 'Export run').click();
  const links = page.getByTestId('run-downloads').getByRole('link');
  await expect(links).toHaveCount(4);
  const names = await links.allInnerTexts();
  expect(names.map((n) => n.replace(/^resnet8-gcr-seed11-\d{8}-\d{4}/, 'X'))).toEqual([
    'X.zip',
    'X-steps.csv',
    'X-tests.csv',
    'X-curves.json',
  ]);
  const save = async (name: string) => {
    const [file] = await Promise.all([page.waitForEvent('download'), links.filter({ hasText: name }).click()]);
    const path = info.outputPath(file.suggestedFilename());
    await file.saveAs(path);
    return path;
  };
  const zip = await save('.zip');
  const csv = await readFile(await save('-steps.csv'), 'utf8');
  expect(csv.trim().split('\n').length).toBe(31);

  // Import it back: its curves as an overlay on both charts, its summary.
  const importFile = async (path: string) => {
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), button(page, 'Import run').click()]);
    await chooser.setFiles(path);
  };
  await importFile(zip);
  await expect(page.getByTestId('overlay-summary')).toContainText('Imported: resnet8-gcr-seed11');
  await expect(page.getByTestId('overlay-final')).toContainText(testError);
  await expect(page.getByTestId('overlay-summary')).toContainText('Same configuration as your run');
  await expect(page.getByTestId('loss-chart')).toHaveAttribute('data-overlay-points', '30');
  await expect(page.getByTestId('error-chart')).toHaveAttribute('data-overlay-points', '2');
  await expect(page.getByTestId('error-caption')).toContainText(`Imported (orange): ${testError}`);
  await expect(page.getByTestId('overlay-saved')).toContainText('Already in your Runs'); // its own run: not stored twice
  await expect(page.getByTestId('run-row')).toHaveCount(1);

  // A damaged bundle: a clear error, the overlay unchanged.
  const cut = info.outputPath('cut.zip');
  const bytes = await readFile(zip);
  await writeFile(cut, bytes.subarray(0, bytes.length - 500));
  await importFile(cut);
  await expect(page.getByRole('alert').filter({ hasText: 'cut.zip is a damaged zip file' })).toBeVisible();
  await expect(page.getByTestId('overlay-summary')).toContainText('Imported: resnet8-gcr-seed11');
  // The same run as an older lab's .rlab file: read as before.
  const rlab = info.outputPath('old.rlab');
  await writeFile(rlab, encodeRunBundle(decodeRunFile(new Uint8Array(bytes))));
  await importFile(rlab);
  await expect(page.getByRole('alert').filter({ hasText: 'cut.zip' })).toHaveCount(0); // the error goes with a good file
  await expect(page.getByTestId('overlay-summary')).toContainText('Imported: old.rlab');
  await expect(page.getByTestId('overlay-final')).toContainText(testError);
  await page.locator('.export').screenshot({ path: info.outputPath('export.png') });
  await page.locator('.results').screenshot({ path: info.outputPath('charts.png') });

  // Share with the run's result: the link carries the claim and shows it in a fresh browser.
  await page.getByLabel(/^Share with my result/).check();
  await button(page, 'Share').click();
  const link = await control(page, 'Share link').inputValue();
  expect(link).toMatch(/claim_err=\d+(\.\d+)?&claim_epochs=0\.01&claim_backend=wasm&claim_tested=200/);
  const fresh = await browser.newContext();
  const other = await fresh.newPage();
  await openLab(other, link.replace(/^https?:\/\/[^/]+/, ''));
  const claimed = `${Number(testError.replace('%', ''))}%`; // the claim drops trailing zeros: 74.50% -> 74.5%
  await expect(other.getByTestId('claim')).toContainText(`claimed final test error ${claimed} on 200 test images after 0.01 epochs (wasm)`);
  await expect(control(other, 'Seed')).toHaveValue('11');
  // Someone else's browser imports the bundle: it is saved to their Runs and opens like their own runs.
  const [chooser] = await Promise.all([other.waitForEvent('filechooser'), button(other, 'Import run').click()]);
  await chooser.setFiles(rlab);
  await expect(other.getByTestId('overlay-saved')).toContainText('Saved to your Runs as');
  const imported = other.getByTestId('run-row');
  await expect(imported).toHaveCount(1);
  await imported.getByRole('button', { name: 'Open' }).click();
  await expect(other.getByTestId('loss-chart')).toHaveAttribute('data-points', '30');
  await other.reload();
  await expect(other.getByTestId('run-row')).toHaveCount(1); // kept across reloads
  await fresh.close();
});
