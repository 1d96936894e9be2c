// Nasty share links opened in the real page: markup and script in keys and values, oversized,
// truncated and mixed-type values, broken percent-encoding, prototype keys. Each time the page ends
// with a valid configuration in its controls and address bar, a notice naming the problems as text,
// no injected element in the document and nothing executed. (src/state/url-fuzz.test.ts fuzzes the
// parser itself with thousands of queries.)
import { expect, test } from '@playwright/test';
import { control } from './lab.ts';

const PAYLOAD = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
const e = encodeURIComponent;
const NASTY = [
  `/?depth=${e(PAYLOAD)}&solver=${e('"><svg onload="window.__pwned=3">')}&${e('<b id=injected>')}=1`,
  `/?protocol=gcr&depth=${'9'.repeat(5000)}&lr=${e('1e309')}&batch=${e('[16]')}&seed=-0&schedule=${e('80:,::%')}`,
  `/?__proto__=${e('{"polluted":1}')}&constructor=prototype&epochs=NaN&bnm=0x10&warmup=${e('javascript:window.__pwned=4')}`,
  // Broken %-escapes used to leave a blank page (tfjs-core threw decoding the query as it loaded).
  `/?depth=5%E0%A4%A&solver=%ZZ&lr=%00&claim_err=${e(PAYLOAD)}&claim_epochs=1e3&tfjsflags=DEBUG:true`,
  `/?protocol=neon&depth=32&seed=12&depth=${e(PAYLOAD)}&shortcut=B%2`,
];

test('nasty links: a valid configuration, the problems named as text, nothing injected or executed', async ({ page }) => {
  for (const url of NASTY) {
    await page.goto(url);
    const notice = page.getByTestId('url-notice');
    await expect(notice, url).toBeVisible();
    await expect(control(page, 'Protocol')).toHaveValue(/^(paper|gcr|neon)$/);
    await expect(control(page, 'Seed')).toHaveValue(/^\d+$/);
    // The address bar holds a configuration the parser accepts as it is.
    await expect(page).toHaveURL(/\?protocol=(paper|gcr|neon)&depth=\d+&block=/);
    expect(page.url()).not.toMatch(/%3C|<|pwned|polluted|injected|tfjsflags/i);
    const state = await page.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: number }).__pwned,
      polluted: ({} as Record<string, unknown>).polluted,
      injected: document.querySelectorAll('#injected, img[src="x"], svg[onload], script:not([src])').length,
    }));
    expect(state, url).toEqual({ pwned: undefined, polluted: undefined, injected: 0 });
  }
  // The notice quotes what was wrong as text.
  await page.goto(NASTY[0]);
  await expect(page.getByTestId('url-notice')).toContainText('<img src=x');
});
