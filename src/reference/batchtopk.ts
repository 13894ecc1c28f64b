// Float64 reference of one BatchTopK training step (docs/RECIPE.md §8), and of Matryoshka BatchTopK, as SAELens
// 6's BatchTopKTrainingSAE and MatryoshkaBatchTopKTrainingSAE compute them (rescale_acts_by_decoder_norm, their
// default): with n_i = ‖W_dec,i‖,
//   pre = ((x − b_dec)·W_enc + b_enc) ∘ n;  f = the K = ⌊k·B⌋ largest of ReLU(pre) over the whole batch, 0 elsewhere
//   x̂ = (f ∘ 1/n)·W_dec + b_dec;  L = mean_b ‖x̂ − x‖² + α·scale·L_aux (+ Σ_w mean_b ‖x̂_w − x‖², Matryoshka)
// L_aux: each row's top min(⌊d/2⌋, dead) dead latents by pre decode (with b_dec) the detached residual x − x̂;
// scale = min(dead / ⌊d/2⌋, 1). x̂_w decodes features [0, w) alone, for each inner width w of the nesting.
// After the step the batch threshold moves towards the smallest kept activation: θ ← (1 − lr)·θ + lr·min f>0.
import { decode, decodeBackward, decoderNorms, dimsOf, encode, encodeBackward, mseLoss, normBackward } from './sae-grad.ts';
import { zeroParams64, type Params64 } from './params.ts';
import { checkMatryoshkaWidths } from '../engine/config.ts';

export interface BatchTopKOptions {
  /** features kept per row, on average over the batch */
  k: number;
  /** AuxK's coefficient α */
  auxCoef: number;
  /** (F) 1 for a dead latent */
  dead?: Uint8Array;
  /** the batch threshold before the step, and its moving average's rate */
  threshold: number;
  thresholdLr: number;
  /** Matryoshka: the nested widths, strictly increasing, the last = F (each inner one adds a loss) */
  widths?: number[];
}

export interface BatchTopKResult {
  /** SAELens's names: mse_loss, auxiliary_reconstruction_loss, inner_mse_loss_<w> */
  losses: Record<string, number>;
  total: number;
  grads: Params64;
  /** (B, F) pre-activations (times ‖W_dec,i‖) */
  pre: Float64Array;
  f: Float64Array;
  xhat: Float64Array;
  /** the batch threshold after the step's update */
  threshold: number;
}

/** the K largest entries of v (ties to the lower index), as a 0/1 mask */
function topMask(v: Float64Array, K: number, allowed: (k: number) => boolean = () => true): Uint8Array {
  const order = [...v.keys()].filter(allowed).sort((a, b) => v[b]! - v[a]! || a - b);
  const mask = new Uint8Array(v.length);
  for (const k of order.slice(0, K)) mask[k] = 1;
  return mask;
}

export function batchTopKStep(p: Params64, x: ArrayLike<number>, o: BatchTopKOptions): BatchTopKResult {
  const dims = dimsOf(p, x);
  const { B, d, F } = dims;
  if (o.widths) checkMatryoshkaWidths(o.widths, F);
  const norms = decoderNorms(p, F, d);
  const inv = norms.map((n) => 1 / n);
  const { sin, u } = encode(p, x, dims);
  const pre = u.map((v, k) => v * norms[k % F]!);
  const acts = pre.map((v) => Math.max(v, 0));
  const kept = topMask(acts, Math.floor(o.k * B));
  const f = acts.map((v, k) => (kept[k] ? v : 0));
  const xhat = decode(p, f, inv, dims);
  const grads = zeroParams64(d, F);
  const dNorm = new Float64Array(F);
  const g = new Float64Array(B * d);
  const losses: Record<string, number> = { mse_loss: mseLoss(xhat, x, B, g) };
  const gf = decodeBackward(p, f, inv, g, grads, dNorm, dims);
  const gpre = new Float64Array(B * F);
  // AuxK: the dead latents' top pre-activations per row reconstruct the residual
  const numDead = o.dead ? o.dead.reduce((a, v) => a + v, 0) : 0;
  let aux = 0;
  if (numDead > 0) {
    const half = Math.floor(d / 2);
    const scale = Math.min(numDead / half, 1);
    const kAux = Math.min(half, numDead);
    const a = new Float64Array(B * F);
    for (let b = 0; b < B; b++) {
      const row = pre.subarray(b * F, (b + 1) * F);
      const m = topMask(row, kAux, (i) => o.dead![i] === 1);
      for (let i = 0; i < F; i++) if (m[i]) a[b * F + i] = row[i]!;
    }
    const recons = decode(p, a, inv, dims);
    const residual = xhat.map((v, k) => x[k]! - v);
    const ga = new Float64Array(B * d);
    aux = mseLoss(recons, residual, B, ga, o.auxCoef * scale);
    const gaa = decodeBackward(p, a, inv, ga, grads, dNorm, dims);
    for (let k = 0; k < B * F; k++) if (a[k] !== 0) gpre[k]! += gaa[k]!;
  }
  losses.auxiliary_reconstruction_loss = aux;
  for (const w of o.widths?.slice(0, -1) ?? []) {
    const inner = decode(p, f, inv, dims, w);
    const gw = new Float64Array(B * d);
    losses[`inner_mse_loss_${w}`] = mseLoss(inner, x, B, gw);
    const gfw = decodeBackward(p, f, inv, gw, grads, dNorm, dims, w);
    for (let k = 0; k < B * F; k++) gf[k]! += gfw[k]!;
  }
  // through the batch selection and the ReLU (kept entries with pre > 0), then pre = u ∘ n
  for (let k = 0; k < B * F; k++) if (kept[k] && pre[k]! > 0) gpre[k]! += gf[k]!;
  const gu = gpre.map((v, k) => v * norms[k % F]!);
  for (let k = 0; k < B * F; k++) dNorm[k % F]! += gpre[k]! * u[k]!;
  encodeBackward(p, sin, gu, grads, dims);
  normBackward(p, norms, dNorm, grads, dims);
  let minKept = Infinity;
  for (const v of f) if (v > 0 && v < minKept) minKept = v;
  const threshold = minKept < Infinity ? (1 - o.thresholdLr) * o.threshold + o.thresholdLr * minKept : o.threshold;
  const total = Object.values(losses).reduce((acc, v) => acc + v, 0);
  return { losses, total, grads, pre, f, xhat, threshold };
}
