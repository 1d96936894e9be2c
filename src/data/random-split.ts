// A split of n random images (labels i mod 10) from a seeded LCG: what timing a training step needs
// when the real data is not needed or not there (the page's backend measurement, `npm run bench`).
import type { CifarSplit } from './cifar.ts';

export function randomSplit(n: number, seed: number): CifarSplit {
  const images = new Uint8Array(n * 3072);
  let s = seed >>> 0;
  for (let i = 0; i < images.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    images[i] = s >>> 24;
  }
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = i % 10;
  return { n, images, labels };
}
