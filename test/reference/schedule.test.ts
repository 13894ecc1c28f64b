// Schedules (RECIPE §1–2): learning rate constant then linear decay over the last 20%, λ warm-up over the
// first 5%, PyTorch's clip factor, and the dead window in steps.
import { describe, expect, it } from 'vitest';
import { clipScale, deadSteps, decayStart, l1At, l1WarmupSteps, lrAt } from '../../src/reference/schedule.ts';
import { config } from './helpers.ts';

describe('schedules', () => {
  const cfg = config({ d: 4, steps: 1000, lr: 2e-3, l1: 5, batch: 64 });

  it('learning rate: constant to 80%, then linear to 0 at the end', () => {
    expect(decayStart(cfg)).toBe(800);
    expect(lrAt(cfg, 0)).toBe(2e-3);
    expect(lrAt(cfg, 50)).toBe(2e-3);
    expect(lrAt(cfg, 799)).toBe(2e-3);
    expect(lrAt(cfg, 800)).toBe(2e-3);
    expect(lrAt(cfg, 801)).toBeCloseTo(2e-3 * 199 / 200, 15);
    expect(lrAt(cfg, 900)).toBeCloseTo(1e-3, 15);
    expect(lrAt(cfg, 999)).toBeCloseTo(2e-3 / 200, 15);
    expect(lrAt(cfg, 1000)).toBe(0);
  });

  it('λ: 0 at step 0, linear over the first 5%, then constant', () => {
    expect(l1WarmupSteps(cfg)).toBe(50);
    expect(l1At(cfg, 0)).toBe(0);
    expect(l1At(cfg, 10)).toBeCloseTo(1, 15);
    expect(l1At(cfg, 25)).toBeCloseTo(2.5, 15);
    expect(l1At(cfg, 50)).toBe(5);
    expect(l1At(cfg, 800)).toBe(5);
    expect(l1At(cfg, 999)).toBe(5);
  });

  it('very short runs: the warm-up is at least one step and the decay never divides by 0', () => {
    const short = { ...cfg, steps: 3 };
    expect(l1At(short, 0)).toBe(0);
    expect(l1At(short, 1)).toBe(5);
    expect(decayStart(short)).toBe(2);
    expect(lrAt(short, 1)).toBe(2e-3);
    expect(lrAt(short, 2)).toBe(2e-3);
    const one = { ...cfg, steps: 1 };
    expect(lrAt(one, 0)).toBe(2e-3);
    expect(Number.isFinite(lrAt(one, 1))).toBe(true);
  });

  it('clip factor: 1 below the max norm, max/(norm + 1e-6) above', () => {
    expect(clipScale(0)).toBe(1);
    expect(clipScale(0.5)).toBe(1);
    expect(clipScale(1)).toBe(1 / (1 + 1e-6));
    expect(clipScale(4)).toBe(1 / (4 + 1e-6));
    expect(4 * clipScale(4)).toBeLessThan(1);
    expect(4 * clipScale(4)).toBeGreaterThan(1 - 1e-6);
  });

  it('dead window in whole steps: ceil(W / B)', () => {
    expect(deadSteps({ ...cfg, deadWindowTokens: 1000 })).toBe(16);
    expect(deadSteps({ ...cfg, deadWindowTokens: 1024 })).toBe(16);
    expect(deadSteps({ ...cfg, deadWindowTokens: 1025 })).toBe(17);
    expect(deadSteps({ ...cfg, deadWindowTokens: 1 })).toBe(1);
  });
});
