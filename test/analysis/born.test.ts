import { describe, expect, it } from 'vitest';
import { newlyBorn, topLabels } from '../../src/analysis/born.ts';

describe('born features', () => {
  it('are those whose fire count leaves zero, most fires first', () => {
    expect(newlyBorn(null, Uint32Array.from([0, 3, 1, 3]))).toEqual([1, 3, 2]);
    expect(newlyBorn(Uint32Array.from([0, 3, 0, 0]), Uint32Array.from([2, 9, 0, 5]))).toEqual([3, 0]);
  });

  it('are labelled by their strongest distinct tokens, never by rows where they are off', () => {
    // 4 rows × 3 features
    const acts = Float32Array.from([
      0.5, 0, 2,
      0.9, 0, 2,
      0.7, 0, 1,
      0.9, 0, 0,
    ]);
    const labels = ['a', 'b', 'a', 'c'];
    expect(topLabels(acts, 3, [0, 1, 2], labels, 2)).toEqual([['b', 'c'], [], ['a', 'b']]);
    expect(() => topLabels(acts, 4, [0], labels)).toThrow(/12 activations is not 4×4/);
  });
});
