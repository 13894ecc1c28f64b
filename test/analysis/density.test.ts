// The density histogram: dead features land in the first bin, always-on ones in the last, and every
// feature is counted once.
import { describe, expect, it } from 'vitest';
import { DENSITY_BINS, densityHistogram } from '../../src/analysis/density.ts';

describe('densityHistogram', () => {
  it('bins log10 density over the window between two counter readings', () => {
    const before = Uint32Array.from([5, 5, 5, 5, 5]);
    const now = Uint32Array.from([5, 6, 15, 105, 1005]); // fired 0, 1, 10, 100, 1000 of 1000 tokens
    const h = densityHistogram(now, before, 1000, 50);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(5);
    const bin = (x: number) => Math.floor((x - DENSITY_BINS.from) / DENSITY_BINS.width);
    expect(h.counts[0]).toBe(1); // dead: log10(1e-10) = −10
    expect(h.counts[bin(-3)]).toBe(1);
    expect(h.counts[bin(-2)]).toBe(1);
    expect(h.counts[bin(-1)]).toBe(1);
    expect(h.counts[h.counts.length - 1]).toBe(1); // fires on every token: log10(1) = 0, the closed last bin
    expect(h.edges[0]).toBe(-10);
  });

  it('without an earlier reading, counts from zero', () => {
    expect(densityHistogram(Uint32Array.from([0, 10]), null, 10, 1).counts.reduce((a, b) => a + b, 0)).toBe(2);
  });
});
