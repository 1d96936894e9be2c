// The experiment panel and the share URL: controls with their labels, protocol defaults and changed
// marks, the one-line explanation, Share restoring every control in a fresh browser, a garbled URL
// named in a notice (and nothing in it executed), and the automatic backend choice.
import { expect, test } from '@playwright/test';
import { button, changedMark, control, openLab } from './lab.ts';

test('set a configuration through the controls, share it, and restore it in a fresh browser', async ({ page, browser }) => {
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await openLab(page, '/');
  await expect(page.getByTestId('explanation')).toContainText('ResNet-20, 0.27M parameters');
  await expect(control(page, 'Protocol')).toHaveValue('gcr');

  // A protocol fills in its values.
  await control(page, 'Protocol').selectOption('paper');
  await expect(control(page, 'Solver')).toHaveValue('sgd');
  await expect(control(page, 'Epochs')).toHaveValue('164');
  await expect(page.getByTestId('reference-match')).toContainText('paper, ResNet-20');

  await control(page, 'Depth').selectOption('56');
  await expect(page.getByTestId('explanation')).toContainText('ResNet-56, 0.85M parameters');
  await expect(changedMark(page, 'Depth')).toBeVisible();
  await control(page, 'Block variant').selectOption('norelu-bnbefore');
  await control(page, 'Shortcut').selectOption('B');
  await control(page, 'Solver').selectOption('rmsprop');
  await expect(control(page, 'Weight decay')).toHaveValue('0'); // the solver's own defaults
  await control(page, 'Learning rate').fill('0.005');
  await control(page, 'Rho').fill('0.8');
  await control(page, 'BN momentum').selectOption('dynamic');
  await control(page, 'Epochs').fill('30');
  await control(page, 'Batch size').fill('64');
  await control(page, 'Seed').fill('4242');
  await control(page, 'Learning rate').fill('abc');
  await expect(page.getByRole('alert').filter({ hasText: 'lr must be a number' })).toBeVisible();
  await control(page, 'Learning rate').fill('0.005');
  await expect(page.getByText('lr must be a number')).toHaveCount(0);

  for (const label of ['Block variant', 'Shortcut', 'Solver', 'Learning rate', 'Rho', 'BN momentum', 'Epochs', 'Batch size']) {
    await expect(changedMark(page, label), label).toBeVisible();
  }
  await expect(changedMark(page, 'Protocol')).toHaveCount(0);
  await expect(page.getByTestId('explanation')).toContainText('RMSprop 0.005');
  await expect(page).toHaveURL(/seed=4242/);

  await button(page, 'Share').click();
  const link = await control(page, 'Share link').inputValue();
  expect(link).toBe(page.url());
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(link);

  // A fresh browser (new context: no storage) restores every control from the link.
  const fresh = await browser.newContext();
  const other = await fresh.newPage();
  await openLab(other, link.replace(/^https?:\/\/[^/]+/, ''));
  const expected: Record<string, string> = {
    Protocol: 'paper',
    Depth: '56',
    'Block variant': 'norelu-bnbefore',
    Shortcut: 'B',
    Solver: 'rmsprop',
    'Learning rate': '0.005',
    Rho: '0.8',
    'Weight decay': '0',
    'BN momentum': 'dynamic',
    Epochs: '30',
    'Batch size': '64',
    Seed: '4242',
  };
  for (const [label, value] of Object.entries(expected)) await expect(control(other, label), label).toHaveValue(value);
  await expect(other.getByTestId('explanation')).toHaveText(await page.getByTestId('explanation').innerText());
  await expect(other.getByTestId('url-notice')).toHaveCount(0);

  // Switching protocol keeps what the user changed.
  await control(other, 'Protocol').selectOption('neon');
  await expect(control(other, 'Depth')).toHaveValue('56');
  await expect(control(other, 'Shortcut')).toHaveValue('B');
  await expect(control(other, 'Learning rate')).toHaveValue('0.005');
  await expect(control(other, 'Epochs')).toHaveValue('30');
  await expect(other).toHaveURL(/protocol=neon/);
  await fresh.close();
});

test('a garbled link is named in a notice, replaced by defaults, and never executed', async ({ page }) => {
  const evil = encodeURIComponent('<img src=x onerror="window.__pwned=1">');
  await page.goto(`/?depth=banana&solver=${evil}&lr=-3&bogus=%3Cscript%3Ewindow.__pwned%3D2%3C%2Fscript%3E&seed=77&batch=16`);
  const notice = page.getByTestId('url-notice');
  await expect(notice).toBeVisible();
  for (const name of ['depth=', 'solver=', 'lr=', 'bogus']) await expect(notice).toContainText(name);
  await expect(notice).toContainText('<img src=x'); // shown as text
  await expect(control(page, 'Depth')).toHaveValue('20');
  await expect(control(page, 'Solver')).toHaveValue('sgd-nesterov');
  await expect(control(page, 'Seed')).toHaveValue('77'); // valid keys are kept
  await expect(control(page, 'Batch size')).toHaveValue('16');
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  await expect(page.locator('img')).toHaveCount(0);
  await expect(page).not.toHaveURL(/banana|bogus/);
  await button(page, 'Dismiss').click();
  await expect(notice).toHaveCount(0);
});

test('the automatic backend choice measures, shows every backend considered, and is remembered', async ({ page }) => {
  await openLab(page, '/', 'auto');
  await expect(page.getByTestId('backend-in-use')).toHaveText(/^(webgpu|webgl|wasm|cpu)$/, { timeout: 150_000 });
  // Headless Chromium's WebGPU adapter is SwiftShader (software): left out with its reason, and the
  // others measured on the small step.
  await expect(page.getByTestId('backend-reason')).toHaveText('fastest measured per step of ResNet-8 at batch 16');
  const table = page.getByTestId('backend-timings');
  await expect(table.locator('tbody tr')).toHaveCount(4);
  await expect(table.locator('tr[data-backend="webgpu"] td')).toHaveText(
    /^not available: (only a software adapter \(.+\), left out of the automatic choice|no WebGPU adapter)$/,
  );
  await expect(table.locator('tr[data-backend="wasm"]')).toHaveAttribute('data-outcome', 'measured');
  for (const b of ['wasm', 'webgl', 'cpu']) await expect(table.locator(`tr[data-backend="${b}"] td`)).toHaveText(/^([\d,]+ ms|failed: .+)/);
  await expect(table.locator('tbody th', { hasText: '(in use)' })).toHaveCount(1);
  test.info().annotations.push({ type: 'backend', description: await page.locator('.side .panel').first().innerText() });

  // The next visit on this device takes the same choice without measuring, and still shows the figures.
  const inUse = await page.getByTestId('backend-in-use').innerText();
  await page.reload();
  await expect(page.getByTestId('backend-reason')).toHaveText(
    'measured earlier on this device: fastest measured per step of ResNet-8 at batch 16',
    { timeout: 60_000 },
  );
  await expect(page.getByTestId('backend-in-use')).toHaveText(inUse);
  await expect(table.locator('tbody tr')).toHaveCount(4);
});
