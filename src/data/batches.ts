// Training and test batches as tfjs wants them: x Float32Array [B, 32, 32, 3] (NHWC), y Int32Array
// [B]. The training sampler is a resumable stream: its whole state (random generator, position in the
// current permutation) is a small JSON-safe object. An epoch is n (= 50,000) images and batches are
// always full (docs/protocols.md §3.2, §3.7):
//   'shuffle' (paper, neon): a fresh permutation each epoch; a batch that reaches its end is completed
//       from the next one (as neon's loader wraps), so epochs are 390 or 391 batches of 128.
//   'with-replacement' (gcr): every image drawn uniformly from the whole set.
// In both, `epochDone` is true on the batch during which images seen crosses a multiple of n.

import { rngFromState, type Rng } from '../util/rng.ts';
import type { CifarSplit } from './cifar.ts';
import { augmentImage, drawAugment, fillFor, newAugmentScratch, type AugmentParams, type AugmentScratch } from './augment.ts';
import type { DataProtocol } from '../experiment/protocols.ts';
import { makeNormalizer, normalizeImage, type DataStats, type Normalizer } from './preprocess.ts';

export { computeStats, type DataStats } from './preprocess.ts';

export const IMAGE_FLOATS = 32 * 32 * 3;

export interface BatchBuffers {
  /** At least B * 3072 floats. */
  x: Float32Array;
  /** At least B ints. */
  y: Int32Array;
}

export interface TrainBatch {
  /** [B, 32, 32, 3], exactly B * 3072 long (a view when buffers were passed in). */
  x: Float32Array;
  /** [B] labels 0..9. */
  y: Int32Array;
  /** Images in the batch (B). */
  n: number;
  /** Images drawn so far, this batch included. */
  imagesSeen: number;
  /** Whole epochs completed after this batch: floor(imagesSeen / n). */
  epoch: number;
  /** True when this batch completed an epoch. */
  epochDone: boolean;
}

/** Everything needed to continue a sampler bit-exactly. JSON-safe. */
export interface SamplerState {
  version: 1;
  sampling: DataProtocol['sampling'];
  /** Size of the split it ran over (restoring onto another split is refused). */
  splitSize: number;
  imagesSeen: number;
  /** The generator's state now. */
  rng: number[];
  /** 'shuffle': the generator's state when the current permutation was drawn; null before the first. */
  permRng: number[] | null;
  /** 'shuffle': next position in the current permutation. */
  permPos: number;
}

/** Buffers for batches of up to n images, to pass to next() or testBatches() again and again. */
export function newBatchBuffers(n: number): BatchBuffers {
  return { x: new Float32Array(n * IMAGE_FLOATS), y: new Int32Array(n) };
}

function checkBuffers(out: BatchBuffers, n: number): void {
  if (out.x.length < n * IMAGE_FLOATS || out.y.length < n) {
    throw new RangeError(
      `batch buffers too small for ${n} images: x has ${out.x.length} floats (needs ${n * IMAGE_FLOATS}), y has ${out.y.length}`,
    );
  }
}

export class BatchSampler {
  private readonly split: CifarSplit;
  private readonly protocol: DataProtocol;
  private readonly norm: Normalizer;
  private readonly fill: 'zero' | 'neon-mean';
  private readonly rng: Rng;
  private readonly scratch: AugmentScratch = newAugmentScratch();
  private readonly aug: AugmentParams = { dx: 0, dy: 0, flip: false };
  private perm: Uint32Array | null = null;
  private permRng: number[] | null = null;
  private permPos = 0;
  private seen = 0;

  /** `rng` is used (and advanced) by this sampler only; pass a generator of its own. */
  constructor(split: CifarSplit, stats: DataStats, protocol: DataProtocol, rng: Rng) {
    if (split.n <= 0) throw new RangeError('BatchSampler: the split is empty');
    this.split = split;
    this.protocol = protocol;
    this.norm = makeNormalizer(stats, protocol.preprocess);
    this.fill = fillFor(protocol.augment);
    this.rng = rng;
  }

  /** Batches per epoch, rounded up: ceil(n / batchSize) (391 for 50,000 at 128). */
  stepsPerEpoch(batchSize: number): number {
    return Math.ceil(this.split.n / batchSize);
  }

  get imagesSeen(): number {
    return this.seen;
  }

  /** Epochs done, fractional. */
  get epochFloat(): number {
    return this.seen / this.split.n;
  }

  private newPermutation(): void {
    const n = this.split.n;
    this.permRng = this.rng.getState();
    this.perm = shuffledIndices(n, this.rng, this.perm ?? undefined);
    this.permPos = 0;
  }

  private nextIndex(): number {
    if (this.protocol.sampling === 'with-replacement') return this.rng.nextInt(this.split.n);
    if (this.perm === null || this.permPos >= this.split.n) this.newPermutation();
    return this.perm![this.permPos++]!;
  }

  /**
   * The next training batch of `batchSize` images, augmented per the protocol. Writes into `out`
   * when given (and returns views of it); otherwise into new arrays. tfjs backends may keep a
   * reference to the array a tensor was made from, so reuse buffers only once that tensor is gone.
   */
  next(batchSize: number, out?: BatchBuffers): TrainBatch {
    if (!Number.isInteger(batchSize) || batchSize <= 0)
      throw new RangeError(`BatchSampler.next: batch size must be a positive integer, got ${batchSize}`);
    const buf = out ?? newBatchBuffers(batchSize);
    checkBuffers(buf, batchSize);
    const augmenting = this.protocol.augment !== 'none' || this.protocol.flip;
    for (let b = 0; b < batchSize; b++) {
      const index = this.nextIndex();
      buf.y[b] = this.split.labels[index]!;
      if (augmenting) {
        drawAugment(this.protocol, this.rng, this.aug);
        augmentImage(this.split, index, this.norm, this.aug, this.fill, buf.x, b * IMAGE_FLOATS, this.scratch);
      } else {
        normalizeImage(this.split, index, this.norm, buf.x, b * IMAGE_FLOATS);
      }
    }
    const before = Math.floor(this.seen / this.split.n);
    this.seen += batchSize;
    const epoch = Math.floor(this.seen / this.split.n);
    return {
      x: buf.x.length === batchSize * IMAGE_FLOATS ? buf.x : buf.x.subarray(0, batchSize * IMAGE_FLOATS),
      y: buf.y.length === batchSize ? buf.y : buf.y.subarray(0, batchSize),
      n: batchSize,
      imagesSeen: this.seen,
      epoch,
      epochDone: epoch > before,
    };
  }

  getState(): SamplerState {
    return {
      version: 1,
      sampling: this.protocol.sampling,
      splitSize: this.split.n,
      imagesSeen: this.seen,
      rng: this.rng.getState(),
      permRng: this.permRng === null ? null : [...this.permRng],
      permPos: this.permPos,
    };
  }

  /** Continues from a getState() snapshot (taken from a sampler over the same split and protocol). */
  setState(state: SamplerState): void {
    if (state.version !== 1) throw new Error(`BatchSampler.setState: unknown state version ${String(state.version)}`);
    if (state.splitSize !== this.split.n) {
      throw new Error(`BatchSampler.setState: the state is for a split of ${state.splitSize} images, this one has ${this.split.n}`);
    }
    if (state.sampling !== this.protocol.sampling) {
      throw new Error(
        `BatchSampler.setState: the state is for '${state.sampling}' sampling, this sampler uses '${this.protocol.sampling}'`,
      );
    }
    if (!(
      Number.isInteger(state.permPos) &&
      state.permPos >= 0 &&
      state.permPos <= this.split.n &&
      Number.isInteger(state.imagesSeen) &&
      state.imagesSeen >= 0
    )) {
      throw new Error('BatchSampler.setState: malformed state (permPos / imagesSeen)');
    }
    this.rng.setState(state.rng);
    this.seen = state.imagesSeen;
    if (state.permRng === null) {
      this.perm = null;
      this.permRng = null;
      this.permPos = 0;
    } else {
      this.permRng = [...state.permRng];
      this.perm = shuffledIndices(this.split.n, rngFromState(state.permRng), this.perm ?? undefined);
      this.permPos = state.permPos;
    }
  }
}

/** A uniformly random permutation of 0..n-1 (Fisher-Yates), drawing n-1 numbers from rng. */
export function shuffledIndices(n: number, rng: Rng, out?: Uint32Array): Uint32Array {
  const p = out && out.length === n ? out : new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

export interface TestBatch {
  /** [n, 32, 32, 3]. */
  x: Float32Array;
  /** [n]. */
  y: Int32Array;
  /** Images in this batch (the last one may be smaller). */
  n: number;
  /** Index of its first image in the split. */
  start: number;
}

/**
 * The first `total` images of a split, in order, normalised per the protocol and never augmented
 * (neon's test crop is the centre one, which is the original image). Each batch gets new arrays
 * unless `out` (sized for batchSize) is given.
 */
export function* testBatches(
  split: CifarSplit,
  stats: DataStats,
  protocol: DataProtocol,
  batchSize: number,
  total: number = split.n,
  out?: BatchBuffers,
): Generator<TestBatch> {
  if (!Number.isInteger(batchSize) || batchSize <= 0)
    throw new RangeError(`testBatches: batch size must be a positive integer, got ${batchSize}`);
  const norm = makeNormalizer(stats, protocol.preprocess);
  const end = Math.min(total, split.n);
  for (let start = 0; start < end; start += batchSize) {
    const n = Math.min(batchSize, end - start);
    const buf = out ?? newBatchBuffers(n);
    checkBuffers(buf, n);
    for (let b = 0; b < n; b++) {
      buf.y[b] = split.labels[start + b]!;
      normalizeImage(split, start + b, norm, buf.x, b * IMAGE_FLOATS);
    }
    yield {
      x: buf.x.length === n * IMAGE_FLOATS ? buf.x : buf.x.subarray(0, n * IMAGE_FLOATS),
      y: buf.y.length === n ? buf.y : buf.y.subarray(0, n),
      n,
      start,
    };
  }
}
