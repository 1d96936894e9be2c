// Regenerates src/model/golden.fixture.json: exports a seeded ResNet-8 (gcr protocol) as .safetensors,
// asks PyTorch (scripts/golden/torch_golden.py, Debian's python3-torch) for the golden numbers, and
// saves them. Run: npx tsx scripts/golden/make-golden.ts  (only when the model or solver changes on purpose).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/setup.ts';
import { ResNet } from '../../src/model/resnet.ts';
import { encodeSafetensors, readModelValues } from '../../src/model/weights.ts';
import { modelSpec } from '../../src/train/experiment.ts';
import { GOLDEN } from '../../src/model/golden.ts';

await initBackend('cpu');
const spec = modelSpec({ protocol: 'gcr', depth: GOLDEN.depth, block: 'relu-bnbefore', shortcut: 'A' });
const model = ResNet.create(spec, GOLDEN.seed);
const dir = mkdtempSync(join(tmpdir(), 'golden-'));
const file = join(dir, 'golden.safetensors');
writeFileSync(file, encodeSafetensors(spec, { config: GOLDEN.config, steps: 0, values: await readModelValues(model) }));
const out = execFileSync(
  '/usr/bin/python3',
  ['scripts/golden/torch_golden.py', file, String(GOLDEN.depth), String(GOLDEN.batch), String(GOLDEN.lr)],
  {
    encoding: 'utf8',
  },
);
writeFileSync('src/model/golden.fixture.json', `${JSON.stringify(JSON.parse(out))}\n`);
console.error('wrote src/model/golden.fixture.json');
