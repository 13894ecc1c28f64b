// Adam in PyTorch's form (torch.optim.Adam, no weight decay, no amsgrad), in float64, with the gradient
// multiplied by `gradScale` first (the clip factor; 1 = unclipped). For the 0-based step t:
//   g ← gradScale·g;  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
//   bc1 = 1 − β1^(t+1);  bc2 = 1 − β2^(t+1)
//   p ← p − (lr/bc1) · m / (sqrt(v)/sqrt(bc2) + ε)
import { ADAM } from '../engine/config.ts';
import { PARAM_NAMES, type Params64 } from './params.ts';

export interface AdamStep {
  /** 0-based step index */
  t: number;
  lr: number;
  eps: number;
  /** gradients are multiplied by this first */
  gradScale?: number;
  beta1?: number;
  beta2?: number;
}

/** Adam's bias corrections for the 0-based step t. */
export function adamBiasCorrections(t: number, beta1: number = ADAM.beta1, beta2: number = ADAM.beta2): { bc1: number; bc2: number } {
  return { bc1: 1 - beta1 ** (t + 1), bc2: 1 - beta2 ** (t + 1) };
}

/** One Adam update of a flat array, in place on p, m and v. */
export function adamUpdate(p: Float64Array, g: ArrayLike<number>, m: Float64Array, v: Float64Array, s: AdamStep): void {
  const beta1 = s.beta1 ?? ADAM.beta1;
  const beta2 = s.beta2 ?? ADAM.beta2;
  const scale = s.gradScale ?? 1;
  const { bc1, bc2 } = adamBiasCorrections(s.t, beta1, beta2);
  const stepSize = s.lr / bc1;
  const sqrtBc2 = Math.sqrt(bc2);
  for (let n = 0; n < p.length; n++) {
    const gn = scale * g[n]!;
    m[n] = beta1 * m[n]! + (1 - beta1) * gn;
    v[n] = beta2 * v[n]! + (1 - beta2) * gn * gn;
    p[n]! -= (stepSize * m[n]!) / (Math.sqrt(v[n]!) / sqrtBc2 + s.eps);
  }
}

/** One Adam update of every parameter, in place on params, m and v. */
export function adamUpdateParams(params: Params64, grads: Params64, m: Params64, v: Params64, s: AdamStep): void {
  for (const name of PARAM_NAMES) adamUpdate(params[name], grads[name], m[name], v[name], s);
}
