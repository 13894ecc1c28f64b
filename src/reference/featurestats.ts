// Float64 reference of the feature explorer's statistics (src/engine/feature-stats.ts,
// shaders/featurestats.wgsl), over the whole (rows, F) activation matrix at once, by the definitions and not
// by the GPU's batching: sorts where the GPU keeps running lists, plain float64 sums where it keeps a
// compensated float32 one. The matrix itself comes from reference/sae-forward.ts.
import { fmix32, hashInts } from '../engine/random.ts';
import type { FeatureStats } from '../engine/feature-stats.ts';

export const NONE = 0xffffffff;

export interface FeatureStatsOptions64 {
  topN: number;
  bins: number;
  quantiles: number;
  perQuantile: number;
  seed: number;
}

/** FeatureStats with the activations the reference computes kept in float64. */
export interface FeatureStats64 extends Omit<FeatureStats, 'max' | 'topActs' | 'sampleActs'> {
  max: Float64Array;
  topActs: Float64Array;
  sampleActs: Float64Array;
}

/** The sampling order: a bijection of the row for each seed, so two rows never tie. */
export function sampleHash(seed: number, row: number): number {
  return fmix32((hashInts(seed) ^ row) >>> 0);
}

/** (n + 1) edges 0, fround(max·j/n) for j = 1 … n − 1, then max. */
function edges(max: number, n: number): Float64Array {
  const e = new Float64Array(n + 1);
  for (let j = 1; j < n; j++) e[j] = Math.fround((max * j) / n);
  e[n] = max;
  return e;
}

/** The bin of a > 0: how many interior edges lie strictly below it. */
function binOf(e: Float64Array, n: number, a: number): number {
  let j = 0;
  for (let t = 1; t < n; t++) if (e[t]! < a) j++;
  return j;
}

/** Statistics of every feature of a (rows, F) row-major activation matrix; rows are indexed from 0. */
export function featureStats64(acts: ArrayLike<number>, rows: number, F: number, o: FeatureStatsOptions64): FeatureStats64 {
  if (acts.length !== rows * F) throw new Error(`acts has ${acts.length} values, expected ${rows}×${F}`);
  const { topN: N, bins, quantiles: Q, perQuantile: S, seed } = o;
  const out: FeatureStats64 = {
    features: F,
    rows,
    topN: N,
    bins,
    quantiles: Q,
    perQuantile: S,
    seed,
    count: new Uint32Array(F),
    density: new Float64Array(F),
    sum: new Float64Array(F),
    mean: new Float64Array(F),
    meanFiring: new Float64Array(F),
    max: new Float64Array(F),
    maxRow: new Uint32Array(F).fill(NONE),
    histEdges: new Float32Array(F * (bins + 1)),
    histCounts: new Uint32Array(F * bins),
    topRows: new Uint32Array(F * N).fill(NONE),
    topActs: new Float64Array(F * N),
    intervalEdges: new Float32Array(F * (Q + 1)),
    sampleRows: new Uint32Array(F * Q * S).fill(NONE),
    sampleActs: new Float64Array(F * Q * S),
  };
  for (let i = 0; i < F; i++) {
    const firing: number[] = [];
    for (let r = 0; r < rows; r++) if (acts[r * F + i]! > 0) firing.push(r);
    const a = (r: number) => acts[r * F + i]!;
    const sum = firing.reduce((s, r) => s + a(r), 0);
    let max = 0;
    for (const r of firing) {
      if (a(r) > max) {
        max = a(r);
        out.maxRow[i] = r;
      }
    }
    out.count[i] = firing.length;
    out.density[i] = firing.length / rows;
    out.sum[i] = sum;
    out.mean[i] = sum / rows;
    out.meanFiring[i] = firing.length ? sum / firing.length : 0;
    out.max[i] = max;

    const byAct = [...firing].sort((x, y) => a(y) - a(x) || x - y);
    for (let p = 0; p < Math.min(N, byAct.length); p++) {
      out.topRows[i * N + p] = byAct[p]!;
      out.topActs[i * N + p] = a(byAct[p]!);
    }

    const he = edges(max, bins);
    out.histEdges.set(he, i * (bins + 1));
    for (const r of firing) out.histCounts[i * bins + binOf(he, bins, a(r))]!++;

    const qe = edges(max, Q);
    out.intervalEdges.set(qe, i * (Q + 1));
    const members: number[][] = Array.from({ length: Q }, () => []);
    for (const r of firing) members[binOf(qe, Q, a(r))]!.push(r);
    for (let q = 0; q < Q; q++) {
      const chosen = members[q]!.sort((x, y) => sampleHash(seed, x) - sampleHash(seed, y)).slice(0, S);
      chosen.sort((x, y) => a(y) - a(x) || x - y);
      chosen.forEach((r, p) => {
        out.sampleRows[(i * Q + q) * S + p] = r;
        out.sampleActs[(i * Q + q) * S + p] = a(r);
      });
    }
  }
  return out;
}
