// The initial parameters both trainers start from (src/engine/init.ts, RECIPE §1–2): determinism,
// decoder norms 0.1 / 1, W_enc = W_decᵀ, the biases; and the reference's parameter conversions.
import { describe, expect, it } from 'vitest';
import type { DataStats } from '../../src/engine/config.ts';
import { initParams } from '../../src/engine/init.ts';
import { globalNorm, toParams32, toParams64, zeroParams64 } from '../../src/reference/params.ts';
import { config } from './helpers.ts';

describe('initParams', () => {
  const d = 6;
  const F = 20;
  const mean = Float64Array.from({ length: d }, (_, j) => 0.25 * j - 0.4);
  const stats: DataStats = { scale: 1.3, mean, variance: 2 };

  for (const arch of ['standard', 'topk'] as const) {
    it(`${arch}: decoder rows of norm ${arch === 'topk' ? 1 : 0.1}, W_enc = W_decᵀ, biases`, () => {
      const p = initParams(config({ arch, d, features: F, seed: 5 }), stats);
      expect(p.W_enc.length).toBe(d * F);
      expect(p.W_dec.length).toBe(F * d);
      const target = arch === 'topk' ? 1 : 0.1;
      for (let i = 0; i < F; i++) {
        const norm = Math.hypot(...p.W_dec.subarray(i * d, (i + 1) * d));
        expect(Math.abs(norm - target)).toBeLessThan(target * 1e-6); // float32 rounding only
        for (let j = 0; j < d; j++) expect(p.W_enc[j * F + i]).toBe(p.W_dec[i * d + j]);
      }
      expect(Array.from(p.b_enc)).toEqual(new Array(F).fill(0));
      const b_dec = arch === 'topk' ? Array.from(Float32Array.from(mean)) : new Array(d).fill(0);
      expect(Array.from(p.b_dec)).toEqual(b_dec);
    });
  }

  it('is a function of the seed', () => {
    const cfg = config({ arch: 'standard', d, features: F, seed: 5 });
    expect(initParams(cfg, stats)).toEqual(initParams(cfg, stats));
    expect(initParams({ ...cfg, seed: 6 }, stats).W_dec).not.toEqual(initParams(cfg, stats).W_dec);
  });

  it('directions are spread out: no two rows nearly parallel, entries centred', () => {
    const p = initParams(config({ arch: 'topk', d: 32, features: 64, seed: 1 }), { ...stats, mean: new Float64Array(32) });
    let sum = 0;
    for (const w of p.W_dec) sum += w;
    expect(Math.abs(sum / p.W_dec.length)).toBeLessThan(0.03); // entries ~ ±1/√32, sd of the mean ≈ 0.004
    for (let a = 0; a < 64; a++) {
      for (let b = a + 1; b < 64; b++) {
        let c = 0;
        for (let j = 0; j < 32; j++) c += p.W_dec[a * 32 + j]! * p.W_dec[b * 32 + j]!;
        expect(Math.abs(c)).toBeLessThan(0.8);
      }
    }
  });

  it('conversion helpers keep values and shapes', () => {
    const p = initParams(config({ arch: 'topk', d, features: F, seed: 2 }), stats);
    const p64 = toParams64(p);
    expect(p64.W_dec).toBeInstanceOf(Float64Array);
    expect(toParams32(p64)).toEqual(p);
    expect(globalNorm(p64)).toBeCloseTo(Math.sqrt(2 * F + mean.reduce((s, m) => s + Math.fround(m) ** 2, 0)), 5);
    expect(globalNorm(zeroParams64(d, F))).toBe(0);
  });
});
