// Input-scaling statistics accumulated while an import streams: the same float64 moments as stats.ts
// (s = sqrt(d) / mean‖x‖, mean of s·x, mean ‖s·x − mean‖²), over the first SAMPLE_ROWS training rows in
// ascending order, fed a few selected rows at a time (Chan et al.'s pairwise merge per batch).
import type { DataStats } from '../engine/config.ts';
import type { StoredStats } from './store-schema.ts';
import { DataError } from './errors.ts';

/** the sample estimateDataStats uses by default */
export const SAMPLE_ROWS = 65536;

export interface Moments {
  n: number;
  normSum: number;
  /** (d) */
  mean: Float64Array;
  /** Σ over rows and dimensions of (x − mean)² */
  m2: number;
}

export function newMoments(d: number): Moments {
  return { n: 0, normSum: 0, mean: new Float64Array(d), m2: 0 };
}

/** adds rows `picked[0..count)` (row indices into data, count × d overall) as one batch */
export function addRows(acc: Moments, data: Float32Array, d: number, picked: Int32Array, count: number): void {
  if (count === 0) return;
  const mean = new Float64Array(d);
  for (let i = 0; i < count; i++) acc.normSum += addRowTo(mean, data, picked[i] * d, d);
  for (let j = 0; j < d; j++) mean[j] /= count;
  let m2 = 0;
  for (let i = 0; i < count; i++) {
    const base = picked[i] * d;
    for (let j = 0; j < d; j++) {
      const dev = data[base + j] - mean[j];
      m2 += dev * dev;
    }
  }
  const n = acc.n + count;
  for (let j = 0; j < d; j++) {
    const delta = mean[j] - acc.mean[j];
    m2 += (delta * delta * acc.n * count) / n;
    acc.mean[j] += (delta * count) / n;
  }
  acc.m2 += m2;
  acc.n = n;
}

/** sum += row; returns ‖row‖ */
function addRowTo(sum: Float64Array, data: Float32Array, base: number, d: number): number {
  let sq = 0;
  for (let j = 0; j < d; j++) {
    const v = data[base + j];
    sum[j] += v;
    sq += v * v;
  }
  return Math.sqrt(sq);
}

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
