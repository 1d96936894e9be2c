// Re-renders a saved `npm run bench` JSON with the current report code: ratios, targets, the markdown
// tables, and (with --readme) README.md's "## Speed" section.
//
//   npx tsx bench/render.ts bench-results/latest.json --md bench/RESULTS.md [--readme]

import { parseArgs } from 'node:util';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { BenchRecord } from './core.ts';
import { addRatios, checkTargets, markdown, readmeSection, replaceSpeedSection, type BenchMeta } from './report.ts';

const { values: args, positionals } = parseArgs({
  options: { md: { type: 'string' }, readme: { type: 'boolean', default: false }, title: { type: 'string', default: 'Bench results' } },
  allowPositionals: true,
});
const file = positionals[0];
if (!file) throw new Error('usage: npx tsx bench/render.ts RESULTS.json [--md FILE] [--readme]');
const saved = JSON.parse(await readFile(file, 'utf8')) as { meta: BenchMeta; results: BenchRecord[] };
const results = addRatios(saved.results);
const res = { meta: saved.meta, results, targets: checkTargets(results, saved.meta) };
const md = markdown(res);
if (args.md) await writeFile(resolve(args.md), `# ${args.title}\n\n${md}\n`);
else process.stdout.write(md + '\n');
if (args.readme) {
  const path = resolve('README.md');
  await writeFile(path, replaceSpeedSection(await readFile(path, 'utf8'), readmeSection(res)));
}
