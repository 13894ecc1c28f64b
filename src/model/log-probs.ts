// Next-token log-probabilities from a row of logits, in float64: the cross-entropy of one token (no array
// made: the perplexity and the ablation effects read one value per position), the whole log-softmax row and
// the KL divergence between two rows (the fidelity measure needs every token's probability).

/** log Σ exp(logits[at … at + vocab)), with the maximum taken out first */
function logSumExp(logits: Float32Array, at: number, vocab: number): number {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[at + v]!);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[at + v]! - max);
  return max + Math.log(sum);
}

/** −log softmax(logits)[target] */
export function tokenCrossEntropy(logits: Float32Array, at: number, vocab: number, target: number): number {
  return logSumExp(logits, at, vocab) - logits[at + target]!;
}

/** the log-softmax of one row */
export function logSoftmax(logits: Float32Array, at: number, vocab: number): Float64Array {
  const lse = logSumExp(logits, at, vocab);
  const out = new Float64Array(vocab);
  for (let v = 0; v < vocab; v++) out[v] = logits[at + v]! - lse;
  return out;
}

/** KL(p ‖ q) for log-probabilities lp (the reference) and lq */
export function klDivergence(lp: Float64Array, lq: Float64Array): number {
  let kl = 0;
  for (let v = 0; v < lp.length; v++) if (lp[v]! > -Infinity) kl += Math.exp(lp[v]!) * (lp[v]! - lq[v]!);
  return kl;
}
