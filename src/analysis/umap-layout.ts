// The dictionary map's layout: UMAP (umap-js) of the decoder directions, from their precomputed k-NN graph
// (src/engine/neighbours.ts) rather than from the F×d directions themselves, so the CPU never does the
// O(F²·d) search and never needs W_dec. Cosine similarity s becomes the distance 1 − s, UMAP's cosine metric.
// Seeded, so the same graph and seed give the same map; fitted a slice of epochs at a time, so a worker can
// report progress and notice a cancellation between slices.
import { UMAP } from 'umap-js';

/** Each feature's nearest other features, nearest first; NONE pads rows with fewer than K (F ≤ K). */
export interface NeighbourGraph {
  /** (F, K) feature indices */
  idx: Uint32Array;
  /** (F, K) cosine similarities */
  sim: Float32Array;
  F: number;
  K: number;
}

export interface LayoutOptions {
  seed: number;
  /** SGD epochs; umap-js's default by size (500 up to 2,500 points, fewer beyond) when absent */
  nEpochs?: number;
  /**
   * (F, 2) an earlier map of the same features to start from instead of a random start, so that a map
   * recomputed at a later checkpoint keeps its arrangement and only drifts where the dictionary changed.
   */
  previous?: Float32Array;
}

export interface LayoutProgress {
  epoch: number;
  epochs: number;
}

export interface LayoutControl {
  onProgress?: (p: LayoutProgress) => void;
  signal?: AbortSignal;
  /** milliseconds of fitting between two yields to the event loop (progress and cancellation) */
  sliceMs?: number;
}

const NONE = 0xffffffff;
/**
 * Fewer neighbours than this and UMAP's fuzzy neighbourhoods carry nothing to lay out (log2 of the neighbour
 * count is the target it calibrates each neighbourhood to): such tiny dictionaries go on a circle instead.
 */
export const MIN_UMAP_NEIGHBOURS = 2;
/** umap-js's random start fills [−10, 10]²; an earlier map is scaled to the same extent. */
const INIT_EXTENT = 10;

/** Mulberry32: a small seeded generator of floats in [0, 1) for umap-js's start and negative sampling. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The number of leading non-padding entries every row has, after checking the graph is well formed. */
function validNeighbours(g: NeighbourGraph): number {
  const { F, K, idx, sim } = g;
  if (!Number.isInteger(F) || F < 1 || !Number.isInteger(K) || K < 1) throw new Error(`umapLayout: F and K must be positive integers, got F=${F}, K=${K}`);
  if (idx.length !== F * K || sim.length !== F * K) {
    throw new Error(`umapLayout: the graph holds ${idx.length} indices and ${sim.length} similarities, expected ${F}×${K}`);
  }
  let common = K;
  for (let i = 0; i < F; i++) {
    let n = 0;
    while (n < K && idx[i * K + n] !== NONE) n++;
    for (let r = 0; r < K; r++) {
      const j = idx[i * K + r]!;
      if (r >= n ? j !== NONE : j >= F || j === i || !Number.isFinite(sim[i * K + r]!)) {
        throw new Error(`umapLayout: feature ${i}'s neighbour ${r} (index ${j}, similarity ${sim[i * K + r]}) is not a valid neighbour`);
      }
    }
    common = Math.min(common, n);
  }
  return common;
}

/** Points evenly on a circle of the random start's extent (one point sits at the origin). */
function circle(F: number): Float32Array {
  const out = new Float32Array(2 * F);
  if (F === 1) return out;
  for (let i = 0; i < F; i++) {
    out[2 * i] = INIT_EXTENT * Math.cos((2 * Math.PI * i) / F);
    out[2 * i + 1] = INIT_EXTENT * Math.sin((2 * Math.PI * i) / F);
  }
  return out;
}

/** An earlier map, centred and scaled to the random start's extent; null when all its points coincide. */
function startFrom(previous: Float32Array, F: number): number[][] | null {
  if (previous.length !== 2 * F) throw new Error(`umapLayout: the previous map has ${previous.length / 2} points, expected ${F}`);
  if (!previous.every(Number.isFinite)) throw new Error('umapLayout: the previous map has non-finite coordinates');
  const mean = [0, 0];
  for (let i = 0; i < F; i++) for (let c = 0; c < 2; c++) mean[c]! += previous[2 * i + c]! / F;
  let extent = 0;
  for (let i = 0; i < F; i++) for (let c = 0; c < 2; c++) extent = Math.max(extent, Math.abs(previous[2 * i + c]! - mean[c]!));
  if (!(extent > 0)) return null;
  return Array.from({ length: F }, (_, i) => [0, 1].map((c) => ((previous[2 * i + c]! - mean[c]!) / extent) * INIT_EXTENT));
}

const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** A 2-D map of the features (F×2, x then y per feature) from their neighbour graph. */
export async function umapLayout(graph: NeighbourGraph, opts: LayoutOptions, control: LayoutControl = {}): Promise<Float32Array> {
  const { F, K, idx, sim } = graph;
  // umap-js refuses a neighbourhood as large as the data (each neighbourhood includes the point itself).
  const k = Math.min(validNeighbours(graph), F - 2);
  if (opts.nEpochs !== undefined && (!Number.isInteger(opts.nEpochs) || opts.nEpochs < 1)) {
    throw new Error(`umapLayout: nEpochs must be a positive integer, got ${opts.nEpochs}`);
  }
  const start = opts.previous ? startFrom(opts.previous, F) : null;
  control.signal?.throwIfAborted();
  if (k < MIN_UMAP_NEIGHBOURS) {
    control.onProgress?.({ epoch: 1, epochs: 1 });
    return circle(F);
  }

  // UMAP's k-NN lists start with the point itself at distance 0 (its calibration skips that first entry).
  const knnIndices: number[][] = new Array(F);
  const knnDistances: number[][] = new Array(F);
  for (let i = 0; i < F; i++) {
    const ids = [i];
    const dist = [0];
    for (let r = 0; r < k; r++) {
      ids.push(idx[i * K + r]!);
      // float32 cosines of duplicate directions can exceed 1 by an ulp; a distance is never negative.
      dist.push(Math.max(0, 1 - sim[i * K + r]!));
    }
    knnIndices[i] = ids;
    knnDistances[i] = dist;
  }
  const umap = new UMAP({ nComponents: 2, nNeighbors: k + 1, nEpochs: opts.nEpochs, random: seededRandom(opts.seed) });
  umap.setPrecomputedKNN(knnIndices, knnDistances);
  // With the k-NN graph given, umap-js reads only the number of points from X.
  const epochs = umap.initializeFit(Array.from({ length: F }, () => []));
  const embedding = umap.getEmbedding();
  if (start) {
    // The optimiser moves these very arrays, so the start is written into them in place.
    for (let i = 0; i < F; i++) embedding[i]!.splice(0, 2, ...start[i]!);
  }

  const sliceMs = control.sliceMs ?? 50;
  let epoch = 0;
  while (epoch < epochs) {
    const until = performance.now() + sliceMs;
    do epoch = umap.step();
    while (epoch < epochs && performance.now() < until);
    control.onProgress?.({ epoch, epochs });
    if (epoch < epochs) {
      await nextTask();
      control.signal?.throwIfAborted();
    }
  }
  const out = new Float32Array(2 * F);
  for (let i = 0; i < F; i++) {
    out[2 * i] = embedding[i]![0]!;
    out[2 * i + 1] = embedding[i]![1]!;
  }
  return out;
}
