// Writes the small CIFAR-10 sample committed in public/demo, from the real data in public/data
// (run `npm run data` first): `npx tsx scripts/make-demo-sample.ts`.
//   cifar10-demo-train.bin  500 records: the first 50 of each class in data_batch_1.bin
//   cifar10-demo-test.bin   200 records: the first 20 of each class in test_batch.bin
// Records keep their order in the source file and the official format (label byte + 3072 pixel
// bytes), so parseCifarRecords reads them. Also writes public/demo/README.md.

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assertCifarMd5,
  CIFAR_MD5,
  DEMO_TEST_PATH,
  DEMO_TRAIN_PATH,
  NUM_CLASSES,
  RECORD_BYTES,
  checkCifarBinSize,
} from '../src/data/cifar.ts';
import { DEFAULT_CIFAR_DIR, md5HexNode, writeFileAtomic } from '../src/data/node-files.ts';

/** Records (whole, label first) of the first `perClass` images of each class, in file order. */
export function firstPerClass(records: Uint8Array, perClass: number): Uint8Array {
  const n = records.length / RECORD_BYTES;
  const taken = new Array<number>(NUM_CLASSES).fill(0);
  const out = new Uint8Array(perClass * NUM_CLASSES * RECORD_BYTES);
  let k = 0;
  for (let i = 0; i < n && k < perClass * NUM_CLASSES; i++) {
    const label = records[i * RECORD_BYTES]!;
    if (taken[label]! < perClass) {
      taken[label]!++;
      out.set(records.subarray(i * RECORD_BYTES, (i + 1) * RECORD_BYTES), k * RECORD_BYTES);
      k++;
    }
  }
  if (k !== perClass * NUM_CLASSES) throw new Error(`only ${k} records found for ${perClass} per class`);
  return out;
}

async function readChecked(name: 'data_batch_1.bin' | 'test_batch.bin'): Promise<Uint8Array> {
  const path = join(DEFAULT_CIFAR_DIR, name);
  const bytes = new Uint8Array(
    await readFile(path).catch(() => {
      throw new Error(`${path} is missing: run \`npm run data\` first`);
    }),
  );
  checkCifarBinSize(path, bytes);
  assertCifarMd5(path, md5HexNode(bytes));
  return bytes;
}

function readme(trainMd5: string, testMd5: string): string {
  return `# CIFAR-10 demo sample

Two small files in the official CIFAR-10 binary record format, so the app can run and be tested
without the full data set (\`npm run data\` fetches that into \`public/data/\`, which is not committed).

| file | records | content | MD5 |
|---|---|---|---|
| \`cifar10-demo-train.bin\` | 500 | the first 50 images of each class in \`data_batch_1.bin\` | \`${trainMd5}\` |
| \`cifar10-demo-test.bin\` | 200 | the first 20 images of each class in \`test_batch.bin\` | \`${testMd5}\` |

Each record is 3,073 bytes: the label (0-9: airplane, automobile, bird, cat, deer, dog, frog,
horse, ship, truck), then 1024 red, 1024 green and 1024 blue bytes, each plane row-major 32x32.
Records keep the order they have in the source file (classes interleaved). Read them with
\`parseCifarRecords\` or \`loadCifarDemo\` from \`src/data/cifar.ts\`.

Made by \`npx tsx scripts/make-demo-sample.ts\` from the official files (MD5
\`${CIFAR_MD5['data_batch_1.bin']}\` and \`${CIFAR_MD5['test_batch.bin']}\`, checked before use).
This is far too little data to train a useful network: it is for demonstrations and tests.

CIFAR-10 is by Alex Krizhevsky, Vinod Nair and Geoffrey Hinton: "Learning Multiple Layers of
Features from Tiny Images", Alex Krizhevsky, 2009 (https://www.cs.toronto.edu/~kriz/cifar.html).
`;
}

async function main(): Promise<void> {
  const train = firstPerClass(await readChecked('data_batch_1.bin'), 50);
  const test = firstPerClass(await readChecked('test_batch.bin'), 20);
  const trainPath = join('public', DEMO_TRAIN_PATH);
  const testPath = join('public', DEMO_TEST_PATH);
  await mkdir(join('public', 'demo'), { recursive: true });
  await writeFileAtomic(trainPath, train);
  await writeFileAtomic(testPath, test);
  const trainMd5 = md5HexNode(train);
  const testMd5 = md5HexNode(test);
  await writeFileAtomic(join('public', 'demo', 'README.md'), readme(trainMd5, testMd5));
  process.stderr.write(
    `wrote ${trainPath} (${train.length} bytes, MD5 ${trainMd5}) and ${testPath} (${test.length} bytes, MD5 ${testMd5})\n`,
  );
}

const invoked = process.argv[1] ?? '';
if (invoked.endsWith('make-demo-sample.ts')) {
  main().catch((err: unknown) => {
    process.stderr.write(`make-demo-sample: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
