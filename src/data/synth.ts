// Ground-truth superposition data (RECIPE §4, toy models of superposition): F* random unit directions in R^d;
// direction j is active in each row independently with probability p_j ∝ (j + 1)^(−decay), scaled so the
// expected number active per row is activeMean (each p_j ≤ 1); active magnitudes ~ uniform(0.5, 1.5);
//   x = Σ_j c_j f_j + noise · N(0, I).
// A pure function of its options (seeded).
import { Rng } from '../engine/random.ts';

export interface SynthOptions {
  d: number;
  /** F*, the number of true directions */
  features: number;
  rows: number;
  seed: number;
  /** expected active directions per row (default 2.5) */
  activeMean?: number;
  /** standard deviation of the added Gaussian noise per coordinate (default 0.01) */
  noise?: number;
  /** power-law exponent of the frequency spectrum (default 0.5) */
  decay?: number;
}

export interface SynthData {
  /** rows × d */
  data: Float32Array<ArrayBuffer>;
  /** F* × d, unit rows */
  truth: Float32Array<ArrayBuffer>;
  /** (F*) activation probability of each direction */
  probs: Float64Array;
}

export function generateSynthetic(opts: SynthOptions): SynthData {
  const { d, features, rows, seed, activeMean = 2.5, noise = 0.01, decay = 0.5 } = opts;
  for (const [k, v] of Object.entries({ d, features, rows })) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`generateSynthetic: ${k} must be a positive integer, got ${v}`);
  }
  if (!(activeMean > 0) || !(noise >= 0) || !(decay >= 0)) throw new Error('generateSynthetic: activeMean > 0, noise ≥ 0, decay ≥ 0');
  const truth = unitDirections(features, d, new Rng(seed, 11));
  const probs = powerLawProbs(features, activeMean, decay);
  const data = new Float32Array(rows * d); // accumulated in place: a float64 copy would double the memory
  addActivations(data, truth, probs, rows, d, new Rng(seed, 12));
  addNoise(data, noise, new Rng(seed, 13));
  return { data, truth, probs };
}

/** n random unit vectors (n × d), Gaussian directions normalised */
export function unitDirections(n: number, d: number, rng: Rng): Float32Array<ArrayBuffer> {
  const out = new Float32Array(n * d);
  const v = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    let sq = 0;
    for (let j = 0; j < d; j++) {
      v[j] = rng.gaussian();
      sq += v[j] * v[j];
    }
    const inv = 1 / Math.sqrt(sq);
    for (let j = 0; j < d; j++) out[i * d + j] = v[j] * inv;
  }
  return out;
}

/** p_j = min(1, c · (j + 1)^(−decay)) with c chosen so Σ p_j = activeMean (or all 1 if activeMean ≥ n) */
export function powerLawProbs(n: number, activeMean: number, decay: number): Float64Array {
  const w = Float64Array.from({ length: n }, (_, j) => (j + 1) ** -decay);
  const p = new Float64Array(n);
  if (activeMean >= n) return p.fill(1);
  // w is decreasing, so the clipped set is a prefix: grow it until the scale no longer clips the next weight
  let clipped = 0;
  let rest = w.reduce((a, b) => a + b, 0);
  let c = activeMean / rest;
  while (clipped < n && c * w[clipped] > 1) {
    rest -= w[clipped];
    clipped++;
    c = (activeMean - clipped) / rest;
  }
  for (let j = 0; j < n; j++) p[j] = j < clipped ? 1 : Math.min(1, c * w[j]);
  return p;
}

/** acc (rows × d) += Σ_j c_j f_j, visiting each direction's active rows by geometric skips */
function addActivations(acc: Float32Array, truth: Float32Array, probs: Float64Array, rows: number, d: number, rng: Rng): void {
  for (let j = 0; j < probs.length; j++) {
    const p = probs[j];
    if (p <= 0) continue;
    const logQ = Math.log1p(-p);
    for (let r = nextActive(-1, p, logQ, rng); r < rows; r = nextActive(r, p, logQ, rng)) {
      const c = 0.5 + rng.float();
      for (let i = 0; i < d; i++) acc[r * d + i] += c * truth[j * d + i];
    }
  }
}

/** the next row after `r` where an event of probability p occurs (geometric gap) */
function nextActive(r: number, p: number, logQ: number, rng: Rng): number {
  if (p >= 1) return r + 1;
  const u = 1 - rng.float(); // (0, 1]
  return r + 1 + Math.floor(Math.log(u) / logQ);
}

function addNoise(acc: Float32Array, noise: number, rng: Rng): void {
  if (noise === 0) return;
  for (let i = 0; i < acc.length; i++) acc[i] += noise * rng.gaussian();
}
