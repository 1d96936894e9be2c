// `npm run bench`: the lab's speed, measured in one run on this machine against PyTorch on the same
// CPU. Runs Node (tfjs-wasm, then PyTorch and the lab's wasm step in turns, then tfjs-cpu, then
// tfjs-webgpu through Dawn with the lab's kernels and the stock ones, bench/webgpu.ts), then
// headless Chromium (bench workers per backend and the lab's own worker), and writes the JSON results
// and bench/RESULTS.md's tables. Without Node's wasm, PyTorch (bench/torch_step.py, if a Python
// imports torch) runs once at the start instead of in turns.
//   npm run bench              full run;  npm run bench -- --quick   ResNet-20 only, fewer steps
// Flags: --json FILE (default bench-results/latest.json), --md FILE (default bench/RESULTS.md),
// --no-node, --no-browser, --no-torch, --only wasm,cpu,webgl,webgpu (backends), --no-lab (skip the lab
// worker's loop), --torch-threads N (default: the number of cores), --install-torch (apt-get install
// python3-torch when no Python has torch; never done otherwise). RESULTS.md keeps its hand-written part.

import { parseArgs } from 'node:util';
import { enableRelaxedSimd } from '../src/backend/relaxed-simd.node.ts';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { BenchRecord } from './core.ts';
import { makePlan } from './plan.ts';
import { loadBenchData, runNodeBench } from './node.ts';
import { runNodeWebGpuBench } from './webgpu.ts';
import { describeBackend, initBackend } from '../src/backend/setup.ts';
import { computeStats } from '../src/data/batches.ts';
import { runBrowserBench } from './browser.ts';
import { findTorchPython, runTorchBench, TorchServer } from './pytorch.ts';
import { addRatios, checkTargets, markdown, resultsFile, type BenchMeta } from './report.ts';
import type { WorkerBackend } from './browser/messages.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string', default: 'bench-results/latest.json' },
    md: { type: 'string', default: 'bench/RESULTS.md' },
    'no-node': { type: 'boolean', default: false },
    'no-browser': { type: 'boolean', default: false },
    'no-torch': { type: 'boolean', default: false },
    'no-lab': { type: 'boolean', default: false },
    only: { type: 'string' },
    'torch-threads': { type: 'string' },
    'install-torch': { type: 'boolean', default: false },
  },
  strict: true,
});

const started = performance.now();
const log = (line: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
const only = args.only ? new Set(args.only.split(',')) : undefined;
const use = (b: string) => only === undefined || only.has(b);
const plan = makePlan(args.quick);
const loadAvgStart = loadavg();

const records: BenchRecord[] = [];
let pytorch: string | undefined;
let torchServer: TorchServer | undefined;
const torchThreads = Number(args['torch-threads'] ?? cpus().length);
if (!args['no-torch']) {
  // PyTorch in turns with Node's wasm step where that runs (bench/torch-rounds.ts), else once here.
  if (!args['no-node'] && use('wasm')) {
    torchServer = await TorchServer.start(torchThreads, log, args['install-torch']);
    pytorch = torchServer?.version;
  } else {
    records.push(...runTorchBench(plan, torchThreads, log, args['install-torch']));
    if (records.length > 0) pytorch = findTorchPython()?.version;
  }
}
if (!args['no-node']) {
  // As the lab's CLI does: the lab's kernels with fused multiply-adds (Node 20 has relaxed SIMD behind a flag).
  enableRelaxedSimd();
  const backends = (['wasm', 'cpu'] as const).filter(use);
  try {
    records.push(...(await runNodeBench(plan, log, [...backends], torchServer)));
  } finally {
    torchServer?.close();
  }
}
if (!args['no-node'] && use('webgpu')) {
  // WebGPU in Node through Dawn: a GPU's Vulkan driver where there is one, else SwiftShader (software).
  const info = await initBackend('webgpu').catch((e: Error) => {
    log(`node webgpu: not available (${e.message})`);
    return undefined;
  });
  if (info) {
    log(`node webgpu: ${describeBackend(info)}`);
    const { data, real } = await loadBenchData(log);
    const note = real ? undefined : 'random images (no CIFAR-10 in public/data)';
    records.push(
      ...(await runNodeWebGpuBench(
        plan.nodeWebGpuSteps,
        data,
        computeStats(data.train),
        info.software === true,
        log,
        note,
        plan.nodeWebGpuDrift,
      )),
    );
  }
}
let browserMeta: Awaited<ReturnType<typeof runBrowserBench>>['meta'];
if (!args['no-browser']) {
  const backends = (plan.browserBackends as WorkerBackend[]).filter(use);
  const r = await runBrowserBench(plan, { backends, labLoop: !args['no-lab'] && use('wasm') }, log);
  records.push(...r.records);
  browserMeta = r.meta;
}

// PyTorch once more at the end (ResNet-20 only): the machine's load changes over a long run, and the
// ratios use PyTorch's fastest numbers of the run.
if (!args['no-torch'] && pytorch !== undefined) {
  const again = { ...plan, torch: { ...plan.torch, depths: [20], steps: Math.min(plan.torch.steps, 5) } };
  records.push(...runTorchBench(again, torchThreads, log).map((r) => ({ ...r, variant: `${r.variant} (again at the end)` })));
}

const meta: BenchMeta = {
  date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  quick: args.quick,
  node: process.versions.node,
  tfjs: tf.version_core,
  cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
  cores: cpus().length,
  loadAvgStart,
  loadAvgEnd: loadavg(),
  ...(browserMeta
    ? { browser: browserMeta.browser, browserCores: browserMeta.cores, crossOriginIsolated: browserMeta.crossOriginIsolated }
    : {}),
  ...(pytorch ? { pytorch } : {}),
  durationS: (performance.now() - started) / 1000,
};
const results = addRatios(records);
const out = { meta, results, targets: checkTargets(results, meta) };

const jsonPath = resolve(args.json);
await mkdir(dirname(jsonPath), { recursive: true });
await writeFile(jsonPath, JSON.stringify(out, null, 2) + '\n');
const md = markdown(out);
const mdPath = resolve(args.md);
await mkdir(dirname(mdPath), { recursive: true });
await writeFile(mdPath, resultsFile('Bench results', md, await readFile(mdPath, 'utf8').catch(() => undefined)));
process.stdout.write(md + '\n');
log(`wrote ${jsonPath} and ${mdPath}`);
