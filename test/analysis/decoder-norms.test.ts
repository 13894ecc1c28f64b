import { describe, expect, it } from 'vitest';
import { NORM_BINS, decoderNormHistogram } from '../../src/analysis/decoder-norms.ts';

describe('decoderNormHistogram', () => {
  it('bins every row by its L2 norm between the smallest and the largest', () => {
    // rows of norm 1, 2, 2, 5 (3-4-0 rows scaled)
    const w = Float32Array.from([0.6, 0.8, 0, 1.2, 1.6, 0, 0, 0, 2, 3, 4, 0]);
    const h = decoderNormHistogram(w, 4, 3, 7);
    expect([h.step, h.counts.length]).toEqual([7, NORM_BINS]);
    expect(h.min).toBeCloseTo(1, 6);
    expect(h.max).toBeCloseTo(5, 6);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(4);
    expect(h.counts[0]).toBe(1);
    const at2 = Math.round((2 - 1) / (4 / NORM_BINS)); // norm 2 sits on a bin edge: either side is right
    expect(h.counts[at2 - 1]! + h.counts[at2]!).toBe(2);
    expect(h.counts[NORM_BINS - 1]).toBe(1); // the largest lands in the closed last bin
  });

  it('puts equal norms in one bin, and refuses a wrong shape', () => {
    const h = decoderNormHistogram(Float32Array.from([1, 0, 0, 1]), 2, 2, 0);
    expect(h.counts).toEqual([2]);
    expect(() => decoderNormHistogram(new Float32Array(5), 2, 2, 0)).toThrow(/5 values is not 2×2/);
  });
});
