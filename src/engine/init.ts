// The initial parameters of a run (RECIPE §1–2), made on the CPU from the seed so that the GPU trainer and
// the float64 reference start from the very same numbers.
//   W_dec rows: random directions, norm 0.1 (standard, jumprelu) or 1 (TopK's family);  W_enc = W_decᵀ;
//   b_enc = 0;  b_dec = 0, or the mean of the scaled data sample (TopK's family).
import { Rng } from './random.ts';
import { keepsK, type DataStats, type TrainConfig } from './config.ts';
import type { Params32 } from './run-state.ts';

export function initParams(cfg: TrainConfig, stats: DataStats): Params32 {
  const { d, features: F } = cfg;
  const topk = keepsK(cfg.arch);
  const rng = new Rng(cfg.seed, 0x1a17);
  const rowNorm = topk ? 1 : 0.1;
  const W_dec = new Float32Array(F * d); // (F, d)
  const W_enc = new Float32Array(d * F); // (d, F)
  const row = new Float64Array(d);
  for (let i = 0; i < F; i++) {
    let sq = 0;
    for (let j = 0; j < d; j++) {
      row[j] = rng.gaussian();
      sq += row[j]! ** 2;
    }
    const s = rowNorm / Math.sqrt(sq);
    for (let j = 0; j < d; j++) {
      W_dec[i * d + j] = row[j]! * s;
      W_enc[j * F + i] = W_dec[i * d + j]!;
    }
  }
  const b_dec = topk ? Float32Array.from(stats.mean) : new Float32Array(d);
  return { W_enc, b_enc: new Float32Array(F), W_dec, b_dec };
}
