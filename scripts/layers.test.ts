// The import graph of src/, read from the source: no file-level and no folder-level cycle, type-only
// imports included, and every import between folders pointing down the layers of eslint.config.js
// (LAYERS; README, Architecture). Tests may import any core folder from a core folder, never an app
// layer. ESLint's no-restricted-imports says the same per file while editing; this holds the graph.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CORE_LAYERS, LAYERS } from '../eslint.config.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(e.name) ? [relative(SRC, path)] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

/** file (relative to src/) -> the files of src/ it imports, static, dynamic and type-only alike. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(join(SRC, file), 'utf8');
    const targets = [...text.matchAll(IMPORT)]
      .map((m) => normalize(join(dirname(file), (m[1] ?? m[2])!.split('?')[0]!)))
      .filter((t) => !t.startsWith('..'));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Strongly connected components with more than one member, or with an edge to themselves (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const at = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    at.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!at.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, at.get(w)!));
    }
    if (low.get(v) === at.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!at.has(v)) visit(v);
  return out;
}

const folderOf = (file: string) => (file.includes('/') ? file.split('/')[0]! : '(root)');
const isTest = (file: string) => /\.test\.tsx?$|test-utils\.ts$/.test(file);

describe('src/ import graph', () => {
  const graph = importGraph();

  it('reads the imports of every file', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('model/resnet.ts')!.length).toBeGreaterThan(0);
  });

  it('has no file-level cycle', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('has no folder-level cycle among its non-test files', () => {
    const folders = new Map<string, string[]>();
    for (const [file, targets] of graph) {
      if (isTest(file)) continue;
      const from = folderOf(file);
      const to = targets.map(folderOf).filter((f) => f !== from);
      folders.set(from, [...new Set([...(folders.get(from) ?? []), ...to])]);
    }
    expect(cycles(folders)).toEqual([]);
  });

  it('points every import between folders down the layers', () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const from = folderOf(file);
      if (from === '(root)') continue; // main.tsx and boot.tsx assemble the page from every layer
      expect(LAYERS, `src/${from} is not in LAYERS (eslint.config.js)`).toContain(from);
      for (const target of targets) {
        const to = folderOf(target);
        if (to === from) continue;
        const allowed = isTest(file) && CORE_LAYERS.includes(from) ? CORE_LAYERS.includes(to) : LAYERS.indexOf(to) < LAYERS.indexOf(from);
        if (!allowed) wrong.push(`${file} -> ${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
