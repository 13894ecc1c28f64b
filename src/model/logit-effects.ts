// What a feature does to the next-token logits through the direct path, as Anthropic's and Neuronpedia's
// dashboards show it: the decoder direction W_dec,i passed through the final norm's gain (centred first when
// the norm is a LayerNorm, which removes the mean) and the unembedding, then centred over the vocabulary
// (softmax ignores a constant), so a token's number is how much the feature raises its logit relative to the
// average token, per unit of activation. The norm's division by the residual's scale is left out: it
// rescales every token's effect alike.
import type { LmConfig, LmWeights } from './config.ts';

export interface TokenEffect {
  id: number;
  token: string;
  /** logit change per unit of feature activation, relative to the vocabulary's mean */
  effect: number;
}

export interface LogitEffects {
  promoted: TokenEffect[];
  suppressed: TokenEffect[];
  /** the distribution of the effect over the whole vocabulary */
  histogram: { edges: number[]; counts: number[] };
}

/** the centred logit effect of a residual-stream direction (d) on every token (vocab), in float64 */
export function directionLogits(c: LmConfig, w: LmWeights, direction: ArrayLike<number>): Float64Array {
  const d = c.d;
  const v = Float64Array.from(direction);
  if (v.length !== d) throw new RangeError(`a direction of ${v.length} values; the model's d is ${d}`);
  if (c.norm === 'layernorm') {
    const mean = v.reduce((a, b) => a + b, 0) / d;
    for (let j = 0; j < d; j++) v[j]! -= mean;
  }
  const gain = w.get('lnf.w')!;
  for (let j = 0; j < d; j++) v[j]! *= gain[j]!;
  const U = w.get(c.tied ? 'wte' : 'unembed')!; // (vocab, d)
  const out = new Float64Array(c.vocab);
  let sum = 0;
  for (let t = 0; t < c.vocab; t++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += U[t * d + j]! * v[j]!;
    out[t] = s;
    sum += s;
  }
  const mean = sum / c.vocab;
  for (let t = 0; t < c.vocab; t++) out[t]! -= mean;
  return out;
}

export function logitEffects(c: LmConfig, w: LmWeights, direction: ArrayLike<number>, tokenText: (id: number) => string, n = 10, bins = 40): LogitEffects {
  const logits = directionLogits(c, w, direction);
  const order = [...logits.keys()].sort((a, b) => logits[b]! - logits[a]! || a - b);
  const pick = (ids: number[]) => ids.map((id) => ({ id, token: tokenText(id), effect: logits[id]! }));
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of logits) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  const width = (hi - lo) / bins || 1;
  const counts = new Array<number>(bins).fill(0);
  for (const x of logits) counts[Math.min(bins - 1, Math.floor((x - lo) / width))]!++;
  return {
    promoted: pick(order.slice(0, n)),
    suppressed: pick(order.slice(-n).reverse()),
    histogram: { edges: Array.from({ length: bins + 1 }, (_, i) => lo + i * width), counts },
  };
}
