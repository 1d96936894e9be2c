// The bench's depth decomposition (report.ts depthFit) against hand computations.

import { describe, expect, it } from 'vitest';
import { convMacsPerImage, depthFit, HAND_KEPT_HEADING, resultsFile } from './report.ts';

describe('depthFit', () => {
  it('recovers a fixed cost and a cost per multiply-add from two depths', () => {
    // By hand: ResNet-20 does 40,551,040 convolution multiply-adds per image, ResNet-110 252,887,680;
    // at batch 128 that is 5.19053312 and 32.36962304 G. With 40 ms fixed and 50 ms per G:
    // 40 + 259.526656 = 299.526656 ms and 40 + 1618.481152 = 1658.481152 ms.
    expect(convMacsPerImage(20)).toBe(40_551_040);
    expect(convMacsPerImage(110)).toBe(252_887_680);
    const fit = depthFit({ depth: 20, ms: 299.526656 }, { depth: 110, ms: 1658.481152 }, 128, 5.5);
    expect(fit.fixedMs).toBeCloseTo(40, 6);
    expect(fit.msPerGmac).toBeCloseTo(50, 6);
    expect(fit.fixedShare).toBeCloseTo(40 / 299.526656, 9);
  });

  it('gives the fixed share at which the ratio is exactly the target', () => {
    // q = 252887680 / 40551040 = 6.2362810; F = (q - 5.5) / 4.5 = 0.1636180 of the work cost;
    // share F / (F + 1) = 0.1406114.
    const { needed } = depthFit({ depth: 20, ms: 300 }, { depth: 110, ms: 1650 }, 128, 5.5);
    expect(needed).toBeCloseTo(0.1406114, 6);
    // A step of which that share is fixed: the deep step is 5.5 times it.
    const shallowMs = 300;
    const fixed = needed * shallowMs;
    const deepMs = fixed + (shallowMs - fixed) * (convMacsPerImage(110) / convMacsPerImage(20));
    expect(deepMs / shallowMs).toBeCloseTo(5.5, 9);
    expect(depthFit({ depth: 20, ms: shallowMs }, { depth: 110, ms: deepMs }, 128, 5.5).fixedShare).toBeCloseTo(needed, 9);
  });

  it('a step proportional to the work has no fixed cost and the work ratio, 6.24', () => {
    const w = 0.05; // ms per image-multiply-add unit, any
    const fit = depthFit({ depth: 20, ms: w * 40_551_040 }, { depth: 110, ms: w * 252_887_680 }, 1, 5.5);
    expect(fit.fixedMs).toBeCloseTo(0, 6);
    expect(252_887_680 / 40_551_040).toBeCloseTo(6.24, 2);
  });
});

describe('resultsFile', () => {
  const tables = '| a | b |\n| --- | --- |\n| 1 | 2 |';
  it('keeps the hand-written part of the file it replaces, from its heading on', () => {
    const previous = `# Bench results\n\nold tables\n\n${HAND_KEPT_HEADING}\n\nWhy the numbers move.\n`;
    expect(resultsFile('Bench results', tables, previous)).toBe(
      `# Bench results\n\n${tables}\n\n${HAND_KEPT_HEADING}\n\nWhy the numbers move.\n`,
    );
  });
  it('writes only the tables when there is no file or no hand-written part', () => {
    expect(resultsFile('T', tables, undefined)).toBe(`# T\n\n${tables}\n`);
    expect(resultsFile('T', tables, '# T\n\nold\n')).toBe(`# T\n\n${tables}\n`);
  });
});
