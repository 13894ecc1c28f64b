// Ground-truth superposition data: seeded, unit directions, a decaying frequency spectrum, ≈ activeMean per row.
import { describe, expect, it } from 'vitest';
import { generateSynthetic, powerLawProbs } from '../../src/data/synth.ts';

describe('generateSynthetic', () => {
  const opts = { d: 16, features: 48, rows: 20000, seed: 5 };

  it('is a pure function of its options', () => {
    const a = generateSynthetic(opts);
    expect(generateSynthetic(opts)).toEqual(a);
    expect(generateSynthetic({ ...opts, seed: 6 }).data).not.toEqual(a.data);
    expect(a.data.length).toBe(20000 * 16);
    expect(a.truth.length).toBe(48 * 16);
  });

  it('has unit-norm true directions', () => {
    const { truth } = generateSynthetic(opts);
    for (let i = 0; i < 48; i++) expect(Math.hypot(...truth.subarray(i * 16, (i + 1) * 16))).toBeCloseTo(1, 6);
  });

  it('activates about activeMean directions per row, more often for early ones', () => {
    const { data, truth, probs } = generateSynthetic({ ...opts, noise: 0 });
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(2.5, 9);
    for (let j = 1; j < 48; j++) expect(probs[j]).toBeLessThanOrEqual(probs[j - 1]);
    // with no noise, rows are exact combinations; count rows that are zero (no direction active)
    let zero = 0;
    for (let r = 0; r < 20000; r++) if (data.subarray(r * 16, (r + 1) * 16).every((v) => v === 0)) zero++;
    const pNone = probs.reduce((a, p) => a * (1 - p), 1);
    expect(Math.abs(zero / 20000 - pNone)).toBeLessThan(0.01);
    // direction 0 is the most frequent: E[x·f_0] ≈ p_0 · E[c] (E[c] = 1) plus small overlaps with the others
    let proj = 0;
    for (let r = 0; r < 20000; r++) for (let i = 0; i < 16; i++) proj += data[r * 16 + i] * truth[i];
    expect(Math.abs(proj / 20000 - probs[0])).toBeLessThan(0.1);
  });

  it('adds noise of the requested size', () => {
    const { data } = generateSynthetic({ ...opts, features: 20, activeMean: 1e-9, noise: 0.5, rows: 4000 });
    let sq = 0;
    for (const v of data) sq += v * v;
    expect(Math.sqrt(sq / data.length)).toBeCloseTo(0.5, 1);
  });

  it('refuses bad sizes', () => {
    expect(() => generateSynthetic({ ...opts, d: 0 })).toThrow('generateSynthetic: d must be a positive integer, got 0');
  });
});

describe('powerLawProbs', () => {
  it('clips at 1 and still sums to activeMean', () => {
    const p = powerLawProbs(10, 5, 2);
    expect(p[0]).toBe(1);
    expect(p.every((v) => v <= 1)).toBe(true);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(5, 9);
  });

  it('is all ones when activeMean ≥ F*', () => {
    expect([...powerLawProbs(4, 10, 1)]).toEqual([1, 1, 1, 1]);
  });
});
