// Float64 reference of shaders/neighbours.wgsl: each decoder row's K nearest other rows by cosine
// similarity, larger cosine first, ties to the lower index; a row of norm 0 has cosine 0 with everything.
// Rows with fewer than K others pad with NONE and cosine 0.

export const NONE = 0xffffffff;

/** The (F, F) cosine matrix of the rows of an F × d row-major matrix, in float64. */
export function cosineMatrix64(W: ArrayLike<number>, F: number, d: number): Float64Array {
  const norm = new Float64Array(F);
  for (let i = 0; i < F; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += W[i * d + k]! * W[i * d + k]!;
    norm[i] = Math.sqrt(s);
  }
  const cos = new Float64Array(F * F);
  for (let i = 0; i < F; i++) {
    for (let j = 0; j < F; j++) {
      if (norm[i] === 0 || norm[j] === 0) continue;
      let s = 0;
      for (let k = 0; k < d; k++) s += W[i * d + k]! * W[j * d + k]!;
      cos[i * F + j] = s / (norm[i]! * norm[j]!);
    }
  }
  return cos;
}

export function neighbours64(W: ArrayLike<number>, F: number, d: number, K: number): { idx: Uint32Array; sim: Float64Array; cos: Float64Array } {
  const cos = cosineMatrix64(W, F, d);
  const idx = new Uint32Array(F * K).fill(NONE);
  const sim = new Float64Array(F * K);
  for (let i = 0; i < F; i++) {
    const others: number[] = [];
    for (let j = 0; j < F; j++) if (j !== i) others.push(j);
    others.sort((a, b) => cos[i * F + b]! - cos[i * F + a]! || a - b);
    for (let r = 0; r < Math.min(K, others.length); r++) {
      idx[i * K + r] = others[r]!;
      sim[i * K + r] = cos[i * F + others[r]!]!;
    }
  }
  return { idx, sim, cos };
}
