// Float64 building blocks of the newer training recipes' forward and backward passes (reference/jumprelu.ts,
// reference/batchtopk.ts), written out by hand: the encoder, a decoder whose activations may be divided by the
// decoder-row norms, and the backward of each. Layout as in reference/sae.ts: x (B, d); W_enc (d, F) at
// [j*F + i]; W_dec (F, d) at [i*d + j]; per-row (B, F) and (B, d) arrays.
import { zeroParams64, type Params64 } from './params.ts';
import type { Dims } from './sae.ts';

export function dimsOf(p: Params64, x: ArrayLike<number>): Dims {
  const d = p.b_dec.length;
  const F = p.b_enc.length;
  const B = x.length / d;
  if (!Number.isInteger(B)) throw new Error(`${x.length} values are not rows of ${d}`);
  return { B, d, F };
}

/** ‖W_dec,i‖ for each feature */
export function decoderNorms(p: Params64, F: number, d: number): Float64Array {
  const n = new Float64Array(F);
  for (let i = 0; i < F; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += p.W_dec[i * d + j]! ** 2;
    n[i] = Math.sqrt(s);
  }
  return n;
}

/** sae_in = x − b_dec (or x, when not `center`) and u = sae_in · W_enc + b_enc (B, F) */
export function encode(p: Params64, x: ArrayLike<number>, { B, d, F }: Dims, center = true): { sin: Float64Array; u: Float64Array } {
  const sin = new Float64Array(B * d);
  for (let b = 0; b < B; b++) for (let j = 0; j < d; j++) sin[b * d + j] = x[b * d + j]! - (center ? p.b_dec[j]! : 0);
  const u = new Float64Array(B * F);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < F; i++) u[b * F + i] = p.b_enc[i]!;
    for (let j = 0; j < d; j++) {
      const v = sin[b * d + j]!;
      if (v === 0) continue;
      for (let i = 0; i < F; i++) u[b * F + i]! += v * p.W_enc[j * F + i]!;
    }
  }
  return { sin, u };
}

/** x̂ = Σ_{i < width} a_i · s_i · W_dec,i + b_dec, with s = 1/‖W_dec‖ (`inv`) or 1 */
export function decode(p: Params64, a: Float64Array, inv: Float64Array | null, { B, d, F }: Dims, width = F): Float64Array {
  const out = new Float64Array(B * d);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < d; j++) out[b * d + j] = p.b_dec[j]!;
    for (let i = 0; i < width; i++) {
      const v = a[b * F + i]! * (inv ? inv[i]! : 1);
      if (v === 0) continue;
      for (let j = 0; j < d; j++) out[b * d + j]! += v * p.W_dec[i * d + j]!;
    }
  }
  return out;
}

/**
 * Backward of decode for ∂L/∂x̂ = g (B, d): adds into grads.W_dec and grads.b_dec, returns ∂L/∂a (B, F) and
 * adds ∂L/∂‖W_dec,i‖ into dNorm (through s = 1/‖W_dec‖, when `inv` is given).
 */
export function decodeBackward(p: Params64, a: Float64Array, inv: Float64Array | null, g: Float64Array, grads: Params64, dNorm: Float64Array, { B, d, F }: Dims, width = F): Float64Array {
  const da = new Float64Array(B * F);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < d; j++) grads.b_dec[j]! += g[b * d + j]!;
    for (let i = 0; i < width; i++) {
      let gw = 0;
      for (let j = 0; j < d; j++) gw += g[b * d + j]! * p.W_dec[i * d + j]!;
      const s = inv ? inv[i]! : 1;
      da[b * F + i] = gw * s;
      const v = a[b * F + i]!;
      if (v === 0) continue;
      for (let j = 0; j < d; j++) grads.W_dec[i * d + j]! += v * s * g[b * d + j]!;
      if (inv) dNorm[i]! -= v * gw * s * s; // ∂(v/n)/∂n = −v/n²
    }
  }
  return da;
}

/** Backward of encode for ∂L/∂u = gu (B, F): W_enc, b_enc, and b_dec through sae_in = x − b_dec when `center`. */
export function encodeBackward(p: Params64, sin: Float64Array, gu: Float64Array, grads: Params64, { B, d, F }: Dims, center = true): void {
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < F; i++) grads.b_enc[i]! += gu[b * F + i]!;
    for (let j = 0; j < d; j++) {
      const v = sin[b * d + j]!;
      let back = 0;
      for (let i = 0; i < F; i++) {
        const gi = gu[b * F + i]!;
        if (gi === 0) continue;
        grads.W_enc[j * F + i]! += v * gi;
        back += gi * p.W_enc[j * F + i]!;
      }
      if (center) grads.b_dec[j]! -= back;
    }
  }
}

/** ∂‖W_dec,i‖ → ∂W_dec,i = dNorm_i · W_dec,i / ‖W_dec,i‖ */
export function normBackward(p: Params64, norms: Float64Array, dNorm: Float64Array, grads: Params64, { d, F }: Dims): void {
  for (let i = 0; i < F; i++) {
    if (dNorm[i] === 0) continue;
    const c = dNorm[i]! / norms[i]!;
    for (let j = 0; j < d; j++) grads.W_dec[i * d + j]! += c * p.W_dec[i * d + j]!;
  }
}

/** Σ_j (x̂ − t)² averaged over rows, and its gradient 2(x̂ − t)/B · weight added into g */
export function mseLoss(xhat: Float64Array, target: ArrayLike<number>, B: number, g: Float64Array, weight = 1): number {
  let s = 0;
  for (let i = 0; i < xhat.length; i++) {
    const e = xhat[i]! - target[i]!;
    s += e * e;
    g[i]! += (2 * weight * e) / B;
  }
  return (weight * s) / B;
}

export { zeroParams64 };
