// Turns one bench run's records into what people read: ratios to PyTorch filled in (for steps taken in
// turns with PyTorch, the median of the rounds' ratios), the loop's overhead over the bare step, issue
// 4's targets checked with their numbers, and the markdown tables of bench/RESULTS.md. Pure functions
// of the records.

import { median, type BenchRecord } from './core.ts';
import { gpuMarkdown, gpuTargets } from './report-gpu.ts';

/**
 * Convolution multiply-adds per image of the CIFAR ResNet of this depth (option A shortcuts, 32x32
 * input): the 3x3 stem, then 3 stages of 2n 3x3 convolutions at widths 16/32/64 on 32/16/8 pixels,
 * the first of stages 2 and 3 taking half the width at stride 2; plus the 64x10 classifier.
 */
export function convMacsPerImage(depth: number): number {
  const n = (depth - 2) / 6;
  let macs = 3 * 16 * 9 * 32 * 32;
  for (let s = 0; s < 3; s++) {
    const w = 16 << s;
    const pixels = (32 >> s) ** 2;
    macs += (2 * n - 1) * w * w * 9 * pixels + (s === 0 ? w : w / 2) * w * 9 * pixels;
  }
  return macs + 64 * 10;
}

export interface BenchMeta {
  date: string;
  command: string;
  quick: boolean;
  node: string;
  tfjs: string;
  cpu: string;
  cores: number;
  loadAvgStart: number[];
  loadAvgEnd: number[];
  browser?: string;
  browserCores?: number;
  crossOriginIsolated?: boolean;
  pytorch?: string;
  durationS: number;
}

export interface Target {
  name: string;
  /** true = met, false = missed, undefined = not measured in this run. */
  met: boolean | undefined;
  detail: string;
}

export interface BenchResults {
  meta: BenchMeta;
  results: BenchRecord[];
  targets: Target[];
}

const MiB = 1024 * 1024;

/** PyTorch's best (fastest median over memory formats) step for a model and batch. */
export function pytorchBest(records: readonly BenchRecord[], model: string, batch: number): BenchRecord | undefined {
  return records
    .filter((r) => r.backend === 'pytorch-cpu' && r.what === 'train-step' && r.model === model && r.batch === batch)
    .sort((a, b) => a.medianMs - b.medianMs)[0];
}

/** PyTorch's fastest single step for a model and batch (over memory formats). */
export function pytorchFastest(records: readonly BenchRecord[], model: string, batch: number): number | undefined {
  const ms = records
    .filter((r) => r.backend === 'pytorch-cpu' && r.what === 'train-step' && r.model === model && r.batch === batch)
    .map((r) => r.minMs ?? r.medianMs);
  return ms.length > 0 ? Math.min(...ms) : undefined;
}

/**
 * The loop's cost over the bare step: fastest loop step / fastest bare step when both are known, else
 * the medians. On a shared machine other processes only ever add time, so the fastest of several
 * steps is the steadier estimate of each; the medians are in the records too.
 */
export function overheadOf(loop: BenchRecord, bare: Pick<BenchRecord, 'medianMs' | 'minMs'>): number {
  return loop.minMs !== undefined && bare.minMs !== undefined ? loop.minMs / bare.minMs : loop.medianMs / bare.medianMs;
}

/**
 * Two depths' step times split into a fixed cost per step and a cost per convolution multiply-add, on
 * the model T(depth) = fixedMs + msPerGmac * convMacsPerImage(depth) * batch / 1e9: two equations, two
 * unknowns. fixedShare is fixedMs over the shallow step. `needed` is the fixed share of the shallow step
 * at which the deep / shallow ratio equals `target`: with work ratio q = M_deep / M_shallow and fixed
 * cost F in units of the shallow model's work cost, (F + q) / (F + 1) <= target needs
 * F >= (q - target) / (target - 1), a share of F / (F + 1). For 110 / 20 (q = 6.24) and 5.5 that is
 * 14.1%: a step time proportional to the work gives 6.24, so a lower ratio only comes from costs that
 * do not grow with depth (the stem, the head, the loss, the solver's per-parameter calls, data upload).
 */
export function depthFit(
  shallow: { depth: number; ms: number },
  deep: { depth: number; ms: number },
  batch: number,
  target: number,
): { fixedMs: number; msPerGmac: number; fixedShare: number; needed: number } {
  const ms = convMacsPerImage(shallow.depth);
  const md = convMacsPerImage(deep.depth);
  const perMac = (deep.ms - shallow.ms) / ((md - ms) * batch);
  const fixedMs = shallow.ms - perMac * ms * batch;
  const f = (md / ms - target) / (target - 1);
  return { fixedMs, msPerGmac: perMac * 1e9, fixedShare: fixedMs / shallow.ms, needed: f / (f + 1) };
}

/**
 * "fixed cost 31.2 ms a step (11.5% of ResNet-20's; 5.5 needs 14.1%), ..." for the ratio target's
 * detail, from one or more pairs of ResNet-20 and ResNet-110 steps: each pair's fit, then the median
 * of each quantity over the pairs. For a given work ratio the step ratio falls as the fixed share
 * grows, so the median pair's fixed share goes with the median pair's step ratio.
 */
function fitText(pairs: readonly { shallowMs: number; deepMs: number }[], batch = 128): string {
  const fits = pairs.map((p) => depthFit({ depth: 20, ms: p.shallowMs }, { depth: 110, ms: p.deepMs }, batch, 5.5));
  const m = (k: 'fixedMs' | 'fixedShare' | 'msPerGmac') => median(fits.map((f) => f[k]));
  return `fixed cost ${f1(m('fixedMs'))} ms a step (${pct(m('fixedShare'))} of ResNet-20's; 5.5 needs ${pct(fits[0]!.needed)}), ${f1(m('msPerGmac'))} ms per G multiply-adds`;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** PyTorch's own ResNet-110 / ResNet-20 step ratio per memory format, from its train-step records. */
function pytorchDepthRatios(records: readonly BenchRecord[]): string {
  const parts: string[] = [];
  for (const fmt of ['channels-last', 'default']) {
    const at = (model: string) =>
      records.find(
        (r) =>
          r.what === 'train-step' && r.backend === 'pytorch-cpu' && r.model === model && r.batch === 128 && r.variant === fmt && !r.failed,
      );
    const a = at('resnet20');
    const b = at('resnet110');
    if (a && b) parts.push(`${fmt} ${f2(b.medianMs / a.medianMs)} (${fitText([{ shallowMs: a.medianMs, deepMs: b.medianMs }])})`);
  }
  return parts.join(', ');
}

/**
 * A step measured in turns with PyTorch (record.torchPairs): each round's lab / PyTorch, their median
 * (the record's ratio: slow drifts of a shared machine's speed cancel out of each round's) and range.
 */
export function turnRatios(r: BenchRecord): { each: number[]; median: number; min: number; max: number } | undefined {
  if (!r.torchPairs?.length) return undefined;
  const each = r.torchPairs.map((p) => p.labMs / p.torchMs);
  return { each, median: median(each), min: Math.min(...each), max: Math.max(...each) };
}

/** Fills vsPytorch (train-step and loop records) and the loop's bareMs / overhead. Returns new records. */
export function addRatios(records: readonly BenchRecord[]): BenchRecord[] {
  return records.map((r) => {
    if (r.backend === 'pytorch-cpu' || r.failed) return r;
    const out: BenchRecord = { ...r };
    if (r.what === 'train-step' || r.what === 'loop') {
      const pt = pytorchBest(records, r.model, r.batch);
      const turns = turnRatios(r);
      if (turns) out.vsPytorch = turns.median;
      else if (pt) out.vsPytorch = r.medianMs / pt.medianMs;
      const fastest = pytorchFastest(records, r.model, r.batch);
      if (fastest !== undefined && r.minMs !== undefined) out.vsPytorchFastest = r.minMs / fastest;
    }
    // Drift loops (small models, few steps on software GPUs) are not overhead measurements.
    if (r.what === 'loop' && r.tensorDrift === undefined && r.pairs !== undefined && r.pairs.length > 0) {
      // Bare steps measured in turns with this loop (core.ts pairedLoop): the median round's loop / bare.
      out.overhead = median(r.pairs.map((p) => p.loopMs / p.bareMs));
    } else if (r.what === 'loop' && r.tensorDrift === undefined && r.pairedRounds !== undefined && r.bareMs !== undefined) {
      // Runs from before `pairs` was recorded: all the bare steps taken in turns against all the loop's.
      out.overhead = overheadOf(r, { medianMs: r.bareMs, minMs: r.bareMinMs });
    } else if (r.what === 'loop' && r.tensorDrift === undefined) {
      const bare = records.find(
        (b) =>
          b.what === 'train-step' &&
          !b.failed &&
          b.backend === r.backend &&
          b.context === r.context &&
          b.model === r.model &&
          b.batch === r.batch &&
          !b.variant,
      );
      if (bare) {
        out.bareMs = bare.medianMs;
        out.overhead = overheadOf(r, bare);
      }
    }
    return out;
  });
}

function bareMin(records: readonly BenchRecord[], loop: BenchRecord): number | undefined {
  if (loop.bareMinMs !== undefined) return loop.bareMinMs;
  return records.find(
    (b) =>
      b.what === 'train-step' &&
      b.backend === loop.backend &&
      b.context === loop.context &&
      b.model === loop.model &&
      b.batch === loop.batch &&
      !b.variant,
  )?.minMs;
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const int = (x: number) => Math.round(x).toLocaleString('en-US');

function find(records: readonly BenchRecord[], pred: (r: BenchRecord) => boolean): BenchRecord | undefined {
  return records.find(pred);
}

/** Issue 4's targets, each with the numbers behind its verdict. */
export function checkTargets(records: readonly BenchRecord[], meta: BenchMeta): Target[] {
  const targets: Target[] = [];
  const pt20 = pytorchBest(records, 'resnet20', 128);

  // 1. ResNet-20 at 128 in the lab's loop in the browser worker: <= 4x (then 3x) PyTorch's best.
  //    Judged on the fastest steps of both (other processes on a shared machine only add time, and
  //    PyTorch's two OpenMP threads suffer most from it); the medians' ratio is shown too.
  const labLoops = records.filter(
    (r) => r.what === 'loop' && r.context === 'browser-worker' && r.model === 'resnet20' && r.batch === 128 && r.tensorDrift === undefined,
  );
  const ptFast = pytorchFastest(records, 'resnet20', 128);
  if (pt20 && ptFast !== undefined && labLoops.length > 0) {
    const ratio = (r: BenchRecord) => (r.minMs ?? r.medianMs) / ptFast;
    const worst = Math.max(...labLoops.map(ratio));
    const main = labLoops.find((r) => !r.variant) ?? labLoops[0]!;
    const detail =
      `fastest steps: lab loop ${f1(main.minMs ?? main.medianMs)} ms vs PyTorch ${f1(ptFast)} ms: ${f2(ratio(main))}x` +
      (labLoops.length > 1 ? `; worst of ${labLoops.length} block/shortcut variants ${f2(worst)}x` : '') +
      `; medians ${f1(main.medianMs)} vs ${f1(pt20.medianMs)} ms (${pt20.variant}): ${f2(main.medianMs / pt20.medianMs)}x`;
    targets.push({ name: 'ResNet-20 b128, browser worker, lab loop <= 4x PyTorch', met: worst <= 4, detail });
    targets.push({ name: 'ResNet-20 b128, browser worker, lab loop <= 3x PyTorch (stretch)', met: worst <= 3, detail });
  } else {
    targets.push({
      name: 'ResNet-20 b128, browser worker, lab loop <= 4x PyTorch',
      met: undefined,
      detail: 'needs the browser lab loop and PyTorch',
    });
  }

  // 2. Multi-threaded wasm uses every core.
  const bw = find(records, (r) => r.backend === 'wasm' && r.context === 'browser-worker');
  if (bw && meta.browserCores) {
    targets.push({
      name: 'wasm in the browser worker uses every core',
      met: bw.threads >= meta.browserCores,
      detail: `${bw.threads} XNNPACK thread(s) on ${meta.browserCores} cores`,
    });
  }

  // 3. ResNet-110 / ResNet-20 step ratio <= 5.5 (beside the ratio of the work: conv multiply-adds).
  for (const ctx of ['browser-worker', 'node'] as const) {
    const r20 = find(
      records,
      (r) =>
        r.what === 'train-step' && r.backend === 'wasm' && r.context === ctx && r.model === 'resnet20' && r.batch === 128 && !r.variant,
    );
    const r110 = find(
      records,
      (r) =>
        r.what === 'train-step' && r.backend === 'wasm' && r.context === ctx && r.model === 'resnet110' && r.batch === 128 && !r.variant,
    );
    if (r20 && r110?.failed) {
      targets.push({
        name: `ResNet-110 / ResNet-20 step <= 5.5 (wasm, ${ctx})`,
        met: false,
        detail: `ResNet-110 at batch 128 failed: ${r110.failed}`,
      });
    } else if (r20 && r110) {
      const apart = r110.medianMs / r20.medianMs;
      const macs = convMacsPerImage(110) / convMacsPerImage(20);
      const torch = pytorchDepthRatios(records);
      // Judged on the steps taken in turns where the run has them (BenchPlan.depthRatio).
      const paired = r110.depthRatio !== undefined && r110.depthRatioTo === 'resnet20' && r110.depthPairs?.length;
      const fit = fitText(paired ? r110.depthPairs! : [{ shallowMs: r20.medianMs, deepMs: r110.medianMs }]);
      const work =
        `convolution multiply-adds per image ${f2(macs)}x; the lab's ${fit}${paired ? ' (medians over the rounds)' : ''}` +
        `${torch ? `; PyTorch in this run (records minutes apart): ${torch}` : ''}`;
      targets.push({
        name: `ResNet-110 / ResNet-20 step <= 5.5 (wasm, ${ctx})`,
        met: (paired ? r110.depthRatio! : apart) <= 5.5,
        detail: paired
          ? `${f2(r110.depthRatio!)}: median of ${r110.depthPairs!.length} rounds of ResNet-20 steps then ResNet-110 steps, each round's ratio ` +
            `(${r110.depthPairs!.map((p) => f2(p.deepMs / p.shallowMs)).join(', ')}); the train-step records, minutes apart: ` +
            `${f1(r110.medianMs)} / ${f1(r20.medianMs)} ms = ${f2(apart)}; ${work}`
          : `${f1(r110.medianMs)} / ${f1(r20.medianMs)} ms = ${f2(apart)}; ${work}`,
      });
    }
  }

  // 4. Loop overhead <= 5%.
  for (const r of records.filter((x) => x.what === 'loop' && x.overhead !== undefined && !x.variant)) {
    targets.push({
      name: `lab loop overhead <= 5% (${r.model}, ${r.backend}, ${r.context})`,
      met: r.overhead! <= 1.05,
      detail:
        r.pairs !== undefined && r.pairs.length > 0
          ? `${((r.overhead! - 1) * 100).toFixed(1)}%: median of ${r.pairs.length} rounds of bare steps then loop steps, each round's loop / bare ` +
            `(${r.pairs.map((p) => `${((p.loopMs / p.bareMs - 1) * 100).toFixed(1)}%`).join(', ')}); all steps: medians ${f1(r.medianMs)} / ${f1(r.bareMs!)} ms, ` +
            `fastest ${f1(r.minMs ?? r.medianMs)} / ${f1(bareMin(records, r) ?? r.bareMs!)} ms`
          : `fastest steps: loop ${f1(r.minMs ?? r.medianMs)} ms vs bare ${f1(bareMin(records, r) ?? r.bareMs!)} ms: ${((r.overhead! - 1) * 100).toFixed(1)}% ` +
            `(medians ${f1(r.medianMs)} / ${f1(r.bareMs!)} ms)`,
    });
  }

  // Issue 17: the WebGPU step's dispatches and its kernels' threads (report-gpu.ts).
  targets.push(...gpuTargets(records));

  // 5. Data pipeline >= 20,000 images/s.
  const data = records.filter((r) => r.what === 'data');
  if (data.length > 0) {
    const slowest = data.reduce((a, b) => (a.imagesPerSec < b.imagesPerSec ? a : b));
    targets.push({
      name: 'data pipeline >= 20,000 images/s',
      met: slowest.imagesPerSec >= 20_000,
      detail: `slowest: ${slowest.model} ${slowest.context} ${int(slowest.imagesPerSec)} images/s`,
    });
  }

  // 6. No synchronous GPU-to-CPU read in the step.
  const gpu = records.filter((r) => r.syncReads !== undefined);
  if (gpu.length > 0) {
    targets.push({
      name: 'no synchronous GPU-to-CPU read in the step (WebGL/WebGPU)',
      met: gpu.every((r) => r.syncReads === 0),
      detail: gpu.map((r) => `${r.backend} ${r.model} b${r.batch}: ${r.syncReads}`).join(', '),
    });
  }

  // 7. Zero tensor drift.
  const drift = records.filter((r) => r.tensorDrift !== undefined);
  if (drift.length > 0) {
    targets.push({
      name: 'zero tensor-count drift (every backend)',
      met: drift.every((r) => r.tensorDrift === 0),
      detail: drift.map((r) => `${r.backend}/${r.context} ${r.model} b${r.batch} over ${r.driftSteps} steps: ${r.tensorDrift}`).join(', '),
    });
  }

  // 8. Tensor memory.
  for (const [model, limit] of [
    ['resnet20', 521],
    ['resnet110', 1277],
  ] as const) {
    // The wasm heap is what the buffers really took; tf.memory() counts shared buffers once per tensor.
    const failed = records.find((x) => x.what === 'train-step' && x.model === model && x.batch === 128 && !x.variant && x.failed);
    const rs = records.filter(
      (x) => x.what === 'train-step' && x.model === model && x.batch === 128 && !x.variant && (x.heapBytes ?? x.peakBytes) !== undefined,
    );
    const r = rs.find((x) => x.context === 'browser-worker') ?? rs[0];
    if (failed) {
      targets.push({
        name: `${model} b128 tensor memory <= ${limit} MiB`,
        met: false,
        detail: `${failed.backend}, ${failed.context}: ${failed.failed}`,
      });
    } else if (r) {
      const bytes = r.heapBytes ?? r.peakBytes!;
      targets.push({
        name: `${model} b128 tensor memory <= ${limit} MiB`,
        met: bytes / MiB <= limit,
        detail:
          (r.heapBytes !== undefined ? `wasm heap ${f1(r.heapBytes / MiB)} MiB; ` : '') +
          (r.peakBytes !== undefined ? `peak tf.memory() ${f1(r.peakBytes / MiB)} MiB (counts shared buffers per tensor)` : '') +
          ` (${r.backend}, ${r.context})`,
      });
    }
  }

  // 9. Evaluation: how long the 10,000 test images hold the lab's loop up (core.ts timeEvalHoldUp)
  // against the pass on its own (measured before and after), with the loop's 5% allowance; and the
  // pass next to an epoch of training.
  const ev =
    find(records, (r) => r.what === 'eval' && r.model === 'resnet20' && r.context === 'browser-worker') ??
    find(records, (r) => r.what === 'eval' && r.model === 'resnet20');
  const step =
    ev &&
    find(
      records,
      (r) =>
        r.what === 'train-step' &&
        r.backend === ev.backend &&
        r.context === ev.context &&
        r.model === 'resnet20' &&
        r.batch === 128 &&
        !r.variant,
    );
  if (ev) {
    const images = Math.round((ev.imagesPerSec * ev.medianMs) / 1000);
    const evalS = ev.medianMs / 1000;
    const epochS = step ? (50_000 / 128) * (step.medianMs / 1000) : NaN;
    const epoch = step
      ? `; ${f1(epochS)} s of training per epoch, so evaluating 10,000 images each epoch adds ${((10_000 / ev.imagesPerSec / epochS) * 100).toFixed(1)}%`
      : '';
    const others = records.filter((r) => r !== ev && r.what === 'eval' && r.holdUpMs !== undefined);
    const otherText = others.map((r) => `; ${r.context}: ${f1(r.holdUpMs! / 1000)} s vs ${f1(r.medianMs / 1000)} s`).join('');
    targets.push({
      name: `evaluation of ${int(images)} test images holds training up no longer than it takes (+5%)`,
      met: ev.holdUpMs === undefined ? undefined : ev.holdUpMs <= ev.medianMs * 1.05,
      detail:
        (ev.holdUpMs === undefined
          ? `hold-up not measured; ${f1(evalS)} s per pass`
          : `holds the lab's loop up ${f1(ev.holdUpMs / 1000)} s (each evaluation: ${ev.holdUps!.map((h) => f2(h / 1000)).join(', ')} s; the first also sets evaluation up) against ${f2(evalS)} s for the pass on its own, ${ev.context}: ${((ev.holdUpMs / ev.medianMs - 1) * 100).toFixed(1)}%`) +
        otherText +
        epoch,
    });
  }
  return targets;
}

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

const where = (r: BenchRecord) => (r.context === 'browser-worker' ? 'browser worker' : r.context);
const backendLabel = (r: BenchRecord) => `${r.backend}${r.software ? ' (software)' : ''}`;

/** The markdown of one run: what was run, targets, then one table per kind of measurement. */
export function markdown(res: BenchResults): string {
  const { meta, results, targets } = res;
  const lines: string[] = [];
  lines.push(
    `Measured ${meta.date} with \`${meta.command}\` (${meta.quick ? 'quick' : 'full'} run, ${Math.round(meta.durationS)} s): ` +
      `${meta.cpu}, ${meta.cores} cores, load average ${meta.loadAvgStart.map(f2).join(' ')} at the start; Node ${meta.node}, tfjs ${meta.tfjs}` +
      (meta.browser ? `, ${meta.browser}` : '') +
      (meta.pytorch ? `, PyTorch ${meta.pytorch}` : ', no PyTorch') +
      '. Medians after warm-up; the machine may be shared, so single numbers are noisy.',
  );
  lines.push('');
  lines.push('**Targets** (issues 4 and 17)');
  lines.push('');
  lines.push(
    table(
      ['target', 'met', 'numbers'],
      targets.map((t) => [t.name, t.met === undefined ? '-' : t.met ? 'yes' : '**no**', t.detail]),
    ),
  );
  lines.push('');

  const gpu = gpuMarkdown(results, table);
  if (gpu) lines.push(gpu);

  const steps = results.filter((r) => r.what === 'train-step' && !r.torchPairs);
  lines.push('**Training step** (forward, backward, solver update; median ms; ratio = ours / PyTorch best at the same depth and batch)');
  lines.push('');
  lines.push(
    table(
      [
        'model',
        'batch',
        'backend',
        'where',
        'threads',
        'median ms',
        'fastest ms',
        'images/s',
        'x PyTorch (medians)',
        'x PyTorch (fastest)',
        'tf.memory peak MiB',
        'wasm heap MiB',
        'note',
      ],
      steps.map((r) => [
        r.model + (r.variant ? ` ${r.variant}` : ''),
        String(r.batch),
        backendLabel(r),
        where(r),
        String(r.threads),
        r.failed ? '**failed**' : f1(r.medianMs),
        r.minMs !== undefined ? f1(r.minMs) : '',
        r.failed ? '' : int(r.imagesPerSec),
        r.vsPytorch !== undefined ? f2(r.vsPytorch) : '',
        r.vsPytorchFastest !== undefined ? f2(r.vsPytorchFastest) : '',
        r.peakBytes !== undefined ? f1(r.peakBytes / MiB) : '',
        r.heapBytes !== undefined ? f1(r.heapBytes / MiB) : '',
        [
          r.failed ?? '',
          r.steps !== undefined ? `${r.steps} steps` : '',
          r.syncReads !== undefined ? `${r.syncReads} sync reads` : '',
          r.note ?? '',
        ]
          .filter(Boolean)
          .join('; '),
      ]),
    ),
  );
  lines.push('');

  const turns = results.filter((r) => r.what === 'train-step' && r.torchPairs?.length);
  if (turns.length > 0) {
    lines.push(
      "**In turns with PyTorch** (each round: PyTorch's steps in each memory format, then the lab's, same depth and batch; " +
        "a round's ratio = the lab's median / PyTorch's faster median of that round)",
    );
    lines.push('');
    lines.push(
      table(
        [
          'model',
          'batch',
          'backend',
          'where',
          'rounds',
          'x PyTorch (median of rounds)',
          'range',
          'each round',
          'lab ms',
          'PyTorch ms',
          'note',
        ],
        turns.map((r) => {
          const t = turnRatios(r)!;
          const pairs = r.torchPairs!;
          return [
            r.model,
            String(r.batch),
            backendLabel(r),
            where(r),
            String(pairs.length),
            f2(t.median),
            `${f2(t.min)}-${f2(t.max)}`,
            t.each.map(f2).join(', '),
            pairs.map((p) => f1(p.labMs)).join(', '),
            pairs.map((p) => `${f1(p.torchMs)}${p.torchFormat === 'channels-last' ? ' cl' : ''}`).join(', '),
            r.note ?? '',
          ];
        }),
      ),
    );
    lines.push('');
    lines.push("lab ms and PyTorch ms: each round's medians, in order; cl: PyTorch's channels-last format was the faster that round.");
    lines.push('');
  }

  const loops = results.filter((r) => r.what === 'loop');
  if (loops.length > 0) {
    lines.push("**The lab's loop** (sampling, augmentation, schedule, read-back, messages) against the bare step; tensor-count drift");
    lines.push('');
    lines.push(
      table(
        ['model', 'batch', 'backend', 'where', 'loop ms', 'bare ms', 'overhead', 'x PyTorch', 'tensor drift', 'note'],
        loops.map((r) => [
          r.model + (r.variant ? ` ${r.variant}` : ''),
          String(r.batch),
          backendLabel(r),
          where(r),
          f1(r.medianMs),
          r.bareMs !== undefined ? f1(r.bareMs) : '',
          r.overhead !== undefined ? `${((r.overhead - 1) * 100).toFixed(1)}%` : '',
          r.vsPytorch !== undefined ? f2(r.vsPytorch) : '',
          r.tensorDrift !== undefined ? `${r.tensorDrift} over ${r.driftSteps} steps` : '',
          r.note ?? '',
        ]),
      ),
    );
    lines.push('');
  }

  const other = results.filter((r) => r.what === 'data' || r.what === 'eval');
  if (other.length > 0) {
    lines.push('**Data pipeline and test-set evaluation**');
    lines.push('');
    lines.push(
      table(
        ['what', 'model', 'batch', 'backend', 'where', 'ms', 'images/s', 'note'],
        other.map((r) => [
          r.what,
          r.model,
          String(r.batch),
          r.what === 'data' ? '-' : backendLabel(r),
          where(r),
          f1(r.medianMs),
          int(r.imagesPerSec),
          r.note ?? '',
        ]),
      ),
    );
    lines.push('');
  }
  return lines.join('\n');
}

/** The heading from which bench/RESULTS.md is written by hand; a new run keeps what follows it. */
export const HAND_KEPT_HEADING = '## About these numbers (kept by hand)';

/** RESULTS.md for a new run: its title and tables, then the hand-kept part of the file it replaces. */
export function resultsFile(title: string, tables: string, previous: string | undefined): string {
  const at = previous?.indexOf(HAND_KEPT_HEADING) ?? -1;
  const kept = at >= 0 ? `\n${previous!.slice(at).trimEnd()}\n` : '';
  return `# ${title}\n\n${tables}\n${kept}`;
}
