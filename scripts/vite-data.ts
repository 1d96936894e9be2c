// Vite build plugin: puts the lab's compact copy of CIFAR-10 (src/data/cifar-png.ts: six PNGs and a
// labels file) into dist/data/cifar-10-png/ whenever public/data/cifar-10-batches-bin has the six
// official .bin files, so that a deployed site trains on the full data. LAB_NO_DATA=1 (or
// `npm run build:nodata`) builds without it. The encoded copy is kept in
// node_modules/.cache/resnet-lab-data/, keyed by the sources' MD5s and the format, so only the first
// build encodes. Not the dev server's or the preview's data: they serve public/data as it is.

import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { deflateSync } from 'node:zlib';
import type { Plugin } from 'vite';
import { CIFAR_BIN_FILES, CIFAR_DIR_NAME, CIFAR_MD5 } from '../src/data/cifar.ts';
import {
  CIFAR_PNG_DIR,
  CIFAR_PNG_LABELS,
  CIFAR_PNG_LABELS_BYTES,
  cifarPngName,
  decodeCifarPng,
  encodeCifarPng,
} from '../src/data/cifar-png.ts';

/** Names the encoding: a change here (layout, filters, zlib settings) makes a new cache entry. */
const FORMAT = 'cifar-png/1 rgb-32-wide best-row-filter zlib-9';
const ZLIB = { level: 9, memLevel: 9 } as const;

export const NO_DATA_ENV = 'LAB_NO_DATA';

export interface CompactCopy {
  /** The folder holding the copy's files (in the cache). */
  dir: string;
  files: string[];
  /** True when it was encoded now, false when it came from the cache. */
  encoded: boolean;
}

const md5File = (path: string) => createHash('md5').update(readFileSync(path)).digest('hex');

/**
 * The compact copy of the .bin files in `binDir`, from `cacheRoot` or encoded into it (each file
 * decoded again and MD5-checked before it is kept); undefined when `binDir` lacks any of the six.
 * Throws when a .bin file is not the official one.
 */
export async function compactCifarCopy(binDir: string, cacheRoot: string): Promise<CompactCopy | undefined> {
  const bins = CIFAR_BIN_FILES.map((name) => join(binDir, name));
  if (!bins.every((p) => existsSync(p))) return undefined;
  const md5s = bins.map(md5File);
  for (const [i, name] of CIFAR_BIN_FILES.entries()) {
    if (md5s[i] !== CIFAR_MD5[name]) {
      throw new Error(
        `${bins[i]} has MD5 ${md5s[i]}, not the official ${CIFAR_MD5[name]}: run \`npm run data\` again, or build with ${NO_DATA_ENV}=1.`,
      );
    }
  }
  const key = createHash('md5')
    .update([FORMAT, ...md5s].join('\n'))
    .digest('hex');
  const dir = join(cacheRoot, key);
  const files = [...CIFAR_BIN_FILES.map(cifarPngName), CIFAR_PNG_LABELS];
  if (files.every((f) => existsSync(join(dir, f)))) return { dir, files, encoded: false };

  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const labels = new Uint8Array(CIFAR_PNG_LABELS_BYTES);
  for (const [i, name] of CIFAR_BIN_FILES.entries()) {
    const bin = readFileSync(bins[i]!);
    const encoded = encodeCifarPng(bin, (d) => deflateSync(d, ZLIB));
    await decodeCifarPng(name, cifarPngName(name), encoded.png, encoded.labels); // throws unless it gives the official bytes
    labels.set(encoded.labels, i * encoded.labels.length);
    writeFileSync(join(tmp, cifarPngName(name)), encoded.png);
  }
  writeFileSync(join(tmp, CIFAR_PNG_LABELS), labels);
  // Older entries (another format) are of no further use; another build's work in progress is left alone.
  for (const old of readdirSync(cacheRoot)) {
    if (!old.includes('.tmp-')) rmSync(join(cacheRoot, old), { recursive: true, force: true });
  }
  renameSync(tmp, dir);
  return { dir, files, encoded: true };
}

/** The build step: dist/data/cifar-10-png/ from public/data, unless LAB_NO_DATA is set. */
export function cifarDataCopy(options: { publicDir: string; cacheRoot?: string }): Plugin {
  let outDir = 'dist';
  let root = process.cwd();
  let info: (msg: string) => void = console.log;
  let warn: (msg: string) => void = console.warn;
  return {
    name: 'resnet-lab:cifar-data-copy',
    apply: 'build',
    configResolved(config) {
      root = config.root;
      outDir = resolve(config.root, config.build.outDir);
      info = (msg) => config.logger.info(msg);
      warn = (msg) => config.logger.warn(msg);
    },
    async writeBundle() {
      const flag = process.env[NO_DATA_ENV];
      if (flag && flag !== '0') return info(`CIFAR-10: left out of the build (${NO_DATA_ENV}=${flag}).`);
      const binDir = join(options.publicDir, 'data', CIFAR_DIR_NAME);
      const started = Date.now();
      const copy = await compactCifarCopy(binDir, options.cacheRoot ?? join(root, 'node_modules', '.cache', 'resnet-lab-data'));
      if (!copy) return warn(`CIFAR-10: not in ${binDir} (run \`npm run data\`), so the build has only the demo sample.`);
      const target = join(outDir, 'data', CIFAR_PNG_DIR);
      mkdirSync(target, { recursive: true });
      let bytes = 0;
      for (const f of copy.files) {
        cpSync(join(copy.dir, f), join(target, f));
        bytes += statSync(join(copy.dir, f)).size;
      }
      const how = copy.encoded ? `encoded in ${((Date.now() - started) / 1000).toFixed(1)} s` : 'from the cache';
      info(`CIFAR-10: ${copy.files.length} files, ${bytes.toLocaleString('en-US')} bytes in ${target} (${how}).`);
    },
  };
}
