// The GitHub Pages workflow (.github/workflows/pages.yml) cannot run here, so this checks that every
// command it runs is one this project's CI runs too: `npm ci` (.ci/run), `npm run data` (`npm run
// check`), and `npm run build`, whose dist/ the e2e suite serves under /lab/ of a plain static server
// (playwright.config.ts, e2e/reach.spec.ts). It also checks that what it uploads is Vite's output.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const workflow = read('.github/workflows/pages.yml');
const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;

/** The `run:` commands of the workflow, in order. */
function runCommands(yaml: string): string[] {
  return [...yaml.matchAll(/^\s*(?:-\s+)?run:\s*(.+)$/gm)].map((m) => m[1]!.trim());
}

describe('GitHub Pages workflow', () => {
  it('runs npm ci, npm run data and npm run build, in that order', () => {
    expect(runCommands(workflow)).toEqual(['npm ci', 'npm run data', 'npm run build']);
  });

  it('runs only commands that CI runs', () => {
    expect(read('.ci/run')).toMatch(/^npm ci\b/m);
    expect(scripts.check).toContain('npm run data');
    expect(scripts.check).toContain('npm run e2e');
    expect(read('playwright.config.ts')).toContain('npm run build');
    for (const name of ['data', 'build']) expect(scripts[name], `package.json script ${name}`).toBeDefined();
  });

  it('uploads dist/, where vite build writes', () => {
    expect(workflow).toMatch(/upload-pages-artifact@v\d+\s+with:\s+path: dist\s/);
    expect(read('vite.config.ts')).not.toMatch(/outDir:/);
  });
});
