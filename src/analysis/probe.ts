// Features against linear probes (Towards/Scaling Monosemanticity compare a feature with a logistic-regression
// probe for the same property): a one-vs-rest logistic probe per label, fit on raw activation rows of the
// training split and scored on the held-out rows, beside the feature itself used as a classifier for the
// label on the same held-out rows. Pure CPU, float64 arithmetic, deterministic for a seed.
//
// Memory: the probe is fit on an in-memory sample of training rows (n × d float32; callers cap n — the CLI at
// 20,000 rows, 40 MB at d = 512, 123 MB at d = 1536) because gradient descent revisits every row each epoch
// and re-reading a file per epoch would cost more than the fit. Everything else streams: the mean/std pass
// (Moments) takes chunks, and probes and features are scored on held-out rows chunk by chunk (Confusion,
// FireCounts), so the held-out rows are never held at once.
//
// Rules, fixed so that the two sides compare like with like and say what they mean:
// - the probe predicts the label when its logit is at or above the threshold that maximises F1 on the
//   training rows it was fit on (a rare label such as CONJ, 2% of tokens, otherwise gets almost no
//   positives at probability 0.5 without being any less linearly decodable); a fixed probability can be
//   asked for instead.
// - a feature predicts the label when it fires (activation > 0): the SAE's own firing rule, with nothing
//   tuned, the same rule the label-mass purity counts with (labels.ts).
import { Rng } from '../engine/random.ts';

/** streaming per-column mean and variance (Chan et al.'s merge of chunk moments, float64) */
export interface Moments {
  d: number;
  n: number;
  mean: Float64Array;
  /** sum of squared deviations from the mean, per column */
  m2: Float64Array;
}

export function newMoments(d: number): Moments {
  return { d, n: 0, mean: new Float64Array(d), m2: new Float64Array(d) };
}

/** adds a chunk of rows (rows × d, row-major) */
export function addMoments(m: Moments, rows: Float32Array): void {
  const d = m.d;
  const k = rows.length / d;
  if (!Number.isInteger(k)) throw new Error(`addMoments: ${rows.length} values is not a whole number of ${d}-wide rows`);
  if (k === 0) return;
  // the chunk's own mean and M2 first, then one merge: fewer cancellation problems than running sums of x²
  const cm = new Float64Array(d);
  for (let r = 0; r < k; r++) for (let j = 0; j < d; j++) cm[j]! += rows[r * d + j]!;
  for (let j = 0; j < d; j++) cm[j]! /= k;
  const c2 = new Float64Array(d);
  for (let r = 0; r < k; r++) {
    for (let j = 0; j < d; j++) {
      const e = rows[r * d + j]! - cm[j]!;
      c2[j]! += e * e;
    }
  }
  const n = m.n + k;
  for (let j = 0; j < d; j++) {
    const delta = cm[j]! - m.mean[j]!;
    m.mean[j]! += (delta * k) / n;
    m.m2[j]! += c2[j]! + (delta * delta * m.n * k) / n;
  }
  m.n = n;
}

/** x ↦ (x − mean) / std per column */
export interface Standardiser {
  mean: Float64Array;
  /** 1 / std; 0 for a column constant over the training rows (it carries nothing, and 1/0 would blow up) */
  invStd: Float64Array;
}

export function standardiser(m: Moments): Standardiser {
  if (m.n === 0) throw new Error('standardiser: no rows');
  const invStd = new Float64Array(m.d);
  for (let j = 0; j < m.d; j++) {
    const std = Math.sqrt(m.m2[j]! / m.n);
    invStd[j] = std > 1e-12 * (1 + Math.abs(m.mean[j]!)) ? 1 / std : 0;
  }
  return { mean: Float64Array.from(m.mean), invStd };
}

export interface ProbeOptions {
  /** passes over the training rows (default 20) */
  epochs?: number;
  /** rows per Adam step (default 256) */
  batch?: number;
  /** Adam step size (default 0.01) */
  lr?: number;
  /** L2 penalty λ/2·‖w‖² on the standardised weights, bias not penalised (default 1e-3) */
  l2?: number;
  /** seeds the row order of every epoch (default 0) */
  seed?: number;
  /** 'best-f1' (default): the logit threshold maximising F1 on the training rows; or a fixed probability, e.g. 0.5 */
  threshold?: 'best-f1' | number;
}

export const PROBE_DEFAULTS = { epochs: 20, batch: 256, lr: 0.01, l2: 1e-3, seed: 0, threshold: 'best-f1' } as const;

export interface Probe {
  /** the label id it detects (one vs rest) */
  label: number;
  d: number;
  /** weights and bias on standardised inputs, as trained */
  w: Float64Array;
  b: number;
  standardiser: Standardiser;
  /** predicts the label when the logit is ≥ this */
  threshold: number;
  /** training rows, and those carrying the label */
  rows: number;
  positives: number;
  /** mean cross-entropy (without the L2 term) over the last epoch, each row scored just before its batch's step */
  loss: number;
}

/**
 * Fits one logistic probe per label in `classes` on the rows x (n × d) whose labels are `labels` (n):
 * label c is the positive class of probe c, every other row negative. Mini-batch Adam over a fixed number
 * of epochs, each visiting the rows in an order seeded by (seed, epoch); all probes step on the same batch,
 * so the rows are standardised once per batch. Pass `std` when the mean/std came from a streaming pass,
 * else it is computed from x.
 */
export function trainProbes(x: Float32Array, d: number, labels: ArrayLike<number>, classes: number[], opts: ProbeOptions = {}, std?: Standardiser): Probe[] {
  const o = { ...PROBE_DEFAULTS, ...opts };
  const n = labels.length;
  if (x.length !== n * d) throw new Error(`trainProbes: ${x.length} values is not ${n} rows × ${d}`);
  if (n === 0) throw new Error('trainProbes: no training rows');
  for (const [k, v] of [['epochs', o.epochs], ['batch', o.batch]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`trainProbes: ${k} must be a positive integer, got ${v}`);
  }
  if (!(o.lr > 0) || !(o.l2 >= 0)) throw new Error(`trainProbes: lr must be > 0 and l2 ≥ 0, got ${o.lr} and ${o.l2}`);
  if (typeof o.threshold === 'number' && !(o.threshold > 0 && o.threshold < 1)) throw new Error(`trainProbes: a fixed threshold is a probability in (0, 1), got ${o.threshold}`);
  if (!std) {
    const m = newMoments(d);
    addMoments(m, x);
    std = standardiser(m);
  }
  const C = classes.length;
  const D = d + 1; // per probe: [w…, b]
  const W = new Float64Array(C * D);
  const M = new Float64Array(C * D);
  const V = new Float64Array(C * D);
  const G = new Float64Array(C * D);
  const loss = new Float64Array(C);
  const B = Math.min(o.batch, n);
  const xs = new Float64Array(B * d);
  const order = new Uint32Array(n);
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8];
  let t = 0;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    for (let i = 0; i < n; i++) order[i] = i;
    new Rng(o.seed, 0x9b0be, epoch).shuffle(order);
    loss.fill(0);
    for (let at = 0; at < n; at += B) {
      const k = Math.min(B, n - at);
      standardise(x, d, order, at, k, std, xs);
      G.fill(0);
      // row by row, every probe in turn: the probes share each standardised row (one pass over the batch)
      for (let i = 0; i < k; i++) {
        const row = i * d;
        const label = labels[order[at + i]!];
        for (let c = 0; c < C; c++) {
          const wo = c * D;
          let z = W[wo + d]!;
          for (let j = 0; j < d; j++) z += W[wo + j]! * xs[row + j]!;
          const y = label === classes[c] ? 1 : 0;
          loss[c]! += Math.max(z, 0) - y * z + Math.log1p(Math.exp(-Math.abs(z)));
          const e = (sigmoid(z) - y) / k;
          for (let j = 0; j < d; j++) G[wo + j]! += e * xs[row + j]!;
          G[wo + d]! += e;
        }
      }
      t++;
      const c1 = 1 - beta1 ** t;
      const c2 = 1 - beta2 ** t;
      for (let c = 0; c < C; c++) {
        const wo = c * D;
        for (let j = 0; j < d; j++) G[wo + j]! += o.l2 * W[wo + j]!;
      }
      for (let j = 0; j < C * D; j++) {
        M[j] = beta1 * M[j]! + (1 - beta1) * G[j]!;
        V[j] = beta2 * V[j]! + (1 - beta2) * G[j]! * G[j]!;
        W[j]! -= (o.lr * (M[j]! / c1)) / (Math.sqrt(V[j]! / c2) + eps);
      }
    }
  }
  return classes.map((label, c) => {
    const probe: Probe = { label, d, w: W.slice(c * D, c * D + d), b: W[c * D + d]!, standardiser: std, threshold: 0, rows: n, positives: 0, loss: loss[c]! / n };
    const pos = Uint8Array.from({ length: n }, (_, i) => (labels[i] === label ? 1 : 0));
    probe.positives = pos.reduce((s, p) => s + p, 0);
    probe.threshold = typeof o.threshold === 'number' ? Math.log(o.threshold / (1 - o.threshold)) : bestF1Threshold(probeLogits(probe, x), pos);
    return probe;
  });
}

/** rows order[at .. at + k) of x, standardised, into out (k × d) */
function standardise(x: Float32Array, d: number, order: Uint32Array, at: number, k: number, s: Standardiser, out: Float64Array): void {
  for (let i = 0; i < k; i++) {
    const src = order[at + i]! * d;
    const dst = i * d;
    for (let j = 0; j < d; j++) out[dst + j] = (x[src + j]! - s.mean[j]!) * s.invStd[j]!;
  }
}

function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** the probe's logit for each row of `rows` (k × d raw activations) */
export function probeLogits(p: Probe, rows: Float32Array): Float64Array {
  const d = p.d;
  const k = rows.length / d;
  if (!Number.isInteger(k)) throw new Error(`probeLogits: ${rows.length} values is not a whole number of ${d}-wide rows`);
  const { mean, invStd } = p.standardiser;
  const out = new Float64Array(k);
  for (let r = 0; r < k; r++) {
    let z = p.b;
    for (let j = 0; j < d; j++) z += p.w[j]! * (rows[r * d + j]! - mean[j]!) * invStd[j]!;
    out[r] = z;
  }
  return out;
}

/**
 * The threshold on `scores` maximising F1 for `positive` (predict positive when score ≥ threshold): the
 * midpoint between the lowest score kept and the highest dropped, the cut furthest from both on unseen rows.
 * Ties break toward fewer positives. No positive rows: +Infinity (predicts nothing); all kept: −Infinity.
 */
export function bestF1Threshold(scores: ArrayLike<number>, positive: ArrayLike<number | boolean>): number {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  let total = 0;
  for (let i = 0; i < n; i++) if (positive[i]) total++;
  if (total === 0) return Infinity;
  let tp = 0;
  let best = 0;
  let cut = 0; // rows predicted positive at the best threshold
  for (let i = 0; i < n; ) {
    // a group of equal scores is all kept or all dropped
    let j = i;
    while (j < n && scores[idx[j]!] === scores[idx[i]!]) {
      if (positive[idx[j]!]) tp++;
      j++;
    }
    const f1 = (2 * tp) / (j + total);
    if (f1 > best) [best, cut] = [f1, j];
    i = j;
  }
  const lo = scores[idx[cut - 1]!]!;
  return cut === n ? -Infinity : (lo + scores[idx[cut]!]!) / 2;
}

/** counts of a binary classifier against the truth */
export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

export const newConfusion = (): Confusion => ({ tp: 0, fp: 0, fn: 0, tn: 0 });

export interface ClassifierScores {
  /** tp / (tp + fp); 0 when it predicts nothing */
  precision: number;
  /** tp / (tp + fn); 0 when the label never occurs */
  recall: number;
  /** their harmonic mean, 2tp / (2tp + fp + fn); 0 when both are 0 */
  f1: number;
}

export function classifierScores(c: Confusion): ClassifierScores {
  return {
    precision: c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : 0,
    recall: c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : 0,
    f1: c.tp > 0 ? (2 * c.tp) / (2 * c.tp + c.fp + c.fn) : 0,
  };
}

/** adds a chunk of held-out rows (k × d raw) with their labels to the probe's confusion counts */
export function addProbeConfusion(into: Confusion, p: Probe, rows: Float32Array, labels: ArrayLike<number>): Confusion {
  const z = probeLogits(p, rows);
  if (z.length !== labels.length) throw new Error(`addProbeConfusion: ${z.length} rows but ${labels.length} labels`);
  for (let r = 0; r < z.length; r++) tally(into, z[r]! >= p.threshold, labels[r] === p.label);
  return into;
}

function tally(c: Confusion, predicted: boolean, actual: boolean): void {
  if (predicted) {
    if (actual) c.tp++;
    else c.fp++;
  } else if (actual) c.fn++;
  else c.tn++;
}

/**
 * One feature as a classifier for one label over a chunk: acts (rows × F), it predicts the label where its
 * activation is > `threshold` (0: where it fires).
 */
export function featureAsClassifier(acts: Float32Array, F: number, feature: number, labels: ArrayLike<number>, label: number, threshold = 0, into = newConfusion()): Confusion {
  if (acts.length !== labels.length * F) throw new Error(`featureAsClassifier: ${acts.length} activations is not ${labels.length}×${F}`);
  for (let r = 0; r < labels.length; r++) tally(into, acts[r * F + feature]! > threshold, labels[r] === label);
  return into;
}

/**
 * Every feature against every label at once, streamed over chunks: per feature the rows it fires on
 * (activation > 0), split by label, and the rows per label — enough for any (feature, label) confusion.
 */
export interface FireCounts {
  features: number;
  labels: number;
  rows: number;
  /** (L) rows per label */
  labelRows: Float64Array;
  /** (F, L) rows on which the feature fired, by the row's label */
  firesOn: Float64Array;
}

export function newFireCounts(features: number, labels: number): FireCounts {
  return { features, labels, rows: 0, labelRows: new Float64Array(labels), firesOn: new Float64Array(features * labels) };
}

export function addFireCounts(c: FireCounts, acts: Float32Array, labels: ArrayLike<number>): void {
  const [F, L] = [c.features, c.labels];
  if (acts.length !== labels.length * F) throw new Error(`addFireCounts: ${acts.length} activations is not ${labels.length}×${F}`);
  for (let r = 0; r < labels.length; r++) {
    const l = labels[r]!;
    if (!(l >= 0 && l < L)) throw new Error(`addFireCounts: row ${r} has label ${l}, outside the ${L} labels`);
    c.labelRows[l]! += 1;
    for (let f = 0; f < F; f++) if (acts[r * F + f]! > 0) c.firesOn[f * L + l]! += 1;
  }
  c.rows += labels.length;
}

/** feature f as a classifier for label l (fires = predicts l) over the rows counted */
export function featureConfusion(c: FireCounts, f: number, l: number): Confusion {
  let fires = 0;
  for (let k = 0; k < c.labels; k++) fires += c.firesOn[f * c.labels + k]!;
  const tp = c.firesOn[f * c.labels + l]!;
  const fn = c.labelRows[l]! - tp;
  const fp = fires - tp;
  return { tp, fp, fn, tn: c.rows - tp - fp - fn };
}

/** [0, rows) less the held-out ranges (ascending, disjoint): the training side of a split, as ranges */
export function complementRanges(heldOut: [number, number][], rows: number): [number, number][] {
  const out: [number, number][] = [];
  let at = 0;
  for (const [s, e] of heldOut) {
    if (s > at) out.push([at, s]);
    at = Math.max(at, e);
  }
  if (at < rows) out.push([at, rows]);
  return out;
}

/**
 * At most maxRows of the rows in `ranges`, as ranges: the ranges are cut at 256-row block boundaries and
 * whole pieces drawn in an order seeded by `seed` until the cap (the last piece cut short), then returned
 * ascending so a file is read front to back. Pieces rather than single rows so the reads stay contiguous;
 * many pieces rather than a prefix so the sample spans the data's documents.
 */
export function sampleRanges(ranges: [number, number][], maxRows: number, seed: number, pieceRows = 256): [number, number][] {
  const total = ranges.reduce((n, [s, e]) => n + e - s, 0);
  if (total <= maxRows) return ranges.map(([s, e]) => [s, e]);
  const pieces: [number, number][] = [];
  for (const [s, e] of ranges) {
    for (let a = s; a < e; ) {
      const b = Math.min(e, (Math.floor(a / pieceRows) + 1) * pieceRows);
      pieces.push([a, b]);
      a = b;
    }
  }
  const order = new Rng(seed, 0x5a3b1e).shuffle(Uint32Array.from(pieces, (_, i) => i));
  const picked: [number, number][] = [];
  let n = 0;
  for (const i of order) {
    const [s, e] = pieces[i]!;
    if (n >= maxRows) break;
    const take = Math.min(e - s, maxRows - n);
    picked.push([s, s + take]);
    n += take;
  }
  picked.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [s, e] of picked) {
    const last = merged[merged.length - 1];
    if (last && last[1] === s) last[1] = e;
    else merged.push([s, e]);
  }
  return merged;
}
