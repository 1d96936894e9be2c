// The lab's compact, lossless copy of CIFAR-10 for a deployed site: each official .bin file as one RGB
// PNG, 32 pixels wide, its 10,000 images stacked top to bottom in record order (so PNG's Up and Paeth
// filters predict from the same image), plus one labels file (10,000 bytes per .bin file, in
// CIFAR_BIN_FILES order). `npm run build` writes it (scripts/vite-data.ts); the worker decodes it back
// into the official .bin bytes and checks their MD5. Not a reader of other PNG copies of CIFAR-10.

import { CIFAR_BIN_FILES, CIFAR_MD5, IMAGE_BYTES, IMAGE_SIZE, RECORD_BYTES, RECORDS_PER_FILE, md5Hex, type CifarBinName } from './cifar.ts';
import { CifarDataError } from './errors.ts';
import { PngError, decodePng, encodePng } from './png.ts';

/** The copy's folder under the site's data/ (dist/data/cifar-10-png/). */
export const CIFAR_PNG_DIR = 'cifar-10-png';
export const CIFAR_PNG_LABELS = 'labels.bin';
export const CIFAR_PNG_LABELS_BYTES = CIFAR_BIN_FILES.length * RECORDS_PER_FILE;

/** "data_batch_1.bin" -> "data_batch_1.png". */
export function cifarPngName(bin: CifarBinName): string {
  return bin.replace(/\.bin$/, '.png');
}

const PIXELS = IMAGE_SIZE * IMAGE_SIZE; // 1024 pixels an image; a record holds its R, G, B planes in turn

/** What to do when the deployed copy does not decode to the official file. */
export const DEPLOYED_COPY_REMEDY =
  "Reload the page to fetch it again; if this persists, the site's copy is damaged: rebuild it with `npm run build` after `npm run data`.";

/** One official .bin file (10,000 records) -> its PNG and its 10,000 labels. */
export function encodeCifarPng(bin: Uint8Array, deflate: (data: Uint8Array) => Uint8Array): { png: Uint8Array; labels: Uint8Array } {
  const n = bin.length / RECORD_BYTES;
  if (!Number.isInteger(n)) throw new Error(`encodeCifarPng: ${bin.length} bytes is not a whole number of records`);
  const labels = new Uint8Array(n);
  const pixels = new Uint8Array(n * IMAGE_BYTES); // (n * 32 rows, 32 columns, RGB)
  for (let i = 0; i < n; i++) {
    const rec = i * RECORD_BYTES;
    labels[i] = bin[rec]!;
    const out = i * IMAGE_BYTES;
    for (let p = 0; p < PIXELS; p++) {
      pixels[out + 3 * p] = bin[rec + 1 + p]!;
      pixels[out + 3 * p + 1] = bin[rec + 1 + PIXELS + p]!;
      pixels[out + 3 * p + 2] = bin[rec + 1 + 2 * PIXELS + p]!;
    }
  }
  return { png: encodePng({ width: IMAGE_SIZE, height: n * IMAGE_SIZE, channels: 3, pixels }, deflate), labels };
}

/**
 * Decodes one file of the copy back into the official .bin bytes and checks their MD5 against
 * CIFAR_MD5. `labels` are that file's 10,000 labels; `source` names the PNG in errors (e.g. its URL
 * path). Throws CifarDataError ('corrupt', 'wrong-size' or 'checksum') naming the file.
 */
export async function decodeCifarPng(bin: CifarBinName, source: string, png: Uint8Array, labels: Uint8Array): Promise<Uint8Array> {
  let image;
  try {
    image = await decodePng(source, png);
  } catch (e) {
    if (e instanceof PngError) throw new CifarDataError('corrupt', source, e.message, DEPLOYED_COPY_REMEDY);
    throw e;
  }
  const n = RECORDS_PER_FILE;
  if (image.width !== IMAGE_SIZE || image.channels !== 3 || image.height !== n * IMAGE_SIZE || labels.length !== n) {
    throw new CifarDataError(
      'wrong-size',
      source,
      `${source} is a ${image.width}x${image.height} ${image.channels === 3 ? 'RGB' : 'greyscale'} PNG with ${labels.length} labels; the lab's copy of ${bin} is a ${IMAGE_SIZE}x${n * IMAGE_SIZE} RGB PNG with ${n}.`,
      DEPLOYED_COPY_REMEDY,
    );
  }
  const px = image.pixels;
  const out = new Uint8Array(n * RECORD_BYTES);
  for (let i = 0; i < n; i++) {
    const rec = i * RECORD_BYTES;
    const src = i * IMAGE_BYTES;
    out[rec] = labels[i]!;
    for (let p = 0; p < PIXELS; p++) {
      out[rec + 1 + p] = px[src + 3 * p]!;
      out[rec + 1 + PIXELS + p] = px[src + 3 * p + 1]!;
      out[rec + 1 + 2 * PIXELS + p] = px[src + 3 * p + 2]!;
    }
  }
  const actual = md5Hex(out);
  if (actual !== CIFAR_MD5[bin]) {
    throw new CifarDataError(
      'checksum',
      bin,
      `${bin} decoded from ${source} has the wrong checksum: MD5 ${actual}, the official file's is ${CIFAR_MD5[bin]}.`,
      DEPLOYED_COPY_REMEDY,
    );
  }
  return out;
}

/** The labels of `bin` within the copy's labels file. */
export function cifarPngLabels(all: Uint8Array, bin: CifarBinName): Uint8Array {
  if (all.length !== CIFAR_PNG_LABELS_BYTES) {
    throw new CifarDataError(
      'wrong-size',
      CIFAR_PNG_LABELS,
      `${CIFAR_PNG_LABELS} is ${all.length} bytes; the lab's copy has ${CIFAR_PNG_LABELS_BYTES} (10,000 labels for each of the six files).`,
      DEPLOYED_COPY_REMEDY,
    );
  }
  const i = CIFAR_BIN_FILES.indexOf(bin);
  return all.subarray(i * RECORDS_PER_FILE, (i + 1) * RECORDS_PER_FILE);
}
