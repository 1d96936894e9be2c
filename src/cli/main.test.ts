// The headless CLI, run as a user runs it (a child process through tsx): summary, train on real
// CIFAR-10 writing log.jsonl and every weight format, eval of those weights, and one-line errors.

import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOnnxMetadata } from '../model/onnx-model.ts';

const HAVE_DATA = existsSync('public/data/cifar-10-batches-bin/test_batch.bin');

function lab(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('lab summary', () => {
  it('prints layers and trainable parameters, as JSON when asked', async () => {
    const r = await lab('summary', '--depth', '110', '--config', 'protocol=paper', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ depth: 110, n: 18, layers: 110, trainableParams: 1_727_962 });
    const text = await lab('summary', '--depth', '56');
    expect(text.stdout).toContain('trainable parameters: 855,050 (853,018 without the conv biases');
  });

  it.each([
    [['summary', '--depth', '21'], /depth.*6n\+2/],
    [['summary', '--depht', '20'], /Unknown option '--depht'/],
    [['train', '--config', 'depth=20&solver=lbfgs', '--out', '/tmp/x'], /solver.*one of/],
    [['train', '--config', 'depth=20'], /--out DIR/],
    [['eval'], /--weights FILE/],
    [['eval', '--weights', 'x.safetensors', '--onnx', 'x.pb'], /--onnx names the model\.onnx file/],
    [['train', '--config', 'depth=20', '--out', '/tmp/x', '--threads', '9'], /--threads must be 1 to 4/],
    [['train', '--config', 'depth=20', '--out', '/tmp/x', '--threads', '0'], /--threads must be a whole number >= 1/],
    [['frobnicate'], /unknown command/],
  ])('%j fails with a one-line reason and exit code 2', async (args, why) => {
    const r = await lab(...args);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(why);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe.skipIf(!HAVE_DATA)('lab train and eval on real CIFAR-10', () => {
  it('train writes log.jsonl and weights in every format; eval of either gives the logged test error', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lab-train-'));
    const t = await lab(
      'train',
      '--config',
      'protocol=gcr&depth=8&batch=16&seed=3',
      '--max-steps',
      '3',
      '--eval-limit',
      '200',
      '--out',
      out,
    );
    expect(t.code, t.stderr).toBe(0);
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(log[0]).toMatchObject({ epoch: 0, step: 0 });
    const steps = log.filter((l) => 'loss' in l);
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3]);
    for (const s of steps) expect(s).toMatchObject({ epoch: 0, lr: 0.1 });
    const final = log[log.length - 1];
    expect(final.step).toBe(3);
    expect(final.testError).toBeGreaterThan(0);
    expect(t.stderr).toMatch(/step 3\/3/);

    for (const file of ['model.safetensors', 'model.json']) {
      const e = await lab('eval', '--weights', join(out, 'weights', file), '--limit', '200', '--json');
      expect(e.code, e.stderr).toBe(0);
      const r = JSON.parse(e.stdout);
      expect(r.images).toBe(200);
      expect(r.steps).toBe(3);
      expect(r.testError).toBeCloseTo(final.testError, 10);
    }

    // model.onnx beside them; eval --onnx converts a weights file into the same bytes.
    const onnx = readFileSync(join(out, 'weights', 'model.onnx'));
    expect(readOnnxMetadata(onnx)).toMatchObject({ resnet_lab_steps: '3', preprocess: 'pixel-mean-global-std' });
    const converted = join(out, 'converted', 'model.onnx');
    const c = await lab('eval', '--weights', join(out, 'weights', 'model.safetensors'), '--limit', '10', '--onnx', converted);
    expect(c.code, c.stderr).toBe(0);
    expect(readFileSync(converted).equals(onnx)).toBe(true);

    const bad = join(out, 'bad.safetensors');
    writeFileSync(bad, readFileSync(join(out, 'weights', 'model.safetensors')).subarray(0, 3000));
    const e = await lab('eval', '--weights', bad);
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/bad\.safetensors is not a readable \.safetensors file/);
  });
});
