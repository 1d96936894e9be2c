// Seedable pseudo-random numbers for everything in a run that must be reproducible and resumable:
// data order, augmentation, weight initialisation. sfc32 (Chris Doty-Humphrey's "small fast
// counting" generator, 128-bit state, passes PractRand) seeded through splitmix32. Not for
// cryptography. The whole state is a short number[] so a checkpoint can store it and resume
// bit-exactly (including a cached second Box-Muller normal).

export interface Rng {
  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number;
  /** Uniform float in [0, 1) with 32 bits of resolution. */
  nextFloat(): number;
  /** Uniform integer in [0, n), n a positive integer <= 2^32; unbiased (rejection sampling). */
  nextInt(n: number): number;
  /** Standard normal N(0, 1) (Box-Muller; the second value is cached and is part of the state). */
  nextNormal(): number;
  /** Snapshot: [a, b, c, d, hasSpare (0|1), spare]. Plain numbers, JSON-safe. */
  getState(): number[];
  /** Restores a snapshot taken with getState(); throws on a malformed one. */
  setState(state: readonly number[]): void;
}

const TWO_POW_32 = 4294967296;

/** splitmix32 step, used only to spread a seed over the 128-bit state. */
function splitmix32(x: number): [next: number, out: number] {
  const next = (x + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  z ^= z >>> 15;
  return [next, z >>> 0];
}

class Sfc32 implements Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  private hasSpare = false;
  private spare = 0;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`createRng: seed must be a finite number, got ${seed}`);
    // Mix both halves of a seed beyond 32 bits so 2^32 + k and k differ.
    let s = (seed >>> 0) ^ Math.imul(Math.floor(seed / TWO_POW_32) | 0, 0x85ebca6b);
    let out: number;
    [s, out] = splitmix32(s);
    this.a = out;
    [s, out] = splitmix32(s);
    this.b = out;
    [s, out] = splitmix32(s);
    this.c = out;
    this.d = 1; // counter
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  nextFloat(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  nextInt(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) {
      throw new RangeError(`nextInt: n must be an integer in [1, 2^32], got ${n}`);
    }
    // Reject the top partial block so every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  nextNormal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    const u1 = 1 - this.nextFloat(); // (0, 1]: log is finite
    const u2 = this.nextFloat();
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    this.spare = r * Math.sin(theta);
    this.hasSpare = true;
    return r * Math.cos(theta);
  }

  getState(): number[] {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0, this.hasSpare ? 1 : 0, this.spare];
  }

  setState(state: readonly number[]): void {
    if (
      !Array.isArray(state) ||
      state.length !== 6 ||
      !state.slice(0, 4).every((v) => Number.isInteger(v) && v >= 0 && v < TWO_POW_32) ||
      (state[4] !== 0 && state[4] !== 1) ||
      !Number.isFinite(state[5])
    ) {
      throw new RangeError(`Rng.setState: expected [a, b, c, d, hasSpare, spare] from getState(), got ${JSON.stringify(state)}`);
    }
    this.a = state[0] | 0;
    this.b = state[1] | 0;
    this.c = state[2] | 0;
    this.d = state[3] | 0;
    this.hasSpare = state[4] === 1;
    this.spare = state[5];
  }
}

/** A new generator; the same seed always gives the same sequence. */
export function createRng(seed: number): Rng {
  return new Sfc32(seed);
}

/** A generator continuing from a saved getState() snapshot. */
export function rngFromState(state: readonly number[]): Rng {
  const rng = new Sfc32(0);
  rng.setState(state);
  return rng;
}
