// The feature explorer's table and cards, assembled from the GPU statistics pass (engine/feature-stats.ts),
// the label mass (labels.ts), the token context and the SAE's weights. Pure: the GPU worker supplies the
// activations of the context windows it shows.
import type { TokenContext } from '../data/context.ts';
import type { FeatureStats } from '../engine/feature-stats.ts';
import { featureSummary } from '../engine/feature-stats.ts';
import type { SaeWeights } from '../engine/sae.ts';
import type { FeatureLabel } from './labels.ts';
import type { ClassifierScores } from './probe.ts';

/** one row of the feature table */
export interface FeatureRow {
  feature: number;
  density: number;
  max: number;
  meanFiring: number;
  /** the dominant label, its share of the activation mass and its lift (datasets with labels) */
  label?: string;
  purity?: number;
  lift?: number;
  /** the distinct tokens of its top rows, strongest first */
  topTokens: string[];
}

export interface FeatureTable {
  saeLabel: string;
  datasetId: string;
  datasetName: string;
  /** held-out rows the statistics were computed over */
  rows: number;
  labelColumn: string | null;
  features: FeatureRow[];
}

/** a hit shown with the tokens around it, each with the feature's activation on it */
export interface Example {
  row: number;
  act: number;
  tokens: string[];
  acts: number[];
  /** index of the hit in tokens */
  at: number;
  /** for quantile samples: the activation interval it was drawn from */
  interval?: [number, number];
}

export interface FeatureCard {
  feature: number;
  density: number;
  max: number;
  meanFiring: number;
  histogram: { edges: number[]; counts: number[] };
  top: Example[];
  samples: Example[];
  /** nearest features by decoder cosine */
  neighbours: { feature: number; cos: number }[];
  /** cosine between the feature's encoder column and decoder row */
  encDecCos: number;
  /** share of the activation mass per label, and the lift over its base rate */
  labels: { name: string; share: number; lift: number }[];
  /** the feature as a classifier of its dominant label (fires → label) beside a linear probe for that label, on the held-out rows */
  probe: { label: string; probe: ClassifierScores; feature: ClassifierScores } | null;
}

export function featureTable(stats: FeatureStats, ctx: TokenContext | undefined, labels: FeatureLabel[] | null, meta: Omit<FeatureTable, 'features' | 'rows' | 'labelColumn'> & { labelColumn: string | null }): FeatureTable {
  const byFeature = new Map(labels?.map((l) => [l.feature, l]));
  const features: FeatureRow[] = [];
  for (let i = 0; i < stats.features; i++) {
    const s = featureSummary(stats, i);
    const l = byFeature.get(i);
    const topTokens = ctx ? [...new Set(s.top.map((t) => ctx.strings[ctx.token[t.row]!]!))].slice(0, 5) : [];
    features.push({ feature: i, density: s.density, max: s.max, meanFiring: s.meanFiring, topTokens, ...(l ? { label: l.label, purity: l.purity, lift: l.lift } : {}) });
  }
  return { ...meta, rows: stats.rows, features };
}

/** the rows around `row` in its document: up to `before` rows before and `after` after */
export function contextWindow(ctx: TokenContext | undefined, rows: number, row: number, before = 10, after = 5): [number, number] {
  let s = row;
  let e = row + 1;
  while (s > 0 && row - s < before && (!ctx || ctx.doc[s - 1] === ctx.doc[row])) s--;
  while (e < rows && e - row <= after && (!ctx || ctx.doc[e] === ctx.doc[row])) e++;
  return [s, e];
}

/** the n features whose decoder rows are closest in cosine to feature i's (W_dec: F × d) */
export function decoderNeighbourList(sae: SaeWeights, i: number, n = 8): { feature: number; cos: number }[] {
  const { d, features: F, W_dec } = sae;
  const norm = (f: number) => Math.sqrt(dot(W_dec, f * d, W_dec, f * d, d)) || 1;
  const ni = norm(i);
  const all: { feature: number; cos: number }[] = [];
  for (let f = 0; f < F; f++) if (f !== i) all.push({ feature: f, cos: dot(W_dec, i * d, W_dec, f * d, d) / (ni * norm(f)) });
  return all.sort((a, b) => b.cos - a.cos || a.feature - b.feature).slice(0, n);
}

/** cosine between W_enc[:, i] (d × F layout) and W_dec[i, :] */
export function encoderDecoderCosine(sae: SaeWeights, i: number): number {
  const { d, features: F } = sae;
  let ed = 0;
  let ee = 0;
  let dd = 0;
  for (let j = 0; j < d; j++) {
    const e = sae.W_enc[j * F + i]!;
    const w = sae.W_dec[i * d + j]!;
    [ed, ee, dd] = [ed + e * w, ee + e * e, dd + w * w];
  }
  return ed / Math.sqrt(ee * dd || 1);
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s = 0;
  for (let j = 0; j < n; j++) s += a[ao + j]! * b[bo + j]!;
  return s;
}
