// Float64 forward pass of a saved SAE of any form (src/engine/sae.ts), by the definitions: the reference the
// GPU runner is tested against, and the CPU path for the few rows of an intervention.
import type { SaeWeights } from '../engine/sae.ts';
import { outWidth } from '../engine/sae.ts';
import { topIndices } from './sae.ts';

/** SAELens's layer_norm adds this to the standard deviation on the way in */
const LN_EPS = 1e-5;

/**
 * Row b's input after the run-time normalisation, and the map back: x' = (x − μ)·a, x̂ = x̂'·c + μ.
 * constant_norm_rescale: μ = 0, a = √d/‖x‖, c = 1/a; layer_norm: μ = mean, s = std (Bessel), a = 1/(s + ε), c = s.
 */
export function rowNorm64(sae: SaeWeights, x: ArrayLike<number>, b: number): { xn: Float64Array; mu: number; c: number } {
  const d = sae.d;
  const xn = new Float64Array(d);
  for (let j = 0; j < d; j++) xn[j] = x[b * d + j]!;
  if (!sae.normalize) return { xn, mu: 0, c: 1 };
  let mu = 0;
  let a: number;
  let c: number;
  if (sae.normalize === 'constant_norm_rescale') {
    const norm = Math.hypot(...xn);
    a = Math.sqrt(d) / norm;
    c = 1 / a;
  } else {
    mu = xn.reduce((s, v) => s + v, 0) / d;
    const s = Math.sqrt(xn.reduce((acc, v) => acc + (v - mu) ** 2, 0) / (d - 1));
    a = 1 / (s + LN_EPS);
    c = s;
  }
  for (let j = 0; j < d; j++) xn[j] = (xn[j]! - mu) * a;
  return { xn, mu, c };
}

/** Pre-activations (rows, F) of raw rows x (rows, d). */
export function saePre64(sae: SaeWeights, x: ArrayLike<number>): Float64Array {
  const { d, features: F } = sae;
  const rows = x.length / d;
  if (!Number.isInteger(rows)) throw new Error(`saePre64: ${x.length} values are not rows of ${d}`);
  const pre = new Float64Array(rows * F);
  for (let b = 0; b < rows; b++) {
    const { xn } = rowNorm64(sae, x, b);
    if (sae.applyBDecToInput) for (let j = 0; j < d; j++) xn[j]! -= sae.b_dec[j]!;
    for (let i = 0; i < F; i++) {
      let s = sae.b_enc[i]!;
      for (let j = 0; j < d; j++) s += xn[j]! * sae.W_enc[j * F + i]!;
      pre[b * F + i] = s;
    }
  }
  return pre;
}

/** Feature activations f (rows, F) from pre-activations. TopK ties go to the lower feature. */
export function activate64(sae: SaeWeights, pre: Float64Array): Float64Array {
  const F = sae.features;
  const rows = pre.length / F;
  if (sae.arch === 'standard') return pre.map((v) => Math.max(v, 0));
  if (sae.arch === 'jumprelu') {
    const theta = sae.threshold!;
    return pre.map((v, i) => (v > theta[i % F]! ? Math.max(v, 0) : 0));
  }
  const f = new Float64Array(rows * F);
  for (let b = 0; b < rows; b++) {
    for (const i of topIndices(pre, b, F, sae.k!)) f[b * F + i] = Math.max(pre[b * F + i]!, 0);
  }
  return f;
}

/** f (rows, F) of raw rows x (rows, d). */
export function saeActivations64(sae: SaeWeights, x: ArrayLike<number>): Float64Array {
  return activate64(sae, saePre64(sae, x));
}

/**
 * x̂ (rows, d_out) from activations f (rows, F) of raw rows x: f·W_dec + b_dec (+ x·W_skipᵀ), the row
 * normalisation undone (not for a transcoder, whose output is another activation; SAELens does the same).
 */
export function saeDecode64(sae: SaeWeights, f: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  const { d, features: F } = sae;
  const dOut = outWidth(sae);
  const rows = f.length / F;
  const out = new Float64Array(rows * dOut);
  for (let b = 0; b < rows; b++) {
    const acc = out.subarray(b * dOut, (b + 1) * dOut);
    for (let j = 0; j < dOut; j++) acc[j] = sae.b_dec[j]!;
    for (let i = 0; i < F; i++) {
      const a = f[b * F + i]!;
      if (a === 0) continue;
      for (let j = 0; j < dOut; j++) acc[j]! += a * sae.W_dec[i * dOut + j]!;
    }
    if (sae.dOut === undefined && sae.normalize) {
      const { mu, c } = rowNorm64(sae, x, b);
      for (let j = 0; j < dOut; j++) acc[j] = acc[j]! * c + mu;
    }
    if (sae.W_skip) {
      for (let j = 0; j < dOut; j++) {
        let s = 0;
        for (let t = 0; t < d; t++) s += x[b * d + t]! * sae.W_skip[j * d + t]!;
        acc[j]! += s;
      }
    }
  }
  return out;
}
