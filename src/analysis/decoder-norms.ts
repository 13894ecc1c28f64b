// The decoder-norm histogram: ‖W_dec,i‖ for every feature. The standard SAE's L1 term is weighted by these
// norms, so their spread shows how the penalty is being shared out; a TopK SAE's rows stay near 1 (RECIPE
// §1), and a row drifting away from that is worth a look.

export interface NormHistogram {
  step: number;
  /** left edges of the bins; the last bin is closed on the right */
  edges: number[];
  counts: number[];
  min: number;
  max: number;
}

export const NORM_BINS = 40;

/** (F × d) decoder rows → the histogram of their L2 norms over [min, max] (one bin when all are equal to 1e-5) */
export function decoderNormHistogram(wdec: Float32Array, F: number, d: number, step: number): NormHistogram {
  if (wdec.length !== F * d) throw new Error(`decoderNormHistogram: ${wdec.length} values is not ${F}×${d}`);
  const norms = new Float64Array(F);
  for (let i = 0; i < F; i++) {
    let s = 0;
    for (let j = i * d; j < (i + 1) * d; j++) s += wdec[j]! * wdec[j]!;
    norms[i] = Math.sqrt(s);
  }
  let min = Infinity;
  let max = -Infinity;
  for (const n of norms) [min, max] = [Math.min(min, n), Math.max(max, n)];
  // a spread within float rounding (TopK's unit rows) is one value, not forty bins of noise
  const spread = max - min > 1e-5 * max;
  const bins = spread ? NORM_BINS : 1;
  const width = spread ? (max - min) / bins : 1;
  const counts = new Array<number>(bins).fill(0);
  for (const n of norms) counts[Math.min(bins - 1, Math.floor((n - min) / width))]! += 1;
  return { step, edges: counts.map((_, b) => min + b * width), counts, min, max };
}
