// Adam in PyTorch's form against steps worked out by hand.
import { describe, expect, it } from 'vitest';
import { adamBiasCorrections, adamUpdate } from '../../src/reference/adam.ts';

describe('adam', () => {
  it('first step moves each parameter by about lr·sign(g)', () => {
    const p = Float64Array.from([1, -2, 0.5]);
    const g = [0.2, -4, 0];
    const m = new Float64Array(3);
    const v = new Float64Array(3);
    adamUpdate(p, g, m, v, { t: 0, lr: 0.01, eps: 1e-8 });
    // m = 0.1 g, v = 0.001 g²; bc1 = 0.1, bc2 = 0.001 → m̂ = g, v̂ = g²
    expect(m[0]).toBeCloseTo(0.02, 15);
    expect(v[1]).toBeCloseTo(0.016, 15);
    expect(p[0]).toBeCloseTo(1 - 0.01 * 0.2 / (0.2 + 1e-8), 14);
    expect(p[1]).toBeCloseTo(-2 + 0.01 * 4 / (4 + 1e-8), 14);
    expect(p[2]).toBe(0.5);
  });

  it('second step by hand, with a gradient scale', () => {
    const p = Float64Array.from([3]);
    const m = new Float64Array(1);
    const v = new Float64Array(1);
    const lr = 0.1;
    const eps = 1e-3; // large, so it visibly matters
    adamUpdate(p, [2], m, v, { t: 0, lr, eps, gradScale: 0.5 }); // g = 1
    // m = 0.1, v = 0.001; p = 3 − (0.1/0.1)·0.1/(sqrt(0.001)/sqrt(0.001) + 1e-3)
    expect(p[0]).toBeCloseTo(3 - 0.1 / (1 + 1e-3), 14);
    adamUpdate(p, [-6], m, v, { t: 1, lr, eps, gradScale: 0.5 }); // g = −3
    const m2 = 0.9 * 0.1 + 0.1 * -3; // −0.21
    const v2 = 0.999 * 0.001 + 0.001 * 9; // 0.009999
    const bc1 = 1 - 0.81;
    const bc2 = 1 - 0.998001;
    expect(m[0]).toBeCloseTo(m2, 15);
    expect(v[0]).toBeCloseTo(v2, 15);
    const expected = 3 - 0.1 / (1 + 1e-3) - (lr / bc1) * m2 / (Math.sqrt(v2) / Math.sqrt(bc2) + eps);
    expect(p[0]).toBeCloseTo(expected, 14);
    // The same in numbers: m̂ = −0.21/0.19 = −1.10526, v̂ = 0.009999/0.001999 = 5.00200, so the step is
    // +0.1·1.10526/(2.23652 + 0.001) = +0.049397.
    expect(p[0]! - (3 - 0.1 / (1 + 1e-3))).toBeCloseTo(0.049397, 6);
  });

  it('bias corrections', () => {
    expect(adamBiasCorrections(0)).toEqual({ bc1: 1 - 0.9, bc2: 1 - 0.999 });
    const { bc1, bc2 } = adamBiasCorrections(9);
    expect(bc1).toBeCloseTo(1 - 0.9 ** 10, 15);
    expect(bc2).toBeCloseTo(1 - 0.999 ** 10, 15);
  });
});
