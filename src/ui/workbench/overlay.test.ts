// The overlay's curves: the loss smoothed over the whole series before decimation (so a drawn point is
// the full-series EMA at that step, whatever the number of points), and test errors in percent.
import { describe, expect, it } from 'vitest';
import { emaSmooth } from '../../state/curves.ts';
import { overlayErrors, overlayLoss } from './overlay.ts';

describe('overlay curves', () => {
  const n = 5000;
  const epoch = Float64Array.from({ length: n }, (_, i) => (i + 1) / 391);
  const loss = Float32Array.from({ length: n }, (_, i) => 2.3 * Math.exp(-i / 1500) + 0.3 * Math.sin(i * 1.7));

  it('decimates the full-series EMA, never re-smoothing the decimated points', () => {
    const full = emaSmooth(loss);
    const pts = overlayLoss({ epoch, loss }, 100);
    expect(pts.length).toBeLessThanOrEqual(101);
    expect(pts[pts.length - 1]).toEqual({ x: epoch[n - 1], y: full[n - 1] });
    for (const p of pts) {
      const i = Math.round(p.x * 391) - 1;
      expect(p.y).toBe(full[i]);
    }
    // Fewer points drawn, same values where they coincide.
    const coarse = overlayLoss({ epoch, loss }, 10);
    for (const p of coarse) expect(pts.some((q) => q.x === p.x) ? pts.find((q) => q.x === p.x)!.y : p.y).toBe(p.y);
  });

  it('leaves out diverged (non-finite) steps and draws test errors in percent', () => {
    const l = Float32Array.from([2, NaN, 1.5]);
    expect(overlayLoss({ epoch: Float64Array.from([1, 2, 3]), loss: l }).map((p) => p.x)).toEqual([1, 3]);
    expect(overlayErrors({ epoch: Float64Array.from([0, 1]), testError: Float64Array.from([0.9, 0.001]) })).toEqual([
      { x: 0, y: 90 },
      { x: 1, y: 0.5 },
    ]);
  });
});
