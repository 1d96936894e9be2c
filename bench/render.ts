// Re-renders a saved `npm run bench` JSON with the current report code: ratios, targets and the
// markdown tables (bench/RESULTS.md keeps its hand-written part).
//
//   npx tsx bench/render.ts bench-results/latest.json --md bench/RESULTS.md

import { parseArgs } from 'node:util';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { BenchRecord } from './core.ts';
import { addRatios, checkTargets, markdown, resultsFile, type BenchMeta } from './report.ts';

const { values: args, positionals } = parseArgs({
  options: { md: { type: 'string' }, title: { type: 'string', default: 'Bench results' } },
  allowPositionals: true,
});
const file = positionals[0];
if (!file) throw new Error('usage: npx tsx bench/render.ts RESULTS.json [--md FILE]');
const saved = JSON.parse(await readFile(file, 'utf8')) as { meta: BenchMeta; results: BenchRecord[] };
const results = addRatios(saved.results);
const res = { meta: saved.meta, results, targets: checkTargets(results, saved.meta) };
const md = markdown(res);
if (args.md) {
  const path = resolve(args.md);
  await writeFile(path, resultsFile(args.title, md, await readFile(path, 'utf8').catch(() => undefined)));
} else process.stdout.write(md + '\n');
