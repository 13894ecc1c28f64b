// An SAE run on the CPU for the few tokens of a sentence under intervention (src/analysis/splice.ts), as
// src/engine/sae.ts defines it. Sums run in float64 and round once to float32, so a decode of the same
// activations always gives the same bits — which is what makes an ablation of an inactive feature a no-op.
import { selectRows } from '../reference/sae.ts';
import type { SaeWeights } from '../engine/sae.ts';

/** feature activations (rows, F) of raw rows x (rows, d) */
export function encodeCpu(sae: SaeWeights, x: Float32Array): Float32Array {
  const { d, features: F } = sae;
  const rows = x.length / d;
  if (!Number.isInteger(rows)) throw new Error(`encodeCpu: ${x.length} values are not rows of ${d}`);
  const pre = new Float64Array(rows * F);
  const xc = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < d; j++) xc[j] = x[r * d + j]! - (sae.applyBDecToInput ? sae.b_dec[j]! : 0);
    for (let i = 0; i < F; i++) {
      let s = sae.b_enc[i]!;
      for (let j = 0; j < d; j++) s += xc[j]! * sae.W_enc[j * F + i]!;
      pre[r * F + i] = s;
    }
  }
  const f = new Float32Array(rows * F);
  if (sae.arch === 'topk') {
    const k = sae.k!;
    const idx = selectRows(pre, rows, F, k);
    for (let r = 0; r < rows; r++) for (let t = 0; t < k; t++) f[r * F + idx[r * k + t]!] = Math.max(0, pre[r * F + idx[r * k + t]!]!);
  } else {
    for (let i = 0; i < pre.length; i++) f[i] = Math.max(0, pre[i]!);
  }
  return f;
}

/** reconstructions (rows, d) of activations f (rows, F) */
export function decodeCpu(sae: SaeWeights, f: Float32Array): Float32Array {
  const { d, features: F } = sae;
  const rows = f.length / F;
  const out = new Float32Array(rows * d);
  const acc = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < d; j++) acc[j] = sae.b_dec[j]!;
    for (let i = 0; i < F; i++) {
      const a = f[r * F + i]!;
      if (a === 0) continue;
      for (let j = 0; j < d; j++) acc[j] += a * sae.W_dec[i * d + j]!;
    }
    out.set(acc, r * d);
  }
  return out;
}
