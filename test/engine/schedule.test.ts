// The per-step scalars the engine hands to its kernels equal the reference's, at every step of a run.
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/engine/config.ts';
import { biasCorrections, l1Coefficient, learningRate } from '../../src/engine/schedule.ts';
import { adamBiasCorrections } from '../../src/reference/adam.ts';
import { l1At, lrAt } from '../../src/reference/schedule.ts';

describe('engine schedules match the reference', () => {
  for (const steps of [1, 7, 100, 3001]) {
    it(`T = ${steps}`, () => {
      const cfg = defaultConfig({ d: 8, steps, lr: 3e-3, l1: 5 });
      for (let t = 0; t < steps; t++) {
        expect(learningRate(cfg, t)).toBe(lrAt(cfg, t));
        expect(l1Coefficient(cfg, t)).toBe(l1At(cfg, t));
        expect(biasCorrections(t)).toEqual(adamBiasCorrections(t));
      }
      expect(learningRate(cfg, steps - 1)).toBeGreaterThan(0);
    });
  }
});
