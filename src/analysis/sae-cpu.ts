// An SAE run on the CPU for the few tokens of a sentence under intervention (src/analysis/splice.ts), by the
// float64 reference of every form (reference/sae-forward.ts), rounded once to float32: a decode of the same
// activations always gives the same bits — which is what makes an ablation of an inactive feature a no-op.
import type { SaeWeights } from '../engine/sae.ts';
import { saeActivations64, saeDecode64 } from '../reference/sae-forward.ts';

/** feature activations (rows, F) of raw rows x (rows, d) */
export function encodeCpu(sae: SaeWeights, x: Float32Array): Float32Array {
  if (x.length % sae.d !== 0) throw new Error(`encodeCpu: ${x.length} values are not rows of ${sae.d}`);
  return Float32Array.from(saeActivations64(sae, x));
}

/** reconstructions (rows, d_out) of activations f (rows, F) of raw rows x (which a normalised SAE rescales by) */
export function decodeCpu(sae: SaeWeights, f: Float32Array, x: Float32Array): Float32Array {
  return Float32Array.from(saeDecode64(sae, f, x));
}
