// The scaling analysis: the compute-efficient frontier and the power-law fit of it, on points made from
// known laws (exact, then with seeded noise, where the truth must lie within a few standard errors).
import { describe, expect, it } from 'vitest';
import { bestSizes, fitPowerLaw, frontier } from '../../src/analysis/scaling.ts';
import { Rng } from '../../src/engine/random.ts';

const law = { a: 40, alpha: 0.28, lInf: 0.06 };
const computes = Array.from({ length: 9 }, (_, i) => 1e9 * 10 ** (i / 2));
const exact = computes.map((compute) => ({ compute, loss: law.a * compute ** -law.alpha + law.lInf }));

describe('scaling', () => {
  it('the frontier keeps the runs no cheaper run beats, by compute', () => {
    const runs = [
      { compute: 4, loss: 0.5, features: 64 }, { compute: 1, loss: 0.9, features: 16 }, { compute: 2, loss: 0.95, features: 64 },
      { compute: 2, loss: 0.7, features: 32 }, { compute: 8, loss: 0.55, features: 128 }, { compute: 16, loss: 0.3, features: 128 },
      { compute: 3, loss: Number.NaN, features: 8 },
    ];
    expect(frontier(runs).map((r) => [r.compute, r.loss])).toEqual([[1, 0.9], [2, 0.7], [4, 0.5], [16, 0.3]]);
    expect(bestSizes(runs).map((r) => r.features)).toEqual([16, 32, 64, 128]);
  });

  it('recovers an exact law', () => {
    const fit = fitPowerLaw(exact);
    expect(fit.alpha).toBeCloseTo(law.alpha, 6);
    expect(fit.lInf).toBeCloseTo(law.lInf, 6);
    expect(fit.a / law.a).toBeCloseTo(1, 4);
    expect(fit.rms).toBeLessThan(1e-8);
    expect(fit.points).toBe(9);
  });

  it('with noise, the truth lies within four standard errors, and the errors shrink with less noise', () => {
    const noisy = (sd: number, seed: number) => {
      const rng = new Rng(seed, 3);
      return exact.map((p) => ({ compute: p.compute, loss: p.loss * (1 + sd * rng.gaussian()) }));
    };
    const fit = fitPowerLaw(noisy(0.01, 7));
    expect(fit.se).not.toBeNull();
    expect(Math.abs(fit.alpha - law.alpha)).toBeLessThan(4 * fit.se!.alpha);
    expect(Math.abs(fit.lInf - law.lInf)).toBeLessThan(4 * fit.se!.lInf);
    const quieter = fitPowerLaw(noisy(0.001, 7));
    expect(quieter.se!.alpha).toBeLessThan(fit.se!.alpha / 3);
  });

  it('three points fit exactly with no standard errors; fewer are refused', () => {
    const three = [exact[0]!, exact[4]!, exact[8]!];
    const fit = fitPowerLaw(three);
    expect(fit.se).toBeNull();
    expect(fit.rms).toBeLessThan(1e-6);
    expect(() => fitPowerLaw(exact.slice(0, 2))).toThrow(/at least 3 runs of different compute, got 2/);
    expect(() => fitPowerLaw([exact[0]!, exact[0]!, exact[1]!])).toThrow(/got 2/);
  });
});
