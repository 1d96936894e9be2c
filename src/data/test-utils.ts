// Helpers for the data layer's tests only: synthetic CIFAR records, a small tar writer, gzip, and
// whether the real data set is present. Not imported by application code.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createRng } from '../util/rng.ts';
import { BIN_FILE_BYTES, CIFAR_BIN_FILES, RECORD_BYTES, type CifarSplit } from './cifar.ts';
import { DEFAULT_CIFAR_DIR } from './node-files.ts';

/** n records with pseudo-random pixels (a cheap integer hash of position and seed); label of record i is labelOf(i) (default i % 10). */
export function syntheticRecords(n: number, seed = 1, labelOf: (i: number) => number = (i) => i % 10): Uint8Array {
  const out = new Uint8Array(n * RECORD_BYTES);
  let h = Math.imul(seed, 0x9e3779b1) | 0;
  for (let i = 0; i < out.length; i++) {
    h = (Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) + i) | 0;
    out[i] = h >>> 24;
  }
  for (let i = 0; i < n; i++) out[i * RECORD_BYTES] = labelOf(i);
  return out;
}

/** A split of n random images, labels i % 10. */
export function syntheticSplit(n: number, seed = 1): CifarSplit {
  const rng = createRng(seed);
  const images = new Uint8Array(n * 3072);
  for (let i = 0; i < images.length; i++) images[i] = rng.nextUint32() & 255;
  return { n, images, labels: Uint8Array.from({ length: n }, (_, i) => i % 10) };
}

export interface TarEntry {
  name: string;
  bytes?: Uint8Array;
  /** '0' file (default), '5' directory, 'L' GNU long name, 'x' pax header. */
  type?: string;
  /** ustar prefix field. */
  prefix?: string;
}

function writeAscii(block: Uint8Array, at: number, s: string): void {
  for (let i = 0; i < s.length; i++) block[at + i] = s.charCodeAt(i);
}

/** A tar archive (ustar headers) of the given entries, with the two zero blocks at the end. */
export function makeTar(entries: readonly TarEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = e.bytes ?? new Uint8Array(0);
    const h = new Uint8Array(512);
    writeAscii(h, 0, e.name.slice(0, 100));
    writeAscii(h, 100, '0000644\0');
    writeAscii(h, 108, '0000000\0');
    writeAscii(h, 116, '0000000\0');
    writeAscii(h, 124, `${data.length.toString(8).padStart(11, '0')}\0`);
    writeAscii(h, 136, '00000000000\0');
    writeAscii(h, 156, e.type ?? '0');
    writeAscii(h, 257, 'ustar\0');
    writeAscii(h, 263, '00');
    if (e.prefix) writeAscii(h, 345, e.prefix);
    writeAscii(h, 148, '        ');
    let sum = 0;
    for (const b of h) sum += b;
    writeAscii(h, 148, `${sum.toString(8).padStart(6, '0')}\0 `);
    parts.push(h);
    const padded = new Uint8Array(Math.ceil(data.length / 512) * 512);
    padded.set(data);
    parts.push(padded);
  }
  parts.push(new Uint8Array(1024));
  const total = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A pax extended header record "LEN path=VALUE\n". */
export function paxRecord(key: string, value: string): Uint8Array {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return new TextEncoder().encode(`${len}${body}`);
}

/** gzip through node:zlib at level 1 (fast; the reader must not care about the level). */
export function gzipFast(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(gzipSync(bytes, { level: 1 }));
}

/** gzip through the standard CompressionStream. */
export async function gzipBytes(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** True when public/data holds the six .bin files with the official sizes (MD5 not checked here). */
export function realDataPresent(dir: string = DEFAULT_CIFAR_DIR): boolean {
  return CIFAR_BIN_FILES.every((f) => {
    const p = join(dir, f);
    return existsSync(p) && statSync(p).size === BIN_FILE_BYTES;
  });
}

export const NO_DATA_NOTE = 'CIFAR-10 is not in public/data/cifar-10-batches-bin: run `npm run data` to enable this test';

/** Byte equality without vitest's slow element-by-element diff on large arrays. */
export function sameBytes(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
