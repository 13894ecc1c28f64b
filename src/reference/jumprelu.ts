// Float64 reference of one JumpReLU training step (docs/RECIPE.md §7), as SAELens 6's JumpReLUTrainingSAE
// computes it: a learned per-feature threshold θ = exp(log θ), f = pre · 1[pre > θ], and the sparsity penalty
//   'step' (Gemma Scope): c · mean_b Σ_i H(pre − θ), through the step function's straight-through estimator;
//   'tanh' (Anthropic, 2025): c · mean_b Σ_i tanh(s · f_i · ‖W_dec,i‖),
// with Anthropic's pre-activation loss on dead latents, coef · mean_b Σ_i ReLU(θ_i − pre_i)·dead_i·‖W_dec,i‖.
// The pseudo-derivatives (bandwidth ε, rectangle kernel K(z) = 1[|z| < ½]):
//   ∂f/∂pre = 1[pre > θ],  ∂f/∂θ = −(θ/ε)·K((pre − θ)/ε),  ∂H/∂θ = −(1/ε)·K((pre − θ)/ε),  ∂H/∂pre = 0.
import { decode, decodeBackward, decoderNorms, dimsOf, encode, encodeBackward, mseLoss, normBackward } from './sae-grad.ts';
import { zeroParams64, type Params64 } from './params.ts';

export interface JumpReluOptions {
  mode: 'step' | 'tanh';
  /** ε of the straight-through estimators */
  bandwidth: number;
  /** the sparsity coefficient at this step (after its warm-up) */
  l0: number;
  /** s of the tanh penalty */
  tanhScale: number;
  /** the pre-activation loss's coefficient; absent: no such loss */
  preAct?: number;
  /** (F) 1 for a dead latent */
  dead?: Uint8Array;
  /** the encoder reads x − b_dec (SAELens's apply_b_dec_to_input, its default; true unless said) */
  center?: boolean;
}

export interface JumpReluResult {
  /** SAELens's names: mse_loss, l0_loss, and pre_act_loss when it is on */
  losses: Record<string, number>;
  total: number;
  grads: Params64 & { log_threshold: Float64Array };
  pre: Float64Array;
  f: Float64Array;
  xhat: Float64Array;
  /** (B, F) ∂L/∂pre */
  h: Float64Array;
}

const rect = (z: number) => (z > -0.5 && z < 0.5 ? 1 : 0);

export function jumpReluStep(p: Params64, logThreshold: ArrayLike<number>, x: ArrayLike<number>, o: JumpReluOptions): JumpReluResult {
  const dims = dimsOf(p, x);
  const { B, d, F } = dims;
  const eps = o.bandwidth;
  const theta = Float64Array.from(logThreshold, Math.exp);
  const norms = decoderNorms(p, F, d);
  const center = o.center ?? true;
  const { sin, u: pre } = encode(p, x, dims, center);
  const f = pre.map((v, k) => (v > theta[k % F]! ? v : 0));
  const xhat = decode(p, f, null, dims);
  const grads = zeroParams64(d, F);
  const gTheta = new Float64Array(F);
  const dNorm = new Float64Array(F);
  const g = new Float64Array(B * d);
  const losses: Record<string, number> = { mse_loss: mseLoss(xhat, x, B, g) };
  const gf = decodeBackward(p, f, null, g, grads, dNorm, dims);
  const gpre = new Float64Array(B * F);
  let l0 = 0;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < F; i++) {
      const k = b * F + i;
      const z = (pre[k]! - theta[i]!) / eps;
      if (o.mode === 'step') {
        l0 += pre[k]! > theta[i]! ? 1 : 0;
        gTheta[i]! -= ((o.l0 / B) * rect(z)) / eps;
      } else {
        const t = Math.tanh(o.tanhScale * f[k]! * norms[i]!);
        l0 += t;
        const dt = (o.l0 / B) * o.tanhScale * (1 - t * t);
        gf[k]! += dt * norms[i]!;
        dNorm[i]! += dt * f[k]!;
      }
    }
  }
  losses.l0_loss = (o.l0 * l0) / B;
  if (o.preAct !== undefined) {
    let pa = 0;
    if (o.dead?.some((v) => v)) {
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < F; i++) {
          if (!o.dead[i]) continue;
          const gap = theta[i]! - pre[b * F + i]!;
          if (gap <= 0) continue;
          pa += gap * norms[i]!;
          const c = (o.preAct / B) * norms[i]!;
          gTheta[i]! += c;
          gpre[b * F + i]! -= c;
          dNorm[i]! += (o.preAct / B) * gap;
        }
      }
    }
    losses.pre_act_loss = (o.preAct * pa) / B;
  }
  // JumpReLU's backward: the identity where it passed, and the threshold's pseudo-derivative
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < F; i++) {
      const k = b * F + i;
      if (pre[k]! > theta[i]!) gpre[k]! += gf[k]!;
      gTheta[i]! -= gf[k]! * (theta[i]! / eps) * rect((pre[k]! - theta[i]!) / eps);
    }
  }
  encodeBackward(p, sin, gpre, grads, dims, center);
  normBackward(p, norms, dNorm, grads, dims);
  const total = Object.values(losses).reduce((a, v) => a + v, 0);
  return { losses, total, grads: { ...grads, log_threshold: gTheta.map((gt, i) => gt * theta[i]!) }, pre, f, xhat, h: gpre };
}
