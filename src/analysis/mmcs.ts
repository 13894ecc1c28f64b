// MMCS (RECIPE §3, synthetic data only): mean over ground-truth directions of the maximum cosine similarity
// to any decoder row, in float64. A decoder row of norm 0 has cosine 0 with everything.

/**
 * truth: nTrue × d ground-truth directions; decoderRows: nFeatures × d (W_dec).
 * Returns mean_i max_j cos(truth_i, dec_j).
 */
export function mmcs(truth: Float32Array, nTrue: number, decoderRows: Float32Array, nFeatures: number, d: number): number {
  return bestCosines(truth, nTrue, decoderRows, nFeatures, d).reduce((a, c) => a + c, 0) / nTrue;
}

/** each ground-truth direction's best cosine with a decoder row (MMCS is their mean) */
export function bestCosines(truth: Float32Array, nTrue: number, decoderRows: Float32Array, nFeatures: number, d: number): Float64Array {
  if (truth.length !== nTrue * d) throw new Error(`mmcs: truth has ${truth.length} values, expected ${nTrue}×${d}`);
  if (decoderRows.length !== nFeatures * d) throw new Error(`mmcs: decoder has ${decoderRows.length} values, expected ${nFeatures}×${d}`);
  if (nTrue === 0 || nFeatures === 0) throw new Error('mmcs: needs at least one true direction and one decoder row');
  const decNorm = rowNorms(decoderRows, nFeatures, d);
  return Float64Array.from({ length: nTrue }, (_, i) => maxCosine(truth.subarray(i * d, (i + 1) * d), decoderRows, decNorm, d));
}

/** per-row Euclidean norms (n) of an n × d matrix */
function rowNorms(m: Float32Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let sq = 0;
    for (let j = 0; j < d; j++) sq += m[r * d + j] * m[r * d + j];
    out[r] = Math.sqrt(sq);
  }
  return out;
}

/** max over decoder rows of cos(t, row); rows of norm 0 count as cosine 0 */
function maxCosine(t: Float32Array, dec: Float32Array, decNorm: Float64Array, d: number): number {
  let tn = 0;
  for (let j = 0; j < d; j++) tn += t[j] * t[j];
  tn = Math.sqrt(tn);
  if (tn === 0) throw new Error('mmcs: a true direction has norm 0');
  let best = -Infinity;
  for (let r = 0; r < decNorm.length; r++) {
    let dot = 0;
    for (let j = 0; j < d; j++) dot += t[j] * dec[r * d + j];
    const cos = decNorm[r] > 0 ? dot / (tn * decNorm[r]) : 0;
    if (cos > best) best = cos;
  }
  return best;
}
