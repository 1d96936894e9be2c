// The production build's Content-Security-Policy and its network: the policy is sent (header and
// meta tag) without 'unsafe-eval' or inline scripts; under it the page starts, the wasm backend runs
// with its threads and a run trains and is recorded, with no CSP violation reported; eval is refused;
// and no request leaves the preview server (page and workers).
import { expect, test, type Request } from '@playwright/test';
import { button, openLab, setRunOptions } from './lab.ts';

test('CSP without unsafe-eval or inline scripts; wasm threads train under it; no request to another host', async ({ page, baseURL }) => {
  const origin = new URL(baseURL!).origin;
  const requests: string[] = [];
  const record = (r: Request) => requests.push(r.url());
  page.on('request', record);
  page.context().on('request', record);
  await page.addInitScript(() => {
    const w = window as unknown as { __cspViolations: string[] };
    w.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      w.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}:${e.columnNumber} ${e.sample}`),
    );
  });

  const response = await page.request.get('/');
  const header = response.headers()['content-security-policy'];
  expect(header).toBeTruthy();
  const scriptSrc = header
    .split(';')
    .map((d) => d.trim())
    .find((d) => d.startsWith('script-src'))!;
  expect(scriptSrc).toBe("script-src 'self' 'wasm-unsafe-eval' blob:");
  expect(header).not.toMatch(/'unsafe-eval'|'unsafe-inline'/);
  expect(header).toContain("frame-ancestors 'none'");
  expect(await response.text()).toContain('<meta http-equiv="Content-Security-Policy"');

  await openLab(page, '/?protocol=gcr&depth=8&batch=8&epochs=1&seed=5', 'wasm');
  // XNNPACK's threads and the lab kernels' helper threads started under the policy.
  await expect(page.getByTestId('backend-adapter')).toContainText(
    /WebAssembly SIMD, [2-9] threads; lab kernels: relaxed SIMD \(FMA\), [2-9] threads/,
  );
  // Refused under the policy (checked from page scripts: DevTools' own evaluation is exempt from CSP):
  // an inline script, and eval in a script the page loads.
  const refused = await page.evaluate(async () => {
    const w = window as unknown as { __inlineRan?: boolean; __evalResult?: string };
    const inline = document.createElement('script');
    inline.textContent = 'window.__inlineRan = true;';
    document.head.append(inline);
    const url = URL.createObjectURL(
      new Blob(["try { eval('1'); window.__evalResult = 'ran'; } catch (e) { window.__evalResult = e.name; }"], {
        type: 'text/javascript',
      }),
    );
    const loaded = document.createElement('script');
    loaded.src = url;
    await new Promise((resolve) => {
      loaded.onload = resolve;
      loaded.onerror = resolve;
      document.head.append(loaded);
    });
    // Violation events arrive a moment later: wait for the eval one.
    const all = (window as unknown as { __cspViolations: string[] }).__cspViolations;
    for (let i = 0; i < 40 && !all.some((v) => v.includes(' eval ')); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
    const violations = all.splice(0);
    return { inlineRan: w.__inlineRan ?? false, evalResult: w.__evalResult, violations };
  });
  expect(refused.inlineRan).toBe(false);
  expect(refused.evalResult).toBe('EvalError');
  expect(refused.violations.some((v) => / inline /.test(v))).toBe(true);
  expect(refused.violations.some((v) => / eval /.test(v))).toBe(true);
  expect(refused.violations.every((v) => v.startsWith('script-src'))).toBe(true);

  await setRunOptions(page, { maxSteps: 6, testImages: 20 });
  await button(page, 'Train').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Reached the step limit', { timeout: 120_000 });
  await expect(page.getByTestId('run-row').first()).toHaveAttribute('data-status', 'max-steps');
  await page.getByRole('button', { name: 'Download weights' }).click();
  await expect(page.getByTestId('weight-downloads')).toBeVisible();

  const violations = await page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);
  expect(violations).toEqual([]);
  const outside = [...new Set(requests)].filter(
    (u) => !u.startsWith(`${origin}/`) && !u.startsWith('blob:' + origin) && !u.startsWith('data:'),
  );
  expect(outside).toEqual([]);
  expect(requests.some((u) => u.endsWith('.wasm'))).toBe(true); // the worker's requests are seen too
  test.info().annotations.push({ type: 'requests', description: `${new Set(requests).size} distinct URLs, all on ${origin}` });
});
