// The measurements one backend gets, in Node or in a browser worker, turned into BenchRecords: bare
// steps (with peak tensor memory, and synchronous-read counts on GPUs), the lab's loop against the bare
// step, tensor-count drift over a long loop, the data pipeline and test-set evaluation. The caller has
// initialised the backend and loaded the data. No Node or DOM imports.

import * as tf from '@tensorflow/tfjs-core';
import type { CifarData } from '../src/data/cifar.ts';
import type { DataStats } from '../src/data/batches.ts';
import {
  experimentFor,
  median,
  pairedDepths,
  pairedLoop,
  tensorDrift,
  timeBareSteps,
  timeDataPipeline,
  timeEval,
  timeEvalHoldUp,
  timeLoop,
  type BenchBackend,
  type BenchContext,
  type BenchRecord,
} from './core.ts';
import { modelName, type BenchPlan, type StepPlan } from './plan.ts';

export interface SuiteEnv {
  context: BenchContext;
  backend: Exclude<BenchBackend, 'pytorch-cpu'>;
  threads: number;
  software: boolean;
  data: CifarData;
  stats: DataStats;
  /** Added to every record's note (e.g. "random images"). */
  dataNote?: string;
  log: (line: string) => void;
}

export interface SuiteSections {
  steps: StepPlan[];
  /** The lab's loop (Trainer.run) against the bare step: Node runs it here; the browser runs the real
   * lab worker from the page instead. */
  loop?: StepPlan;
  drift?: StepPlan;
  data?: boolean;
  eval?: boolean;
  /** BenchPlan.depthRatio, attached to the deep model's train-step record. */
  depthRatio?: BenchPlan['depthRatio'];
}

function noteOf(...parts: (string | undefined | false)[]): string | undefined {
  const s = parts.filter(Boolean).join('; ');
  return s || undefined;
}

/** The sections a backend gets from a plan. */
export function sectionsFor(backend: SuiteEnv['backend'], context: BenchContext, plan: BenchPlan): SuiteSections {
  switch (backend) {
    case 'wasm':
      return {
        steps: plan.wasmSteps,
        loop: context === 'node' ? plan.loop : undefined,
        drift: plan.drift,
        data: true,
        eval: true,
        depthRatio: plan.depthRatio,
      };
    case 'cpu':
      return { steps: context === 'node' ? plan.cpuSteps : plan.cpuSteps.slice(0, 1) };
    case 'webgl':
    case 'webgpu':
      return { steps: plan.gpuSteps, drift: plan.gpuDrift };
  }
}

export async function runSuite(env: SuiteEnv, plan: BenchPlan, sections: SuiteSections): Promise<BenchRecord[]> {
  const out: BenchRecord[] = [];
  const { backend, context, threads, software, data, stats, log } = env;
  const gpu = backend === 'webgl' || backend === 'webgpu';
  const base = { backend, context, threads, software } as const;
  const push = (r: BenchRecord) => {
    const note = noteOf(r.note, env.dataNote);
    const rec: BenchRecord = note ? { ...r, note } : r;
    out.push(rec);
    if (rec.failed) return;
    log(
      `  ${rec.what} ${rec.model}${rec.variant ? ` (${rec.variant})` : ''} b${rec.batch} ${rec.backend}/${rec.context}: ` +
        `${rec.medianMs.toFixed(1)} ms, ${Math.round(rec.imagesPerSec)} img/s` +
        (rec.tensorDrift !== undefined ? `, drift ${rec.tensorDrift}` : '') +
        (rec.syncReads !== undefined ? `, sync reads ${rec.syncReads}` : ''),
    );
  };

  // The largest models go last: running out of the wasm heap (4 GiB) aborts the wasm module, and
  // nothing runs on that backend afterwards.
  const big = (p: StepPlan) => p.depth >= 110;
  const runSteps = async (plans: StepPlan[]) => {
    for (const p of plans) {
      if (dead) return;
      const exp = experimentFor(p.depth, p.batch, p.extra);
      try {
        const t = await timeBareSteps(exp, data.train, stats, {
          warmup: p.warmup,
          steps: p.steps,
          budgetMs: p.budgetMs,
          peak: backend === 'wasm' || gpu,
          countSyncReads: gpu,
        });
        const med = median(t.times);
        push({
          what: 'train-step',
          model: modelName(p.depth),
          batch: p.batch,
          ...base,
          medianMs: med,
          imagesPerSec: (p.batch * 1000) / med,
          steps: t.times.length,
          warmup: p.warmup,
          minMs: Math.min(...t.times),
          ...(p.extra ? { variant: p.extra } : {}),
          ...(Number.isFinite(t.peakBytes) ? { peakBytes: t.peakBytes } : {}),
          ...(t.heapBytes !== undefined ? { heapBytes: t.heapBytes } : {}),
          ...(t.syncReads !== undefined ? { syncReads: t.syncReads } : {}),
          note: noteOf(
            p.note,
            p.budgetMs !== undefined && t.times.length < p.steps && `stopped after ${t.times.length} steps (time budget)`,
          ),
        });
      } catch (e) {
        const message = (e as Error).message.split('\n')[0]!.slice(0, 200);
        dead = /Aborted|out of bounds|out of memory/i.test(message);
        log(`  train-step ${modelName(p.depth)} b${p.batch} ${backend}/${context} failed: ${message}`);
        push({
          what: 'train-step',
          model: modelName(p.depth),
          batch: p.batch,
          ...base,
          medianMs: NaN,
          imagesPerSec: 0,
          ...(p.extra ? { variant: p.extra } : {}),
          failed: dead ? `the wasm module aborted (${message}): out of memory` : message,
        });
      }
    }
  };
  let dead = false;
  await runSteps(sections.steps.filter((p) => !big(p)));

  if (sections.loop && !dead) {
    const lp = sections.loop;
    const exp = experimentFor(lp.depth, lp.batch, lp.extra);
    const opts = { warmup: lp.warmup, steps: lp.steps };
    push(
      await pairedLoop(
        lp,
        async () => (await timeBareSteps(exp, data.train, stats, { ...opts, peak: false })).times,
        async () => (await timeLoop(exp, data, stats, opts)).intervals,
        base,
        'Trainer.run as the CLI runs it (sampling, augmentation, schedule, loss read-back, callbacks)',
      ),
    );
  }

  if (sections.drift && !dead) {
    const dp = sections.drift;
    try {
      const drift = await timeLoop(experimentFor(dp.depth, dp.batch, dp.extra), data, stats, {
        warmup: dp.warmup,
        steps: dp.steps,
        evalLimit: 100,
      });
      const ms = median(drift.intervals);
      push({
        what: 'loop',
        model: modelName(dp.depth),
        batch: dp.batch,
        ...base,
        medianMs: ms,
        imagesPerSec: (dp.batch * 1000) / ms,
        steps: drift.intervals.length,
        warmup: dp.warmup,
        tensorDrift: tensorDrift(drift.tensors.slice(dp.warmup)),
        driftSteps: drift.tensors.length - dp.warmup,
        note: noteOf('tensor-count drift of Trainer.run', dp.note),
      });
    } catch (e) {
      log(`  drift loop on ${backend}/${context} failed: ${(e as Error).message}`);
    }
  }

  if (sections.data && !dead) {
    for (const protocol of ['gcr', 'paper', 'neon'] as const) {
      const times = timeDataPipeline(experimentFor(20, 128, `protocol=${protocol}`), data.train, stats, plan.dataBatches);
      const ms = median(times);
      push({
        what: 'data',
        model: `${protocol} pipeline`,
        batch: 128,
        ...base,
        threads: 1,
        medianMs: ms,
        imagesPerSec: (128 * 1000) / ms,
        steps: times.length,
        minMs: Math.min(...times),
        note: 'preprocessing + augmentation + batching (BatchSampler.next), into one reused batch array as the trainer writes them, no tensors',
      });
    }
  }

  if (sections.eval && !dead) {
    for (const depth of plan.evalDepths) {
      const images = Math.min(plan.evalImages, data.test.n);
      const exp = experimentFor(depth, 128);
      // The pass on its own, then the lab's loop evaluating as often as plan.evalHoldUp says, then the
      // pass on its own again: the hold-ups are judged against the passes measured around them.
      const alone = [await timeEval(exp, data.test, stats, images)];
      let hold: Awaited<ReturnType<typeof timeEvalHoldUp>> | undefined;
      let holdFailed: string | undefined;
      if (plan.evalHoldUp) {
        try {
          hold = await timeEvalHoldUp(exp, data, stats, { ...plan.evalHoldUp, images });
        } catch (e) {
          holdFailed = (e as Error).message.split('\n')[0];
          log(`  eval hold-up on ${backend}/${context} failed: ${holdFailed}`);
        }
        alone.push(await timeEval(exp, data.test, stats, images));
      }
      const ms = median(alone);
      const rec: BenchRecord = {
        what: 'eval',
        model: modelName(depth),
        batch: 500,
        ...base,
        medianMs: ms,
        imagesPerSec: (images * 1000) / ms,
        steps: Math.ceil(images / 500),
        minMs: Math.min(...alone),
        note: noteOf(
          `${images.toLocaleString('en-US')} test images; medianMs is the whole pass (${alone.length === 1 ? 'once' : `median of ${alone.length}, before and after the hold-up loop`})`,
          hold &&
            `holdUps: the lab's loop (Trainer.run) on ${plan.evalHoldUp!.stepsPerEpoch} batches per epoch, ${plan.evalHoldUp!.evals} evaluations; each one's interval between steps less the median step (${hold.stepMs.toFixed(1)} ms)`,
          holdFailed && `hold-up not measured: ${holdFailed}`,
        ),
      };
      if (hold) {
        rec.holdUps = hold.holdUps;
        // The first evaluation of a run also sets up evaluation's shapes (as timeEval's warm-up pass does).
        rec.holdUpMs = median(hold.holdUps.length > 1 ? hold.holdUps.slice(1) : hold.holdUps);
        log(
          `  eval ${images} images ${(ms / 1000).toFixed(2)} s alone; holds the loop up ${hold.holdUps.map((h) => (h / 1000).toFixed(2)).join(', ')} s`,
        );
      }
      push(rec);
    }
  }
  await runSteps(sections.steps.filter(big));

  const dr = sections.depthRatio;
  const deepRecord =
    dr &&
    out.find(
      (r) => r.what === 'train-step' && r.model === modelName(dr.deep.depth) && r.batch === dr.deep.batch && !r.variant && !r.failed,
    );
  if (dr && deepRecord && !dead) {
    const times = (p: StepPlan) => async () =>
      (await timeBareSteps(experimentFor(p.depth, p.batch, p.extra), data.train, stats, { warmup: p.warmup, steps: p.steps, peak: false }))
        .times;
    try {
      const { pairs, ratio } = await pairedDepths(dr.rounds, times(dr.shallow), times(dr.deep));
      deepRecord.depthPairs = pairs;
      deepRecord.depthRatio = ratio;
      deepRecord.depthRatioTo = modelName(dr.shallow.depth);
      deepRecord.note = noteOf(
        deepRecord.note,
        `depthRatio: ${dr.rounds} rounds of ${dr.shallow.steps} ${modelName(dr.shallow.depth)} steps then ${dr.deep.steps} of this one, each after ${dr.shallow.warmup} warm-up`,
      );
      log(
        `  ${modelName(dr.deep.depth)} / ${modelName(dr.shallow.depth)} in turns: ${ratio.toFixed(2)} (${pairs.map((p) => (p.deepMs / p.shallowMs).toFixed(2)).join(', ')})`,
      );
    } catch (e) {
      log(`  depth ratio on ${backend}/${context} failed: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  if (!dead) log(`  ${backend}/${context}: ${tf.memory().numTensors} tensors alive at the end`);
  return out;
}
