// The files a user takes away, downloaded from the page after a tiny ResNet-8 run on WASM: the weights'
// model.onnx runs in onnxruntime-node and gives 10 logits per image, and the exported run bundle is a
// zip whose every entry (run.json, the curves as CSV, the weights as safetensors, TF.js and ONNX) is
// there and not empty. The rest of the export and import is in workbench.spec.ts, the other weight
// files in train.spec.ts.
import { readFile } from 'node:fs/promises';
import { expect, test, type Page } from '@playwright/test';
import { strFromU8, unzipSync } from 'fflate';
import * as ort from 'onnxruntime-node';
import { button, openLab, setRunOptions } from './lab.ts';

const TINY = '/?protocol=neon&depth=8&batch=16&epochs=1&seed=3';

async function download(page: Page, link: string | RegExp, path: string): Promise<Uint8Array> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: link }).click()]);
  await file.saveAs(path);
  return new Uint8Array(await readFile(path));
}

test('the weights download includes model.onnx, and the run exports as a zip of JSON, CSV and weights', async ({ page }, info) => {
  await openLab(page, TINY, 'wasm');
  await setRunOptions(page, { maxSteps: 12, testImages: 100 });
  await button(page, 'Train').click();
  await expect(page.getByTestId('run-phase')).toHaveText('Reached the step limit', { timeout: 120_000 });

  await button(page, 'Download weights').click();
  const onnx = await download(page, 'model.onnx', info.outputPath('model.onnx'));
  const session = await ort.InferenceSession.create(onnx);
  const out = await session.run({ input: new ort.Tensor('float32', new Float32Array(2 * 3072), [2, 3, 32, 32]) });
  expect(out.logits.dims).toEqual([2, 10]);
  expect(Array.from(out.logits.data as Float32Array).every(Number.isFinite)).toBe(true);
  await session.release();

  await button(page, 'Export run').click();
  const zip = await download(page, /^resnet8-neon-seed3-.*\.zip$/, info.outputPath('run.zip'));
  const entries = unzipSync(zip);
  const names = Object.keys(entries).sort();
  expect(names).toEqual([
    'run.json',
    'steps.csv',
    'tests.csv',
    'weights/model.json',
    'weights/model.onnx',
    'weights/model.safetensors',
    'weights/weights.bin',
  ]);
  for (const n of names) expect(entries[n]!.byteLength, n).toBeGreaterThan(0);
  expect(JSON.parse(strFromU8(entries['run.json']!))).toMatchObject({
    format: 'resnet-lab-run-zip',
    settings: { protocol: 'neon', depth: 8 },
  });
  expect(strFromU8(entries['steps.csv']!).trim().split('\n')).toHaveLength(13);
  expect(Buffer.from(entries['weights/model.onnx']!).equals(onnx)).toBe(true); // the same weights as the download
});
