// A prepared run's training loop (run-setup.ts prepared it): the trainer's callbacks become step, epoch
// and state events, with pause, resume and stop between steps, checkpoints when due, and the run's end
// stored. Step numbers go out a few steps per message (every STEP_FLUSH_MS, at epoch ends, at the end).
// What it is not: the trainer itself (src/train), the run's preparation, the engine's state.

import * as tf from '@tensorflow/tfjs-core';
import { configKey, type ExperimentConfig } from '../experiment/config.ts';
import { modelSpec } from '../train/experiment.ts';
import type { Trainer } from '../train/trainer.ts';
import { encodeSafetensors, readModelValues, type WeightsBundle } from '../model/weights.ts';
import type { PreparedRun } from './run-setup.ts';
import type { BackendName, EngineEvent, EpochPoint, RunOptions, RunSummary, StepPoint } from './protocol.ts';

export const STEP_FLUSH_MS = 100;

/** What the page asked of the running run; pause, resume and stop set these and wake the loop. */
export interface RunControl {
  paused: boolean;
  pauseRequested: boolean;
  stopRequested: boolean;
  wake?: () => void;
}

/** What the engine lends the loop. */
export interface LoopContext {
  run: PreparedRun;
  control: RunControl;
  config: ExperimentConfig;
  options: RunOptions;
  backend: BackendName;
  /** Test images in the loaded data. */
  testImages: number;
  emit(e: EngineEvent): void;
  /** Each step done (the engine's current model follows it). */
  onStep(step: number): void;
  /** Why the GPU device was lost, if it was. */
  deviceLost(): Promise<string | undefined>;
}

/** Trains the prepared run to its end, and stores that end; failures become a 'failed' or 'interrupted' summary. */
export async function trainLoop(ctx: LoopContext): Promise<RunSummary> {
  const { control: run, config, options, emit } = ctx;
  const { runId, trainer, recorder, baseMs } = ctx.run;
  const firstStep = trainer.iteration;

  // Training clock: pauses and test-set evaluations are not training time; a resumed run goes on
  // from the training time stored with its checkpoint.
  const started = performance.now() - baseMs;
  let excluded = 0;
  const clock = () => ({ elapsedMs: performance.now() - started - excluded, tensors: tf.memory().numTensors });
  let lastStepAt = started;
  let pending: StepPoint[] = [];
  let lastFlush = started;
  const flush = () => {
    if (pending.length === 0) return;
    emit({ type: 'steps', runId, points: pending });
    pending = [];
    lastFlush = performance.now();
  };

  let summary: RunSummary;
  try {
    const result = await trainer.run({
      onStep: (s) => {
        const now = performance.now();
        lastStepAt = now;
        const point: StepPoint = {
          step: s.step,
          epoch: s.epochFloat,
          lr: s.lr,
          loss: s.loss,
          trainError: s.trainError,
          ms: now - started - excluded,
        };
        pending.push(point);
        recorder?.step(point);
        ctx.onStep(s.step);
        if (now - lastFlush >= STEP_FLUSH_MS) flush();
      },
      onEpoch: (e) => {
        const now = performance.now();
        if (e.step > 0) excluded += now - lastStepAt; // the evaluation just done
        lastStepAt = now;
        flush();
        const evaluated = Math.min(options.evalLimit ?? ctx.testImages, ctx.testImages);
        const point: EpochPoint = { epoch: e.epoch, step: e.step, testError: e.testError, evaluated };
        recorder?.epoch(point);
        emit({ type: 'epoch', runId, point });
      },
      onEvalProgress: (done, total) => emit({ type: 'eval-progress', purpose: 'epoch', done, total }),
      between: async () => {
        // Checkpoints (src/worker/history.ts): at epoch ends, every 5 minutes, on pause and on stop.
        if (recorder?.checkpointDue(trainer.iteration)) {
          const t0 = performance.now();
          await recorder.checkpoint(trainer, clock());
          excluded += performance.now() - t0; // reading the variables back is not training time
        }
        if (run.stopRequested) {
          await recorder?.checkpoint(trainer, clock());
          return true;
        }
        if (run.pauseRequested) {
          flush();
          const pausedAt = performance.now();
          run.paused = true;
          emit({ type: 'run-state', runId, state: 'paused' });
          recorder?.setStatus('paused');
          await recorder?.checkpoint(trainer, clock());
          await new Promise<void>((resolve) => (run.wake = resolve));
          run.paused = false;
          run.wake = undefined;
          const resumedAt = performance.now();
          excluded += resumedAt - pausedAt;
          lastStepAt = resumedAt;
          if (run.stopRequested) return true;
          recorder?.setStatus('running');
          emit({ type: 'run-state', runId, state: 'running' });
        }
        return false;
      },
    });
    flush();
    summary = { runId, end: result.end, steps: result.steps, finalTestError: result.finalTestError };
    if (result.end === 'diverged' && result.divergedAt) {
      const d = result.divergedAt;
      summary.message = `The loss became ${d.loss} at step ${d.step} (learning rate ${d.lr}): the run diverged. Try a smaller learning rate.`;
    }
    const end = clock();
    const trained = end.elapsedMs - baseMs;
    await recorder?.finish(result.end, {
      finalTestError: result.finalTestError,
      divergedAt: result.divergedAt,
      clock: end,
      imagesPerSec:
        trained > 0 && trainer.iteration > firstStep ? ((trainer.iteration - firstStep) * config.batch * 1000) / trained : undefined,
      weights: result.end === 'diverged' ? undefined : () => finalWeights(trainer, config),
    });
  } catch (e) {
    flush();
    const lost = await ctx.deviceLost();
    const saved = recorder ? ' The run is saved up to its last checkpoint and can be resumed.' : '';
    if (lost !== undefined) {
      summary = {
        runId,
        end: 'interrupted',
        steps: trainer.iteration,
        message: `The GPU device was lost (${lost}) at step ${trainer.iteration}.${saved}`,
      };
    } else {
      summary = {
        runId,
        end: 'failed',
        steps: trainer.iteration,
        message: `Training failed on ${ctx.backend}: ${(e as Error).message}${saved}`,
      };
    }
    emit({ type: 'error', scope: 'train', name: lost !== undefined ? 'DeviceLostError' : (e as Error).name, message: summary.message! });
    await recorder?.finish(summary.end, { clock: clock() }).catch(() => undefined);
  } finally {
    recorder?.releaseLock();
  }
  return summary;
}

/** A run's final weights as stored in the history (.safetensors bytes, as a run bundle carries them). */
async function finalWeights(trainer: Trainer, config: ExperimentConfig): Promise<{ format: 'safetensors'; bytes: Uint8Array }> {
  // The file's config is its query string (a weights file is an edge).
  const bundle: WeightsBundle = { config: configKey(config), steps: trainer.iteration, values: await readModelValues(trainer.model) };
  return { format: 'safetensors', bytes: encodeSafetensors(modelSpec(config), bundle) };
}
