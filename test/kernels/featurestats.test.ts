// shaders/featurestats.wgsl through src/engine/feature-stats.ts against the float64 reference
// (src/reference/featurestats.ts), for a ReLU and a TopK SAE (d = 13, F = 37) over a few hundred rows in odd
// chunk and batch sizes. The engine creates its state buffers filled with NaN bits, so any slot the kernels
// fail to write shows up here as a mismatch with the reference.
//
// Exactness: on weights and inputs on a grid of 1/8 every activation, sum and edge is exactly representable
// in float32, so the GPU and the float64 reference see the very same numbers and must agree in every bit —
// ties in the top lists, values exactly on bin and interval edges included. On random float weights, the
// decisions (firing, bins, intervals, ranks) are compared exactly against the reference run on the GPU's own
// activations, and sums, means and maxima within 1e-5 of the float64 forward.
import { describe, expect, it } from 'vitest';
import { SaeRunner } from '../../src/engine/evaluate.ts';
import {
  FEATURE_STATS_NONE,
  computeFeatureStats,
  featureStatsOfActivations,
  featureSummary,
  type FeatureStats,
  type FeatureStatsOptions,
} from '../../src/engine/feature-stats.ts';
import type { SaeWeights } from '../../src/engine/sae.ts';
import { featureStats64, type FeatureStats64 } from '../../src/reference/featurestats.ts';
import { saeActivations64, saePre64 } from '../../src/reference/sae-forward.ts';
import { getDevice, noValidationErrors, randomArray } from '../support/gpu.ts';

const d = 13;
const F = 37;
const ROWS = 301;
const DEAD = 11; // its encoder bias keeps it from ever firing
const OPTS = { topN: 9, bins: 16, quantiles: 5, perQuantile: 3, seed: 7 };

const grid = (a: Float32Array) => a.map((v) => Math.round(v * 8) / 8);

function makeSae(arch: 'standard' | 'topk', seed: number, onGrid: boolean): SaeWeights {
  const g = onGrid ? grid : (a: Float32Array) => a;
  const b_enc = g(randomArray(F, seed + 1, -1, 0.5));
  b_enc[DEAD] = -1000;
  return {
    arch,
    d,
    features: F,
    k: arch === 'topk' ? 5 : undefined,
    applyBDecToInput: arch === 'topk',
    W_enc: g(randomArray(d * F, seed, -1, 1)),
    b_enc,
    W_dec: randomArray(F * d, seed + 2),
    b_dec: g(randomArray(d, seed + 3, -0.5, 0.5)),
    metadata: {},
  };
}

function rowsOf(seed: number, onGrid: boolean, n = ROWS): Float32Array {
  const x = randomArray(n * d, seed, -1.5, 1.5);
  return onGrid ? grid(x) : x;
}

/** A re-readable walk over x in chunks of `size` rows (the last one shorter). */
function chunked(x: Float32Array, width: number, size: number): () => AsyncIterable<Float32Array> {
  return async function* () {
    for (let r = 0; r < x.length / width; r += size) yield x.slice(r * width, Math.min(x.length, (r + size) * width));
  };
}

async function gpuStats(sae: SaeWeights, x: Float32Array, opts: FeatureStatsOptions): Promise<FeatureStats> {
  const device = await getDevice();
  return noValidationErrors(device, () => computeFeatureStats(device, sae, chunked(x, d, 7), { ...OPTS, ...opts }));
}

const DECISIONS = ['count', 'maxRow', 'histEdges', 'histCounts', 'topRows', 'intervalEdges', 'sampleRows'] as const;
const VALUES = ['max', 'topActs', 'sampleActs'] as const;
const SUMS = ['sum', 'mean', 'meanFiring', 'density'] as const;

function expectSameDecisions(got: FeatureStats, ref: FeatureStats64): void {
  for (const key of ['features', 'rows', 'topN', 'bins', 'quantiles', 'perQuantile', 'seed'] as const) expect(got[key], key).toBe(ref[key]);
  for (const key of [...DECISIONS, ...VALUES]) expect(Array.from(got[key]), key).toEqual(Array.from(ref[key]));
}

function expectSumsWithin(got: FeatureStats, ref: FeatureStats64, tol: number): void {
  for (const key of SUMS) {
    for (let i = 0; i < F; i++) {
      const g = got[key][i]!;
      const r = ref[key][i]!;
      expect(Number.isFinite(g), `${key}[${i}] = ${g}`).toBe(true);
      expect(Math.abs(g - r), `${key}[${i}]: ${g} vs ${r}`).toBeLessThanOrEqual(tol * Math.abs(r));
    }
  }
}

/**
 * How far the float64 forward keeps every decision the statistics depend on from its threshold: each
 * standard pre-activation from 0; each TopK row's k-th pre-activation from the next and from 0; each
 * feature's max from its runner-up (relative). The dead feature is left out: it is nowhere near.
 */
function decisionMargin(sae: SaeWeights, x: Float32Array, acts: Float64Array): number {
  const pre = saePre64(sae, x);
  let margin = Infinity;
  for (let b = 0; b < ROWS; b++) {
    const row = Array.from(pre.subarray(b * F, (b + 1) * F)).filter((_, i) => i !== DEAD);
    if (sae.arch === 'topk') {
      const sorted = row.sort((p, q) => q - p);
      const k = sae.k!;
      margin = Math.min(margin, sorted[k - 1]! - sorted[k]!);
      for (let r = 0; r < k; r++) margin = Math.min(margin, Math.abs(sorted[r]!));
    } else {
      for (const v of row) margin = Math.min(margin, Math.abs(v));
    }
  }
  for (let i = 0; i < F; i++) {
    if (i === DEAD) continue;
    const col = Array.from({ length: ROWS }, (_, r) => acts[r * F + i]!).sort((p, q) => q - p);
    if (col[0]! > 0) margin = Math.min(margin, (col[0]! - col[1]!) / col[0]!);
  }
  return margin;
}

/** Every array of the two results, bit for bit. */
function expectIdentical(a: FeatureStats, b: FeatureStats): void {
  for (const [key, v] of Object.entries(a)) {
    const w = (b as unknown as Record<string, unknown>)[key];
    if (ArrayBuffer.isView(v)) expect(new Uint8Array((w as Uint8Array).buffer), key).toEqual(new Uint8Array(v.buffer));
    else expect(w, key).toBe(v);
  }
}

describe('feature statistics', () => {
  for (const arch of ['standard', 'topk'] as const) {
    describe(arch, () => {
      it('match the reference in every bit when every number is exact (ties and values on edges included)', async () => {
        const sae = makeSae(arch, 31, true);
        const x = rowsOf(32, true);
        const got = await gpuStats(sae, x, { batchRows: 16 });
        const acts = saeActivations64(sae, x);
        const ref = featureStats64(acts, ROWS, F, OPTS);
        expectSameDecisions(got, ref);
        for (const key of SUMS) expect(Array.from(got[key]), key).toEqual(Array.from(ref[key]));

        // The data exercises what exactness is about: tied activations inside top lists, activations lying
        // exactly on a histogram or interval edge, a feature that never fires, and short lists.
        let ties = 0;
        let onEdge = 0;
        for (let i = 0; i < F; i++) {
          for (let p = 1; p < OPTS.topN; p++) if (got.topRows[i * OPTS.topN + p] !== FEATURE_STATS_NONE && got.topActs[i * OPTS.topN + p] === got.topActs[i * OPTS.topN + p - 1]) ties++;
          const hb = OPTS.bins + 1;
          const qb = OPTS.quantiles + 1;
          const edges = new Set([...got.histEdges.subarray(i * hb + 1, (i + 1) * hb - 1), ...got.intervalEdges.subarray(i * qb + 1, (i + 1) * qb - 1)]);
          for (let r = 0; r < ROWS; r++) if (acts[r * F + i]! > 0 && edges.has(acts[r * F + i]!)) onEdge++;
        }
        expect(ties).toBeGreaterThan(5);
        expect(onEdge).toBeGreaterThan(5);
        expect(got.count[DEAD]).toBe(0);
        expect(got.maxRow[DEAD]).toBe(FEATURE_STATS_NONE);
        expect(Array.from(got.topRows.subarray(DEAD * OPTS.topN, (DEAD + 1) * OPTS.topN))).toEqual(new Array(OPTS.topN).fill(FEATURE_STATS_NONE));
        expect(Array.from(got.histCounts.subarray(DEAD * OPTS.bins, (DEAD + 1) * OPTS.bins))).toEqual(new Array(OPTS.bins).fill(0));
        const QS = OPTS.quantiles * OPTS.perQuantile;
        expect(Array.from(got.sampleRows.subarray(DEAD * QS, (DEAD + 1) * QS))).toEqual(new Array(QS).fill(FEATURE_STATS_NONE));
        const short = Array.from({ length: F }, (_, i) => i).filter((i) => i !== DEAD && got.sampleRows.subarray(i * QS, (i + 1) * QS).includes(FEATURE_STATS_NONE));
        expect(short.length).toBeGreaterThan(0);
        // The histogram accounts for every firing row.
        for (let i = 0; i < F; i++) expect(got.histCounts.subarray(i * OPTS.bins, (i + 1) * OPTS.bins).reduce((s, c) => s + c, 0)).toBe(got.count[i]);
      });

      it('match the reference on random weights', async () => {
        const device = await getDevice();
        const sae = makeSae(arch, 41, false);
        const x = rowsOf(42, false);
        const got = await gpuStats(sae, x, { batchRows: 64 });

        // The decisions, on the very activations the GPU computed (the forward reads them back).
        const runner = new SaeRunner(device, sae, 64);
        const { acts } = await runner.forward(x);
        runner.destroy();
        const onGpuActs = featureStats64(acts, ROWS, F, OPTS);
        expectSameDecisions(got, onGpuActs);
        // The compensated float32 sum stays within a few float32 ulps of the float64 sum of the same values.
        expectSumsWithin(got, onGpuActs, 1e-6);

        // Against the float64 forward: firing and the row of the max exactly, values within 1e-5. Float32
        // rounding (about 1e-7 on these 13-term dot products) cannot flip a decision this data keeps more
        // than 1e-5 away from its threshold.
        const exact = saeActivations64(sae, x);
        expect(decisionMargin(sae, x, exact)).toBeGreaterThan(1e-5);
        const ref = featureStats64(exact, ROWS, F, OPTS);
        expect(Array.from(got.count)).toEqual(Array.from(ref.count));
        expect(Array.from(got.maxRow)).toEqual(Array.from(ref.maxRow));
        expectSumsWithin(got, ref, 1e-5);
        for (let i = 0; i < F; i++) expect(Math.abs(got.max[i]! - ref.max[i]!)).toBeLessThanOrEqual(1e-5 * ref.max[i]!);
      });

      it('do not depend on chunk or batch size, bit for bit', async () => {
        const device = await getDevice();
        const sae = makeSae(arch, 51, false);
        const x = rowsOf(52, false);
        const run = (chunk: number, batchRows: number) =>
          noValidationErrors(device, () => computeFeatureStats(device, sae, chunked(x, d, chunk), { ...OPTS, batchRows }));
        const base = await run(7, 16);
        expectIdentical(await run(64, 16), base);
        expectIdentical(await run(64, 256), base);
        expectIdentical(await run(1000, 5), base);
        expectIdentical(await run(1, 64), base);
      });
    });
  }

  it('keep a compensated sum that a plain float32 sum would lose, and handle edge cases like the reference', async () => {
    const device = await getDevice();
    const rows = 4097;
    const nF = 5;
    const acts = new Float32Array(rows * nF);
    for (let r = 0; r < rows; r++) {
      // 0: 1 then 4096 quarter-ulps of 1, each lost by a plain float32 sum; 1: all equal (every row ties
      // with the max, every value on the last edge); 2: one firing row; 3: never fires; 4: values on the grid
      // j/16 of a max of 1, each exactly on a bin edge, with negatives that must not count.
      acts[r * nF] = r === 0 ? 1 : 2 ** -25;
      acts[r * nF + 1] = 0.75;
      acts[r * nF + 2] = r === 1234 ? 3 : 0;
      acts[r * nF + 3] = 0;
      acts[r * nF + 4] = r % 3 === 0 ? -((r % 17) / 16) : (r % 17) / 16;
    }
    const opts = { ...OPTS, topN: 6, bins: 16, quantiles: 4, perQuantile: 64 };
    const got = await noValidationErrors(device, () => featureStatsOfActivations(device, nF, chunked(acts, nF, 300), { ...opts, batchRows: 128 }));
    const ref = featureStats64(acts, rows, nF, opts);
    for (const key of [...DECISIONS, ...VALUES]) expect(Array.from(got[key]), key).toEqual(Array.from(ref[key]));
    const exactSum = 1 + 4096 * 2 ** -25;
    expect(Math.abs(got.sum[0]! - exactSum) / exactSum).toBeLessThan(1e-7);
    expect(Math.fround(1 + 2 ** -25)).toBe(1); // what a plain float32 sum would do at every step
    for (let i = 1; i < nF; i++) expect(got.sum[i]).toBe(ref.sum[i]);
    expect(got.maxRow[1]).toBe(0);
    expect(got.topRows.subarray(6, 12)).toEqual(Uint32Array.from([0, 1, 2, 3, 4, 5]));
    expect(got.histCounts[1 * 16 + 15]).toBe(rows);
    expect(featureSummary(got, 2).top).toEqual([{ row: 1234, act: 3 }]);
    expect(featureSummary(got, 3)).toMatchObject({ count: 0, max: 0, maxRow: null, top: [], samples: [] });
    expect(featureSummary(got, 2).samples).toEqual([{ interval: 3, lo: 2.25, hi: 3, row: 1234, act: 3 }]);
    // Every interval of feature 4 holds more rows than the 64 sampled.
    expect(featureSummary(got, 4).samples.length).toBe(4 * 64);
  });

  it('report rows as dataset rows when given the ranges walked, and progress to the end of both passes', async () => {
    const device = await getDevice();
    const sae = makeSae('topk', 61, false);
    const x = rowsOf(62, false, 100);
    const ranges: [number, number][] = [[1000, 1030], [5000, 5070]];
    const calls: [number, number, number | undefined][] = [];
    const opts = { ...OPTS, batchRows: 16 };
    const plain = await computeFeatureStats(device, sae, chunked(x, d, 13), opts);
    const mapped = await noValidationErrors(device, () =>
      computeFeatureStats(device, sae, chunked(x, d, 13), { ...opts, ranges, onProgress: (n, p) => calls.push([n, p.pass, p.fraction]) }),
    );
    const toRow = (p: number) => (p === FEATURE_STATS_NONE ? p : p < 30 ? 1000 + p : 5000 + p - 30);
    expect(Array.from(mapped.topRows)).toEqual(Array.from(plain.topRows, toRow));
    expect(Array.from(mapped.sampleRows)).toEqual(Array.from(plain.sampleRows, toRow));
    expect(Array.from(mapped.maxRow)).toEqual(Array.from(plain.maxRow, toRow));
    expect(Array.from(mapped.histCounts)).toEqual(Array.from(plain.histCounts));

    // 100 rows in batches of 16: 7 batches per pass, progress after each, rows counted over both passes.
    expect(calls.map((c) => c[0])).toEqual([16, 32, 48, 64, 80, 96, 100, 116, 132, 148, 164, 180, 196, 200]);
    expect(calls.map((c) => c[1])).toEqual([1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2]);
    expect(calls.map((c) => c[2])).toEqual(calls.map((c) => c[0] / 200));
  });

  it('reject with an AbortError when cancelled, and leave the device usable', async () => {
    const device = await getDevice();
    const sae = makeSae('standard', 71, false);
    const x = rowsOf(72, false);
    const ctl = new AbortController();
    let batches = 0;
    const run = computeFeatureStats(device, sae, chunked(x, d, 20), {
      batchRows: 16,
      signal: ctl.signal,
      onProgress: () => {
        if (++batches === 3) ctl.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(batches).toBe(3);

    let read = false;
    const pre = new AbortController();
    pre.abort();
    const rows = () => {
      read = true;
      return chunked(x, d, 20)();
    };
    await expect(computeFeatureStats(device, sae, rows, { signal: pre.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(read).toBe(false);

    const after = await noValidationErrors(device, () => computeFeatureStats(device, sae, chunked(x, d, 20), OPTS));
    expect(after.rows).toBe(ROWS);
  });

  it('refuse rows that change between passes, and bad options, with a clear message', async () => {
    const device = await getDevice();
    const sae = makeSae('standard', 81, false);
    const x = rowsOf(82, false);
    let walks = 0;
    const shrinking = () => chunked(walks++ === 0 ? x : x.subarray(0, 100 * d), d, 50)();
    await expect(computeFeatureStats(device, sae, shrinking)).rejects.toThrow(`pass 1 saw ${ROWS} rows and pass 2 saw 100`);
    await expect(computeFeatureStats(device, sae, chunked(x.subarray(0, 5), d, 1))).rejects.toThrow('not whole rows of 13');
    await expect(computeFeatureStats(device, sae, chunked(x, d, 50), { topN: 65 })).rejects.toThrow('topN must be an integer in 0 … 64');
    await expect(computeFeatureStats(device, sae, chunked(x, d, 50), { bins: 0 })).rejects.toThrow('bins must be an integer in 1 … 256');
    await expect(computeFeatureStats(device, sae, chunked(x, d, 50), { ranges: [[0, 10]] })).rejects.toThrow(`the ranges hold 10 rows but the walk gave ${ROWS}`);
    await expect(computeFeatureStats(device, sae, chunked(x.subarray(0, 0), d, 50))).rejects.toThrow('no rows');
  });
});
