// The fixed case of the golden test against PyTorch (src/model/golden.test.ts,
// scripts/golden/make-golden.ts): a seeded ResNet-8 in the gcr protocol and a formula-made batch.

export const GOLDEN = {
  depth: 8,
  seed: 1,
  batch: 4,
  lr: 0.1,
  config: 'protocol=gcr&depth=8&seed=1',
} as const;

/** NHWC float32 batch and labels i % 10; the same formula as golden_input() in torch_golden.py. */
export function makeGoldenInput(n: number): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(n * 32 * 32 * 3);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37) + 0.5 * Math.cos(i * 0.011);
  const y = new Int32Array(n).map((_, i) => i % 10);
  return { x, y };
}
