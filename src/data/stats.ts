// Data statistics estimated once before training (float64), and a streaming scan that refuses NaN/Inf rows.
//   s = sqrt(d) / mean‖x‖,  mean = mean of s·x,  variance = mean of ‖s·x − mean‖²   (RECIPE §1, §2)
import type { DataStats } from '../engine/config.ts';
import type { RowSource } from './sources.ts';
import { DataError } from './errors.ts';
import { checkBlocks, blockRuns } from './batches.ts';

/** rows read per readRows call while scanning */
const CHUNK_ROWS = 4096;

/** Running float64 moments: count, Σ‖x‖, per-dimension mean and pooled Σ of squared deviations. */
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

/**
 * Adds rows `picked[0..count)` (row indices into data, count × d overall; all rows when picked is null) as
 * one batch, merged with Chan et al.'s pairwise update so a large mean loses no precision.
 */
export function addRows(acc: Moments, data: Float32Array, d: number, picked: Int32Array | null, count: number): void {
  if (count === 0) return;
  const row = (i: number) => (picked ? picked[i]! : i) * d;
  const mean = new Float64Array(d);
  for (let i = 0; i < count; i++) {
    let sq = 0;
    for (let j = 0, base = row(i); j < d; j++) {
      const v = data[base + j]!;
      mean[j]! += v;
      sq += v * v;
    }
    acc.normSum += Math.sqrt(sq);
  }
  for (let j = 0; j < d; j++) mean[j]! /= count;
  let m2 = 0;
  for (let i = 0; i < count; i++) {
    for (let j = 0, base = row(i); j < d; j++) {
      const dev = data[base + j]! - mean[j]!;
      m2 += dev * dev;
    }
  }
  const n = acc.n + count;
  for (let j = 0; j < d; j++) {
    const delta = mean[j]! - acc.mean[j]!;
    m2 += (delta * delta * acc.n * count) / n;
    acc.mean[j]! += (delta * count) / n;
  }
  acc.m2 += m2;
  acc.n = n;
}

/**
 * Statistics over the first min(sampleRows, all training rows) training rows, blocks in ascending order.
 * Refuses a sample with a NaN/Inf row or with mean‖x‖ = 0.
 */
export async function estimateDataStats(rows: RowSource, trainBlocks: number[], sampleRows = 65536): Promise<DataStats> {
  if (!Number.isSafeInteger(sampleRows) || sampleRows <= 0) throw new Error(`sampleRows must be a positive integer, got ${sampleRows}`);
  const acc = newMoments(rows.d);
  for (const [s, e] of blockRuns(checkBlocks(rows, trainBlocks), rows.rows)) {
    for (let start = s; start < e && acc.n < sampleRows; start += CHUNK_ROWS) {
      const count = Math.min(CHUNK_ROWS, e - start, sampleRows - acc.n);
      const chunk = await rows.readRows(start, count);
      const bad = firstNonFinite(chunk, rows.d);
      if (bad >= 0) {
        throw new DataError(rows.name, `row ${start + bad} contains NaN or Inf; such rows are refused (clean the data first)`);
      }
      addRows(acc, chunk, rows.d, null, chunk.length / rows.d);
    }
    if (acc.n >= sampleRows) break;
  }
  return finishStats(acc, rows);
}

/** moments of raw x → DataStats of s·x */
function finishStats(acc: Moments, rows: RowSource): DataStats {
  if (acc.n === 0) throw new DataError(rows.name, 'no training rows to estimate statistics from');
  const meanNorm = acc.normSum / acc.n;
  if (!(meanNorm > 0)) throw new DataError(rows.name, `every sampled row is zero (mean norm 0 over ${acc.n} rows); cannot scale the data`);
  const scale = Math.sqrt(rows.d) / meanNorm;
  const mean = acc.mean.map((m) => m * scale);
  return { scale, mean, variance: (scale * scale * acc.m2) / acc.n };
}

/** index of the first row (count × d) with a NaN or ±Inf, or −1 */
function firstNonFinite(chunk: Float32Array, d: number): number {
  for (let i = 0; i < chunk.length; i++) {
    if (!Number.isFinite(chunk[i])) return Math.floor(i / d);
  }
  return -1;
}

export interface FiniteScan {
  /** rows holding at least one NaN or ±Inf */
  badRows: number;
  /** the first such row, or −1 */
  firstBad: number;
}

/** Streams the whole source in chunks of chunkRows and counts rows with NaN/Inf. */
export async function scanFinite(
  rows: RowSource,
  chunkRows = CHUNK_ROWS,
  onProgress?: (rowsDone: number) => void,
): Promise<FiniteScan> {
  if (!Number.isSafeInteger(chunkRows) || chunkRows <= 0) throw new Error(`chunkRows must be a positive integer, got ${chunkRows}`);
  const out: FiniteScan = { badRows: 0, firstBad: -1 };
  for (let start = 0; start < rows.rows; start += chunkRows) {
    const count = Math.min(chunkRows, rows.rows - start);
    countBadRows(await rows.readRows(start, count), rows.d, start, out);
    onProgress?.(start + count);
  }
  return out;
}

/** adds a chunk's non-finite rows (chunk starts at row `start`) to the scan */
function countBadRows(chunk: Float32Array, d: number, start: number, out: FiniteScan): void {
  const count = chunk.length / d;
  for (let r = 0; r < count; r++) {
    for (let j = r * d; j < (r + 1) * d; j++) {
      if (!Number.isFinite(chunk[j])) {
        if (out.firstBad < 0) out.firstBad = start + r;
        out.badRows++;
        break;
      }
    }
  }
}

/** The refusal message for a scan that found NaN/Inf rows. */
export function nonFiniteError(name: string, scan: FiniteScan): DataError {
  return new DataError(
    name,
    `${scan.badRows} row${scan.badRows === 1 ? '' : 's'} contain NaN or Inf (first: row ${scan.firstBad}); ` +
      'such rows are refused; remove or fix them before training',
  );
}

/** scanFinite, then throws nonFiniteError if any row is bad. */
export async function refuseNonFinite(rows: RowSource, chunkRows = CHUNK_ROWS): Promise<void> {
  const scan = await scanFinite(rows, chunkRows);
  if (scan.badRows > 0) throw nonFiniteError(rows.name, scan);
}
