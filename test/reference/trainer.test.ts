// The float64 reference trainer over a few hundred steps of a toy dataset: losses fall, TopK keeps unit
// decoder rows and orthogonal row gradients, the step is wired as RECIPE §1–2 order it (schedules, clip,
// Adam), and the fire statistics and dead mask follow their definitions.
import { describe, expect, it } from 'vitest';
import { ADAM } from '../../src/engine/config.ts';
import { initParams } from '../../src/engine/init.ts';
import { globalNorm, PARAM_NAMES } from '../../src/reference/params.ts';
import type { TopkResult } from '../../src/reference/sae.ts';
import { clipScale, l1At, lrAt } from '../../src/reference/schedule.ts';
import { ReferenceTrainer } from '../../src/reference/trainer.ts';
import { config, statsOf, toyData } from './helpers.ts';

const d = 8;
const B = 32;
const ROWS = 4096;
const x = toyData(ROWS, d, 12, 1);
const stats = statsOf(x, d);
const batchAt = (s: number) => {
  const off = (s * B) % ROWS;
  return x.subarray(off * d, (off + B) * d);
};
const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

function makeTrainer(arch: 'standard' | 'topk', steps = 300) {
  const cfg = config({ arch, d, features: 32, batch: B, steps, l1: 0.3, k: 3, kAux: 4, deadWindowTokens: 5 * B, seed: 3 });
  return new ReferenceTrainer(cfg, stats, initParams(cfg, stats));
}

describe('ReferenceTrainer, standard', () => {
  it('reconstruction error falls by 10× over 300 steps and the schedules are applied', () => {
    const tr = makeTrainer('standard');
    for (let s = 0; s < 300; s++) tr.step(batchAt(s));
    const h = tr.history;
    expect(tr.t).toBe(300);
    expect(h[0]!.recon).toBeGreaterThan(5); // x̂' ≈ 0 at init (norms 0.1, b_dec 0): about E‖x'‖² = d-ish
    expect(mean(h.slice(-20).map((m) => m.recon))).toBeLessThan(0.1 * h[0]!.recon);
    expect(h[0]!.sparsity).toBe(0); // λ_0 = 0
    for (const m of h) {
      expect(m.l1).toBe(l1At(tr.cfg, m.step));
      expect(m.lr).toBe(lrAt(tr.cfg, m.step));
      expect(m.clipScale).toBe(clipScale(m.gradNorm));
      expect(m.loss).toBeCloseTo(m.recon + m.sparsity, 12);
    }
    expect(h.some((m) => m.clipScale < 1)).toBe(true); // clipping really happens in this run
  });

  it('one step: clipped gradients into Adam, first-step update = −lr·g/(|g| + ε)', () => {
    const tr = makeTrainer('standard');
    tr.step(batchAt(0));
    const s = tr.stepWithGrads(batchAt(1)); // step 1: λ > 0, m and v already non-zero
    expect(s.metrics.step).toBe(1);
    expect(s.metrics.gradNorm).toBeCloseTo(globalNorm(s.grads), 14);
    expect(s.grads).toBe(s.rawGrads); // no projection for the standard SAE

    const fresh = makeTrainer('standard');
    const f = fresh.stepWithGrads(batchAt(0));
    const c = f.metrics.clipScale;
    expect(c).toBeLessThan(1);
    for (const name of PARAM_NAMES) {
      for (let n = 0; n < f.grads[name].length; n++) {
        const g = c * f.grads[name][n]!;
        expect(fresh.m[name][n]).toBeCloseTo((1 - ADAM.beta1) * g, 15);
        expect(fresh.v[name][n]).toBeCloseTo((1 - ADAM.beta2) * g * g, 15);
        const step = f.after[name][n]! - f.before[name][n]!;
        expect(step).toBeCloseTo((-f.metrics.lr * g) / (Math.abs(g) + 1e-8), 12);
      }
    }
  });
});

describe('ReferenceTrainer, topk', () => {
  it('loss falls, decoder rows stay unit, row gradients are orthogonal to the rows, AuxK runs', () => {
    const tr = makeTrainer('topk');
    let auxSteps = 0;
    for (let s = 0; s < 300; s++) {
      const st = tr.stepWithGrads(batchAt(s));
      const r = st.result as TopkResult;
      if (r.auxActive) {
        auxSteps++;
        expect(st.metrics.sparsity).toBeCloseTo(tr.cfg.auxAlpha * r.lAux, 15);
        expect(r.deadCount).toBe(st.metrics.dead);
      } else {
        expect(st.metrics.sparsity).toBe(0);
      }
      expect(st.metrics.clipScale).toBe(1);
      expect(st.metrics.gradNorm).toBeCloseTo(globalNorm(st.grads), 14);
      for (let i = 0; i < 32; i++) {
        let norm = 0;
        let dot = 0;
        for (let j = 0; j < d; j++) {
          norm += st.after.W_dec[i * d + j]! ** 2;
          dot += st.grads.W_dec[i * d + j]! * st.before.W_dec[i * d + j]!;
        }
        expect(Math.abs(Math.sqrt(norm) - 1)).toBeLessThan(1e-12);
        // the rows were unit before the step (float32-rounded at step 0), so the projection is exact up to that
        expect(Math.abs(dot)).toBeLessThan(s === 0 ? 1e-6 : 1e-12);
      }
    }
    const h = tr.history;
    expect(mean(h.slice(-20).map((m) => m.recon))).toBeLessThan(0.6 * mean(h.slice(0, 5).map((m) => m.recon)));
    expect(auxSteps).toBeGreaterThan(0);
    expect(h.every((m) => m.l0 <= tr.cfg.k)).toBe(true);
  });

  it('Adam ε is 6.25e-10 and the update is not clipped: first step = −lr·g/(|g| + ε), then renormalised', () => {
    const tr = makeTrainer('topk');
    const s = tr.stepWithGrads(batchAt(0));
    for (const name of ['W_enc', 'b_enc', 'b_dec'] as const) {
      for (let n = 0; n < s.grads[name].length; n++) {
        const g = s.grads[name][n]!;
        expect(s.after[name][n]! - s.before[name][n]!).toBeCloseTo((-s.metrics.lr * g) / (Math.abs(g) + 6.25e-10), 12);
      }
    }
    // W_dec: Adam step on the projected gradient, then each row divided by its norm.
    for (let i = 0; i < 32; i++) {
      const row = Array.from({ length: d }, (_, j) => {
        const g = s.grads.W_dec[i * d + j]!;
        return s.before.W_dec[i * d + j]! - (s.metrics.lr * g) / (Math.abs(g) + 6.25e-10);
      });
      const norm = Math.hypot(...row);
      for (let j = 0; j < d; j++) expect(s.after.W_dec[i * d + j]).toBeCloseTo(row[j]! / norm, 12);
    }
  });
});

describe('fire statistics and the dead mask', () => {
  it('fireCount sums l0·B; lastFired is the step after the last fire', () => {
    const tr = makeTrainer('topk');
    let total = 0;
    for (let s = 0; s < 40; s++) {
      const st = tr.stepWithGrads(batchAt(s));
      total += st.metrics.l0 * B;
      for (let i = 0; i < 32; i++) {
        let fired = false;
        for (let b = 0; b < B; b++) if (st.result.f[b * 32 + i]! > 0) fired = true;
        if (fired) expect(tr.lastFired[i]).toBe(s + 1);
        else expect(tr.lastFired[i]).toBeLessThanOrEqual(s);
      }
    }
    expect(tr.fireCount.reduce((a, v) => a + v, 0)).toBeCloseTo(total, 9);
  });

  it('a latent is dead once deadSteps steps have passed without a fire', () => {
    const tr = makeTrainer('topk'); // deadSteps = 5
    tr.t = 12;
    tr.lastFired.set([0, 7, 8, 12, 6]);
    expect(Array.from(tr.deadMask().subarray(0, 5))).toEqual([1, 1, 0, 0, 1]);
    tr.t = 4;
    tr.lastFired.fill(0);
    expect(tr.deadMask().every((v) => v === 0)).toBe(true);
    tr.t = 5;
    expect(tr.deadMask().every((v) => v === 1)).toBe(true);
  });
});
