// The headless lab: `npm run lab -- <command>`. Same model, data and training code as the page.
//   summary --depth D [--config Q] [--json]            layers and trainable parameters
//   train   --config Q --out DIR [--epochs E] [--max-steps S] [--backend B] [--threads T] [--data DIR] [--eval-limit N]
//   eval    --weights FILE [--data DIR] [--limit N] [--backend B] [--threads T] [--json] [--onnx FILE]
//   inspect --weights FILE [--recalibrate] [--limit N] [--train-limit N] ...   per-class error, confusion matrix (inspect.ts)
//   queue   FILE --out DIR [--from I --to J] [train's options]             a list of runs, one bundle each (queue.ts)
// Q is a share-URL query string ("depth=56&solver=rmsprop&lr=0.01"). Every error is one line on
// stderr with a non-zero exit code; progress goes to stderr, results to stdout and files.
// This file holds the usage text and the dispatch; the commands live in train.ts, inspect.ts and
// queue.ts, their flag parsing in args.ts. Documentation: docs/cli.md.

import { resolve } from 'node:path';
import { CONFIG_KEYS, ConfigError } from '../experiment/config.ts';
import { WeightsError } from '../model/weights.ts';
import { enableRelaxedSimd } from '../backend/relaxed-simd.node.ts';
import { UsageError } from './args.ts';
import { summary, train, evaluate } from './train.ts';

const USAGE = `usage: npm run lab -- <command> [options]
  summary --depth D [--config "depth=56&block=..."] [--json]
  train   --config "<share-URL query>" --out DIR [--epochs E] [--max-steps S] [--backend wasm|cpu|webgpu] [--threads T] [--data DIR] [--eval-limit N]
  eval    --weights FILE(.safetensors | model.json) [--data DIR] [--limit N] [--backend wasm|cpu|webgpu] [--threads T] [--json] [--onnx OUT.onnx]
  inspect --weights FILE(.safetensors | model.json | .zip | .rlab) [--recalibrate] [--limit N] [--train-limit N] [--data DIR] [--backend wasm|cpu|webgpu] [--json]
  queue   FILE --out DIR [--from I] [--to J] [--epochs E] [--max-steps S] [--eval-limit N] [--backend wasm|cpu|webgpu] [--threads T] [--data DIR]
--threads: wasm's threads (default: the number of cores, at most 4; 1 = tfjs-wasm's single-threaded build)
share-URL keys: ${CONFIG_KEYS.join(', ')}`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'summary':
        await summary(rest);
        return 0;
      case 'train':
        await train(rest);
        return 0;
      case 'eval':
        await evaluate(rest);
        return 0;
      case 'inspect':
        await (await import('./inspect.ts')).inspect(rest);
        return 0;
      case 'queue':
        await (await import('./queue.ts')).queue(rest);
        return 0;
      case undefined:
      case 'help':
      case '--help':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    const err = e as Error & { code?: string };
    const known =
      e instanceof UsageError ||
      e instanceof ConfigError ||
      e instanceof WeightsError ||
      err.name === 'CifarDataError' ||
      err.name === 'ArchitectureError' ||
      err.name === 'BundleError' ||
      err.name === 'QueueError' ||
      err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
      err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ||
      err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL';
    process.stderr.write(`lab ${command ?? ''}: ${known ? err.message : (err.stack ?? String(e))}\n`);
    if (e instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS'))
      process.stderr.write(`${USAGE.split('\n')[0]} (npm run lab -- help)\n`);
    return known ? 2 : 1;
  }
}

// Run when executed directly (tsx src/cli/main.ts ...), not when imported by tests.
if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  enableRelaxedSimd(); // before any wasm module compiles: the lab's kernels with fused multiply-adds
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
