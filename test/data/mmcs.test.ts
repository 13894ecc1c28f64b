// MMCS: mean over true directions of the best cosine to any decoder row.
import { describe, expect, it } from 'vitest';
import { mmcs } from '../../src/analysis/mmcs.ts';

describe('mmcs', () => {
  it('is 1 when every true direction appears (scaled) among the decoder rows', () => {
    const truth = Float32Array.from([1, 0, 0, 0, 1, 0]);
    const dec = Float32Array.from([0, 0, 5, 0, 2, 0, 3, 0, 0]);
    expect(mmcs(truth, 2, dec, 3, 3)).toBeCloseTo(1, 12);
  });

  it('averages the best cosines', () => {
    const truth = Float32Array.from([1, 0, 0, 1]);
    const dec = Float32Array.from([1, 1, -1, 0]); // cos with (1,0): 1/√2 and −1; with (0,1): 1/√2 and 0
    expect(mmcs(truth, 2, dec, 2, 2)).toBeCloseTo(Math.SQRT1_2, 12);
  });

  it('uses signed cosine and ignores zero decoder rows', () => {
    const truth = Float32Array.from([1, 0]);
    expect(mmcs(truth, 1, Float32Array.from([-1, 0, 0, 0]), 2, 2)).toBe(0);
    expect(mmcs(truth, 1, Float32Array.from([-1, 0]), 1, 2)).toBe(-1);
  });

  it('refuses mismatched sizes', () => {
    expect(() => mmcs(new Float32Array(4), 2, new Float32Array(3), 2, 2)).toThrow('mmcs: decoder has 3 values, expected 2×2');
    expect(() => mmcs(new Float32Array(3), 2, new Float32Array(4), 2, 2)).toThrow('mmcs: truth has 3 values, expected 2×2');
  });
});
