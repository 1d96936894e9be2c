// The queue, as a user runs it (child processes through tsx) on the real CIFAR-10: three tiny runs
// (ResNet-8, 2 steps, 50 test images), one zip bundle each that decodes and matches train's own files;
// a killed queue resumes by skipping finished runs (an older lab's .rlab bundle counts); --from/--to; options that differ from the existing
// bundles are refused; inspect reads a bundle. Plus the queue file's parsing and run names.

import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigQueryStrict } from '../experiment/config.ts';
import { encodeRunBundle } from '../state/bundle.ts';
import { decodeRunFile } from '../state/bundle-zip.ts';
import { decodeSafetensors } from '../model/weights.ts';
import { modelSpec } from '../train/experiment.ts';
import { parseQueueFile, shortName, QueueError } from './queue.ts';

const HAVE_DATA = existsSync('public/data/cifar-10-batches-bin/test_batch.bin');

function lab(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const jsonLines = (s: string) =>
  s
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describe('queue file', () => {
  it('reads queries and share URLs, skips comments and blank lines, numbers runs and names them', () => {
    const text = [
      '# depth sweep, gcr',
      'protocol=gcr&depth=20&seed=1',
      '',
      'https://lab.example/?protocol=gcr&depth=20&seed=2   # same, seed 2',
      '  protocol=neon&depth=56&solver=rmsprop&lr=0.001  ',
    ].join('\n');
    const q = parseQueueFile(text, 'q.txt');
    expect(q.map((e) => [e.index, e.line, e.name])).toEqual([
      [1, 2, '001-gcr-d20-s1'],
      [2, 4, '002-gcr-d20-s2'],
      [3, 5, '003-neon-d56-rmsprop-lr0.001-s1'],
    ]);
    expect(q[2]!.config).toMatchObject({ protocol: 'neon', depth: 56, solver: 'rmsprop', lr: 0.001 });
    expect(shortName(parseConfigQueryStrict('protocol=paper&depth=110&warmup=paper&bnm=dynamic&schedule=80:0.01,120:0.001&seed=4'))).toBe(
      'paper-d110-bnmdynamic-80-0.01-120-0.001-paper-s4',
    );
  });

  it('names every bad line in one error', () => {
    expect(() => parseQueueFile('depth=21\nprotocol=gcr\nsolver=lbfgs&colour=red', 'q.txt')).toThrow(QueueError);
    expect(() => parseQueueFile('depth=21\nprotocol=gcr\nsolver=lbfgs&colour=red', 'q.txt')).toThrow(
      /^q\.txt: line 1: depth="21" is invalid.* \| line 3: unknown key "colour".*solver="lbfgs" is invalid/,
    );
    expect(() => parseQueueFile('# nothing\n\n', 'empty.txt')).toThrow(/empty\.txt lists no runs/);
  });
});

describe.skipIf(!HAVE_DATA)('lab queue on real CIFAR-10', () => {
  it('runs each line with train, writes importable bundles, resumes by skipping, honours --from/--to', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-queue-'));
    const file = join(dir, 'queue.txt');
    writeFileSync(
      file,
      '# two seeds and a neon run\nprotocol=gcr&depth=8&batch=16&seed=1\nprotocol=gcr&depth=8&batch=16&seed=2\nprotocol=neon&depth=8&batch=16\n',
    );
    const out = join(dir, 'out');
    const args = ['queue', file, '--out', out, '--max-steps', '2', '--eval-limit', '50'];
    const first = await lab(...args);
    expect(first.code, first.stderr).toBe(0);
    const lines = jsonLines(first.stdout);
    expect(lines.map((l) => [l.type, l.name, l.skipped])).toEqual([
      ['run', '001-gcr-d8-batch16-s1', false],
      ['run', '002-gcr-d8-batch16-s2', false],
      ['run', '003-neon-d8-batch16-s1', false],
      ['repeats', undefined, undefined],
    ]);
    expect(lines[3].seeds).toEqual([1, 2]);
    expect(lines[3].final.n).toBe(2);

    for (const l of lines.slice(0, 3)) {
      const runDir = join(out, l.name);
      const bundle = decodeRunFile(new Uint8Array(readFileSync(l.bundle)), l.bundle);
      expect(l.bundle).toBe(join(runDir, `${l.name}.zip`));
      expect(bundle.config).toBe(readFileSync(join(runDir, 'config.txt'), 'utf8').trim());
      expect(bundle.meta).toMatchObject({
        name: l.name,
        status: 'max-steps',
        backend: 'wasm',
        maxSteps: 2,
        evalLimit: 50,
        trainImages: 50_000,
        producer: 'resnet-lab cli queue',
      });
      expect(bundle.meta.imagesPerSecond).toBeGreaterThan(0);
      // The series are train's log, value for value.
      const log = readFileSync(join(runDir, 'log.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((x) => JSON.parse(x));
      const steps = log.filter((x) => 'loss' in x);
      const tests = log.filter((x) => 'testError' in x);
      expect(Array.from(bundle.steps.step)).toEqual(steps.map((s) => s.step));
      expect(Array.from(bundle.steps.loss)).toEqual(steps.map((s) => Math.fround(s.loss)));
      expect(Array.from(bundle.steps.lr)).toEqual(steps.map((s) => s.lr));
      expect(Array.from(bundle.tests.testError)).toEqual(tests.map((t) => t.testError));
      expect(Array.from(bundle.tests.evaluated)).toEqual(tests.map(() => 50));
      expect(bundle.steps.ms![1]).toBeGreaterThan(bundle.steps.ms![0]!);
      const result = JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8'));
      expect(bundle.result.final!.testError).toBe(result.finalTestError);
      expect(l.finalTestError).toBe(result.finalTestError);
      // The weights inside are train's .safetensors file, and load into the run's network.
      expect(bundle.weights).toEqual(new Uint8Array(readFileSync(join(runDir, 'weights', 'model.safetensors'))));
      expect(decodeSafetensors(modelSpec(parseConfigQueryStrict(bundle.config)), 'w', bundle.weights!).steps).toBe(2);
    }

    // A queue killed during run 2: its bundle missing, maybe a partial file left. Running runs 2..3
    // again redoes run 2 only; run 1 is not touched.
    const b1 = lines[0].bundle as string;
    const b2 = lines[1].bundle as string;
    const mtime1 = statSync(b1).mtimeMs;
    rmSync(b2);
    writeFileSync(`${b2}.partial`, 'half a bundle');
    const resumed = await lab(...args, '--from', '2', '--to', '3');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(jsonLines(resumed.stdout).map((l) => [l.index, l.skipped])).toEqual([
      [2, false],
      [3, true],
    ]);
    expect(resumed.stderr).toMatch(/\[3\/3\] 003-neon-d8-batch16-s1: done already/);
    expect(decodeRunFile(new Uint8Array(readFileSync(b2))).result.final!.testError).toBe(lines[1].finalTestError); // same seed, same run
    expect(statSync(b1).mtimeMs).toBe(mtime1);

    // Run 3's bundle as an older lab wrote it (.rlab): still counts as done.
    const b3 = lines[2].bundle as string;
    writeFileSync(b3.replace(/\.zip$/, '.rlab'), encodeRunBundle(decodeRunFile(new Uint8Array(readFileSync(b3)))));
    rmSync(b3);

    // Everything done: nothing runs. Other options than the bundles were made with: refused, nothing
    // overwritten. A range outside the file: refused. (None of these trains: run side by side.)
    const [again, other, range] = await Promise.all([
      lab(...args),
      lab('queue', file, '--out', out, '--max-steps', '3', '--eval-limit', '50'),
      lab('queue', file, '--out', out, '--from', '3', '--to', '4'),
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(
      jsonLines(again.stdout)
        .filter((l) => l.type === 'run')
        .every((l) => l.skipped),
    ).toBe(true);
    expect(again.stderr).not.toMatch(/step 1\//);
    expect(other.code).toBe(2);
    expect(other.stderr.split('\n')[1]).toMatch(
      /holds a run of another configuration or options .*max steps 2.* than line 2 asks for: use another --out/,
    );
    expect(statSync(b1).mtimeMs).toBe(mtime1);
    expect(range.code).toBe(2);
    expect(range.stderr).toMatch(/--from 3 --to 4 is not a range of runs .* which lists runs 1\.\.3/);

    // inspect reads a bundle: its test error on the same 50 images is the run's final one.
    const ins = await lab('inspect', '--weights', b1, '--limit', '50', '--recalibrate', '--train-limit', '64', '--json');
    expect(ins.code, ins.stderr).toBe(0);
    const r = JSON.parse(ins.stdout);
    expect(r.testError).toBe(lines[0].finalTestError);
    expect(r.images).toBe(50);
    expect(r.perClass).toHaveLength(10);
    expect(r.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(50);
    expect(r.recalibrated).toMatchObject({ batches: 4, images: 64 });
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);
});
