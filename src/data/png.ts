// A minimal PNG codec for 8-bit greyscale and RGB images, no interlace: what the lab's compact copy of
// CIFAR-10 needs (src/data/cifar-png.ts), not a general PNG library (no palettes, alpha, 16-bit,
// ancillary chunks). The zlib stream is left to the caller's `deflate` when encoding (Node's zlib at
// build time) and to DecompressionStream('deflate') when decoding (browsers, workers and Node alike).
// Every chunk's CRC is checked; errors are PngError with the file's name and what is wrong.

export class PngError extends Error {
  override readonly name = 'PngError';
  constructor(
    readonly fileName: string,
    problem: string,
  ) {
    super(`${fileName} is not a valid PNG of the lab's CIFAR-10 copy: ${problem}`);
  }
}

export interface PngImage {
  width: number;
  height: number;
  /** 1 (greyscale) or 3 (RGB), 8 bits each. */
  channels: 1 | 3;
  /** Rows top to bottom, (height, width, channels) bytes. */
  pixels: Uint8Array;
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const COLOR_TYPE = { 1: 0, 3: 2 } as const;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of PNG (and zip, gzip) over bytes[start, end). */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Filters one row with filter type `type` (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth) into out[1..]
 * (out[0] = type). `prev` is the unfiltered row above (zeros for the first row), bpp bytes a pixel.
 */
function filterRow(type: number, row: Uint8Array, prev: Uint8Array, bpp: number, out: Uint8Array): void {
  out[0] = type;
  for (let i = 0; i < row.length; i++) {
    const x = row[i]!;
    const a = i >= bpp ? row[i - bpp]! : 0;
    const b = prev[i]!;
    const c = i >= bpp ? prev[i - bpp]! : 0;
    const pred = type === 0 ? 0 : type === 1 ? a : type === 2 ? b : type === 3 ? (a + b) >> 1 : paeth(a, b, c);
    out[i + 1] = (x - pred) & 0xff;
  }
}

/** The usual heuristic for choosing a row's filter: the smallest sum of |byte| read as signed. */
function rowCost(filtered: Uint8Array): number {
  let s = 0;
  for (let i = 1; i < filtered.length; i++) {
    const v = filtered[i]!;
    s += v < 128 ? v : 256 - v;
  }
  return s;
}

/** Filters every row with the filter of least cost (rowCost), giving PNG's uncompressed IDAT data. */
export function filterImage(image: PngImage): Uint8Array {
  const stride = image.width * image.channels;
  const out = new Uint8Array(image.height * (stride + 1));
  const zero = new Uint8Array(stride);
  const trial = Array.from({ length: 5 }, () => new Uint8Array(stride + 1));
  for (let y = 0; y < image.height; y++) {
    const row = image.pixels.subarray(y * stride, (y + 1) * stride);
    const prev = y === 0 ? zero : image.pixels.subarray((y - 1) * stride, y * stride);
    let best = 0;
    let bestCost = Infinity;
    for (let type = 0; type < 5; type++) {
      filterRow(type, row, prev, image.channels, trial[type]!);
      const cost = rowCost(trial[type]!);
      if (cost < bestCost) [best, bestCost] = [type, cost];
    }
    out.set(trial[best]!, y * (stride + 1));
  }
  return out;
}

/** Reverses filterImage in place over `data` (height rows of 1 + stride bytes); returns the pixels. */
export function unfilterImage(fileName: string, data: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  const stride = width * channels;
  const bpp = channels;
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const type = data[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const at = y * stride;
    const up = at - stride; // the row above in `pixels`; y = 0 reads zeros
    switch (type) {
      case 0:
        pixels.set(data.subarray(src, src + stride), at);
        break;
      case 1:
        for (let i = 0; i < stride; i++) pixels[at + i] = data[src + i]! + (i >= bpp ? pixels[at + i - bpp]! : 0);
        break;
      case 2:
        if (y === 0) pixels.set(data.subarray(src, src + stride), at);
        else for (let i = 0; i < stride; i++) pixels[at + i] = data[src + i]! + pixels[up + i]!;
        break;
      case 3:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? pixels[at + i - bpp]! : 0;
          const b = y > 0 ? pixels[up + i]! : 0;
          pixels[at + i] = data[src + i]! + ((a + b) >> 1);
        }
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? pixels[at + i - bpp]! : 0;
          const b = y > 0 ? pixels[up + i]! : 0;
          const c = y > 0 && i >= bpp ? pixels[up + i - bpp]! : 0;
          pixels[at + i] = data[src + i]! + paeth(a, b, c);
        }
        break;
      default:
        throw new PngError(fileName, `row ${y} has filter type ${type} (PNG has 0-4).`);
    }
  }
  return pixels;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Encodes a PNG; `deflate` makes a zlib stream (RFC 1950) of the filtered rows. */
export function encodePng(image: PngImage, deflate: (data: Uint8Array) => Uint8Array): Uint8Array {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, image.width);
  view.setUint32(4, image.height);
  ihdr.set([8, COLOR_TYPE[image.channels], 0, 0, 0], 8);
  return concat([
    new Uint8Array(SIGNATURE),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflate(filterImage(image))),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** Inflates a zlib stream (RFC 1950) with the platform's DecompressionStream; `size` bytes expected. */
async function inflate(fileName: string, parts: readonly Uint8Array[], size: number): Promise<Uint8Array> {
  const stream = new Blob([...parts] as BlobPart[]).stream().pipeThrough(new DecompressionStream('deflate'));
  const out = new Uint8Array(size);
  let at = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (at + value.length > size)
        throw new PngError(fileName, `its image data inflates to more than the ${size} bytes its header implies.`);
      out.set(value, at);
      at += value.length;
    }
  } catch (e) {
    if (e instanceof PngError) throw e;
    throw new PngError(fileName, `its compressed image data is damaged (${e instanceof Error ? e.message : String(e)}).`);
  }
  if (at !== size) throw new PngError(fileName, `its image data inflates to ${at} bytes, its header implies ${size}.`);
  return out;
}

/** Decodes an 8-bit greyscale or RGB PNG without interlace, checking every chunk's CRC. */
export async function decodePng(fileName: string, png: Uint8Array): Promise<PngImage> {
  if (png.length < 8 || SIGNATURE.some((b, i) => png[i] !== b)) throw new PngError(fileName, 'it does not start with the PNG signature.');
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let at = 8;
  let header: { width: number; height: number; channels: 1 | 3 } | undefined;
  const idat: Uint8Array[] = [];
  for (;;) {
    if (at + 12 > png.length) throw new PngError(fileName, `it ends at byte ${png.length} before its IEND chunk (cut short?).`);
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const end = at + 8 + length;
    if (end + 4 > png.length) throw new PngError(fileName, `its ${type} chunk at byte ${at} runs past the end of the file (cut short?).`);
    if (crc32(png, at + 4, end) !== view.getUint32(end))
      throw new PngError(fileName, `its ${type} chunk at byte ${at} fails its CRC check (the file is damaged).`);
    const data = png.subarray(at + 8, end);
    if (type === 'IHDR') {
      const d = new DataView(data.buffer, data.byteOffset, data.byteLength);
      const channels = data[9] === 0 ? 1 : data[9] === 2 ? 3 : 0;
      if (length !== 13 || data[8] !== 8 || channels === 0 || data[12] !== 0) {
        throw new PngError(fileName, 'its header is not 8-bit greyscale or RGB without interlace.');
      }
      header = { width: d.getUint32(0), height: d.getUint32(4), channels };
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    at = end + 4;
  }
  if (!header) throw new PngError(fileName, 'it has no IHDR chunk.');
  if (idat.length === 0) throw new PngError(fileName, 'it has no image data (IDAT).');
  const { width, height, channels } = header;
  const filtered = await inflate(fileName, idat, height * (1 + width * channels));
  return { width, height, channels, pixels: unfilterImage(fileName, filtered, width, height, channels) };
}
