// Feature density over a window of training: the fraction of the window's tokens on which each feature
// fired, from two readings of the GPU's cumulative fire counters, as a histogram of log10(density + 1e-10)
// (RECIPE §3) — the view in which dead features (the spike at −10) and dense ones show at a glance.

export interface DensityHistogram {
  /** the step at the end of the window */
  step: number;
  /** tokens in the window */
  tokens: number;
  /** left edges of the bins, log10 units; the last bin is closed on the right */
  edges: number[];
  /** features per bin */
  counts: number[];
}

export const DENSITY_BINS = { from: -10, to: 0, width: 0.25 } as const;

export function densityHistogram(now: Uint32Array, before: Uint32Array | null, tokens: number, step: number): DensityHistogram {
  const { from, to, width } = DENSITY_BINS;
  const n = Math.round((to - from) / width);
  const counts = new Array<number>(n).fill(0);
  for (let i = 0; i < now.length; i++) {
    const fired = now[i]! - (before ? before[i]! : 0);
    const x = Math.log10(fired / Math.max(1, tokens) + 1e-10);
    counts[Math.min(n - 1, Math.max(0, Math.floor((x - from) / width)))]! += 1;
  }
  return { step, tokens, edges: counts.map((_, b) => from + b * width), counts };
}
