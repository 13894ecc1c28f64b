// An SAE as it is used and saved: weights in RAW activation units (the input scale folded in, docs/RECIPE.md §1).
//   x'  = x, or SAELens's run-time normalisation of the row (normalize)
//   pre = (x' − [apply_b_dec_to_input] b_dec) · W_enc + b_enc
//   f   = ReLU(pre)                       (standard)
//       = ReLU(TopK_k(pre))               (topk)
//       = ReLU(pre) · 1[pre > θ]          (jumprelu; a Gated SAE is loaded as this, exactly)
//   x̂   = f · W_dec + b_dec  (+ x · W_skipᵀ for a skip transcoder), then the normalisation undone
// A transcoder's decoder writes d_out values per row, another activation than the one it reads.
import type { Arch } from './config.ts';

/** the activation functions an SAE can have here (a trained BatchTopK or Matryoshka SAE is a JumpReLU one) */
export type SaeArch = Exclude<Arch, 'batchtopk' | 'matryoshka'>;

/** SAELens's `normalize_activations` modes applied to each row at run time */
export type RowNorm = 'constant_norm_rescale' | 'layer_norm';

export interface SaeWeights {
  arch: SaeArch;
  /** d_in */
  d: number;
  /** d_sae */
  features: number;
  /** topk only */
  k?: number;
  /** jumprelu only: the per-feature threshold θ (F) */
  threshold?: Float32Array;
  applyBDecToInput: boolean;
  /** run-time normalisation of each input row, undone on the reconstruction (not on a transcoder's output) */
  normalize?: RowNorm;
  /**
   * SAELens's reshape_activations "hook_z": trained on an attention hook_z, (n_heads, d_head) per position, which
   * SAELens flattens to d_in = n_heads·d_head on the way in and back on the way out. Rows here are always flat,
   * so the forward pass is the same; the flag is kept so the SAE is saved as it came.
   */
  hookZ?: boolean;
  /** transcoders: the output width (absent: an SAE, d_out = d) */
  dOut?: number;
  /** skip transcoders: (d_out, d) */
  W_skip?: Float32Array;
  /** (d, F) */
  W_enc: Float32Array;
  /** (F) */
  b_enc: Float32Array;
  /** (F, d_out) decoder rows */
  W_dec: Float32Array;
  /** (d_out) */
  b_dec: Float32Array;
  /** free-form provenance carried into cfg.json's metadata (model_name, hook_name, …) */
  metadata: Record<string, unknown>;
}

/** the width of the decoder's output: d_out for a transcoder, else d */
export function outWidth(sae: SaeWeights): number {
  return sae.dOut ?? sae.d;
}

/** how the page and the CLI name an SAE's form: its activation, normalisation and transcoder width */
export function formLabel(sae: SaeWeights): string {
  const parts: string[] = [sae.arch === 'topk' ? `topk k=${sae.k}` : sae.arch];
  if (sae.normalize) parts.push(sae.normalize);
  if (sae.dOut !== undefined) parts.push(`${sae.W_skip ? 'skip ' : ''}transcoder → d_out=${sae.dOut}`);
  return parts.join(', ');
}
