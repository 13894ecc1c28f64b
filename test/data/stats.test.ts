// Data statistics in float64 over the training sample, and the NaN/Inf scan that refuses bad rows.
import { describe, expect, it } from 'vitest';
import { estimateDataStats, nonFiniteError, refuseNonFinite, scanFinite } from '../../src/data/stats.ts';
import { CountingRows } from './helpers.ts';

/** the definition, directly, in float64 over the given rows (n × d) */
function direct(x: Float32Array, d: number) {
  const n = x.length / d;
  let norm = 0;
  for (let r = 0; r < n; r++) norm += Math.hypot(...x.subarray(r * d, (r + 1) * d));
  const s = Math.sqrt(d) / (norm / n);
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) mean[j] += (s * x[r * d + j]) / n;
  let v = 0;
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) v += (s * x[r * d + j] - mean[j]) ** 2 / n;
  return { scale: s, mean, variance: v };
}

function randomRows(n: number, d: number, offset = 0): Float32Array {
  let state = 12345;
  const rand = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
  return Float32Array.from({ length: n * d }, () => offset + rand() * 2 - 1);
}

describe('estimateDataStats', () => {
  it('matches the definition over the first training rows in block order', async () => {
    const d = 5;
    const x = randomRows(256 * 12, d, 30); // a large mean: the variance must not cancel
    const src = new CountingRows(x, d);
    const train = [0, 2, 3, 7, 8, 11];
    const stats = await estimateDataStats(src, [11, 8, 7, 3, 2, 0], 1000);
    const sample = new Float32Array(1000 * d);
    let at = 0;
    for (const b of train) {
      const take = Math.min(256, 1000 - at);
      sample.set(x.subarray(b * 256 * d, (b * 256 + take) * d), at * d);
      at += take;
      if (at === 1000) break;
    }
    const want = direct(sample, d);
    expect(stats.scale).toBeCloseTo(want.scale, 12);
    for (let j = 0; j < d; j++) expect(stats.mean[j]).toBeCloseTo(want.mean[j], 10);
    expect(Math.abs(stats.variance - want.variance) / want.variance).toBeLessThan(1e-9);
    expect(src.calls.every(([s]) => train.includes(Math.floor(s / 256)))).toBe(true);
  });

  it('uses all training rows when there are fewer than sampleRows', async () => {
    const x = randomRows(600, 4);
    const stats = await estimateDataStats(new CountingRows(x, 4), [0, 1, 2]);
    expect(Math.abs(stats.variance - direct(x, 4).variance)).toBeLessThan(1e-9);
  });

  it('refuses a NaN or Inf row in the sample, naming the file and row', async () => {
    const x = randomRows(768, 4);
    x[300 * 4 + 2] = NaN;
    await expect(estimateDataStats(new CountingRows(x, 4, 'acts.npy'), [0, 1, 2])).rejects.toThrow(
      'acts.npy: row 300 contains NaN or Inf; such rows are refused (clean the data first)',
    );
    x[300 * 4 + 2] = 0;
    x[700 * 4] = -Infinity;
    await expect(estimateDataStats(new CountingRows(x, 4, 'acts.npy'), [0, 1, 2])).rejects.toThrow('acts.npy: row 700 contains NaN or Inf');
  });

  it('refuses all-zero data', async () => {
    await expect(estimateDataStats(new CountingRows(new Float32Array(512 * 3), 3, 'zeros.npy'), [0, 1])).rejects.toThrow(
      'zeros.npy: every sampled row is zero (mean norm 0 over 512 rows); cannot scale the data',
    );
  });
});

describe('scanFinite', () => {
  it('counts bad rows across chunk boundaries', async () => {
    const x = randomRows(1000, 3);
    x[99 * 3 + 1] = NaN;
    x[99 * 3 + 2] = Infinity; // same row: counts once
    x[100 * 3] = Infinity;
    x[999 * 3 + 2] = NaN;
    const src = new CountingRows(x, 3, 'acts.npy');
    expect(await scanFinite(src, 100)).toEqual({ badRows: 3, firstBad: 99 });
    expect(src.calls.length).toBe(10);
    expect(await scanFinite(new CountingRows(randomRows(10, 3), 3), 4)).toEqual({ badRows: 0, firstBad: -1 });
  });

  it('refuseNonFinite says such rows are refused', async () => {
    const x = randomRows(50, 2);
    x[20] = NaN;
    await expect(refuseNonFinite(new CountingRows(x, 2, 'acts.npy'), 16)).rejects.toThrow(
      'acts.npy: 1 row contain NaN or Inf (first: row 10); such rows are refused; remove or fix them before training',
    );
    expect(nonFiniteError('a.npy', { badRows: 4, firstBad: 2 }).message).toBe(
      'a.npy: 4 rows contain NaN or Inf (first: row 2); such rows are refused; remove or fix them before training',
    );
    await expect(refuseNonFinite(new CountingRows(randomRows(50, 2), 2))).resolves.toBeUndefined();
  });
});
