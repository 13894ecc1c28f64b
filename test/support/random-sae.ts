// A small SAE of random weights in raw units, for tests that splice or steer with one.
import { Rng } from '../../src/engine/random.ts';
import type { SaeWeights } from '../../src/engine/sae.ts';

/** The last 8 features can never fire: tests need features that are off on every token. */
export function randomSae(d: number, F: number, arch: 'standard' | 'topk', seed: number, metadata: Record<string, unknown> = {}): SaeWeights {
  const rng = new Rng(seed, 7);
  const n = (len: number, s: number) => Float32Array.from({ length: len }, () => (rng.float() - 0.5) * s);
  return {
    arch, d, features: F, k: arch === 'topk' ? 4 : undefined, applyBDecToInput: arch === 'topk',
    W_enc: n(d * F, 0.2), b_enc: n(F, 0.5).map((v, i) => (i >= F - 8 ? -1e3 : v - 0.6)), W_dec: n(F * d, 0.3), b_dec: n(d, 0.1), metadata,
  };
}
