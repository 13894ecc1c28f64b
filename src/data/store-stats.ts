// Input-scaling statistics accumulated while an import streams: the same float64 moments as stats.ts
// (s = sqrt(d) / mean‖x‖, mean of s·x, mean ‖s·x − mean‖²), over the first SAMPLE_ROWS training rows in
// ascending order, fed a few selected rows at a time (Chan et al.'s pairwise merge per batch).
import type { DataStats } from '../engine/config.ts';
import type { StoredStats } from './store-schema.ts';
import { DataError } from './errors.ts';
import type { Moments } from './stats.ts';

/** the sample estimateDataStats uses by default */
export const SAMPLE_ROWS = 65536;

/** moments of raw x → the stored statistics of s·x; `name` names the data in errors */
export function finishMoments(acc: Moments, d: number, name: string, trainOnly: boolean): StoredStats {
  if (acc.n === 0) throw new DataError(name, 'no rows to estimate the input statistics from');
  const meanNorm = acc.normSum / acc.n;
  if (!(meanNorm > 0)) throw new DataError(name, `every sampled row is zero (mean norm 0 over ${acc.n} rows); cannot scale the data`);
  const scale = Math.sqrt(d) / meanNorm;
  return {
    scale,
    mean: Array.from(acc.mean, (m) => m * scale),
    variance: (scale * scale * acc.m2) / acc.n,
    sampleRows: acc.n,
    trainOnly,
  };
}

/** DataStats (from estimateDataStats) → the stored form */
export function storedStats(stats: DataStats, sampleRows: number, trainOnly: boolean): StoredStats {
  return { scale: stats.scale, mean: Array.from(stats.mean), variance: stats.variance, sampleRows, trainOnly };
}

/** the stored form → DataStats, as the trainer takes it */
export function toDataStats(stats: StoredStats): DataStats {
  return { scale: stats.scale, mean: Float64Array.from(stats.mean), variance: stats.variance };
}
