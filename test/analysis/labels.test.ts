import { describe, expect, it } from 'vitest';
import { addLabelMass, featureLabels, newLabelMass } from '../../src/analysis/labels.ts';

describe('label mass', () => {
  it('gives each feature its dominant label, purity, lift over the base rate, and tokens by mass', () => {
    // 4 rows (labels N, N, V, D; tokens 7, 8, 9, 7) × 3 features
    const m = newLabelMass(['N', 'V', 'D'], 3);
    const acts = Float32Array.from([
      1, 0, 0,
      3, 0, 2,
      0, 0, 2,
      0, 0, 4,
    ]);
    addLabelMass(m, acts.subarray(0, 6), [0, 0], [7, 8]);
    addLabelMass(m, acts.subarray(6), [1, 2], [9, 7]);
    const fl = featureLabels(m);
    expect(fl.map((x) => x.feature)).toEqual([0, 2]); // feature 1 never fired
    expect(fl[0]).toMatchObject({ label: 'N', purity: 1, lift: 2, distinctTokens: 2, topTokens: [8, 7], density: 0.5 });
    expect(fl[1]).toMatchObject({ label: 'D', purity: 0.5, lift: 2, distinctTokens: 3, topTokens: [7, 8, 9], density: 0.75 });
    expect(() => addLabelMass(m, acts.subarray(0, 3), [5], [1])).toThrow(/label 5, outside the 3 names/);
  });
});
