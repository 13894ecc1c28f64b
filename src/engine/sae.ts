// An SAE as it is used and saved: weights in RAW activation units (the input scale folded in, RECIPE §1).
//   pre = (x − [apply_b_dec_to_input] b_dec) · W_enc + b_enc
//   f   = ReLU(pre)                       (standard)
//       = ReLU(TopK_k(pre))               (topk)
//   x̂   = f · W_dec + b_dec
import type { Arch } from './config.ts';

export interface SaeWeights {
  arch: Arch;
  /** d_in */
  d: number;
  /** d_sae */
  features: number;
  /** topk only */
  k?: number;
  applyBDecToInput: boolean;
  /** (d, F) */
  W_enc: Float32Array;
  /** (F) */
  b_enc: Float32Array;
  /** (F, d) decoder rows */
  W_dec: Float32Array;
  /** (d) */
  b_dec: Float32Array;
  /** free-form provenance carried into cfg.json's metadata (model_name, hook_name, …) */
  metadata: Record<string, unknown>;
}
