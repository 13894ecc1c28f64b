// The live views of a training run's dictionary, made at each checkpoint from the trainer's snapshot: feature
// density from the GPU's fire counters and the decoder norms every time, the features born since the last
// checkpoint with their strongest tokens, and now and then the neighbour graph the page lays out as a map.
import { densityHistogram } from '../analysis/density.ts';
import { decoderNormHistogram } from '../analysis/decoder-norms.ts';
import { newlyBorn, topLabels, type BornFeature } from '../analysis/born.ts';
import type { RowSource } from '../data/sources.ts';
import type { DatasetStore } from '../data/store.ts';
import type { TrainConfig } from '../engine/config.ts';
import { SaeRunner } from '../engine/evaluate.ts';
import { foldSae, snapshotParams } from '../engine/fold.ts';
import { decoderFits, decoderNeighbours } from '../engine/neighbours.ts';
import type { TrainerSnapshot } from '../engine/run-state.ts';
import type { TrainProgress } from './api.ts';

const MAP_EVERY_MS = 10_000;
export const MAP_NEIGHBOURS = 15;
const BORN_SHOWN = 12;
/** rows of the born-features strip's token sample: SAMPLE_RUNS runs of SAMPLE_RUN consecutive rows, spread over the dataset */
const SAMPLE_RUNS = 16;
const SAMPLE_RUN = 64;

interface ContextSample {
  x: Float32Array;
  /** the token of each sample row */
  labels: string[];
}

/** A fixed sample of the dataset's rows with their tokens, spread evenly over it, for the born-features strip. */
export async function contextSample(store: DatasetStore, id: string, rows: RowSource): Promise<ContextSample | undefined> {
  const ctx = await store.readContext(id);
  if (!ctx) return undefined;
  const runs = Math.max(1, Math.min(SAMPLE_RUNS, Math.floor(rows.rows / SAMPLE_RUN)));
  const len = Math.min(SAMPLE_RUN, rows.rows);
  const starts = Array.from({ length: runs }, (_, i) => Math.floor((i * (rows.rows - len)) / Math.max(1, runs - 1)));
  const x = new Float32Array(runs * len * rows.d);
  const labels: string[] = [];
  for (const [i, start] of starts.entries()) {
    x.set(await rows.readRows(start, len), i * len * rows.d);
    for (let r = start; r < start + len; r++) labels.push(ctx.strings[ctx.token[r]!]!);
  }
  return { x, labels };
}

/** The newly born features with their strongest tokens in the sample (none without token context). */
async function bornFeatures(dev: GPUDevice, snap: TrainerSnapshot, features: number[], sample: ContextSample | undefined): Promise<BornFeature[]> {
  const fires = (f: number) => snap.fireCount[f]!;
  if (!sample) return features.map((feature) => ({ feature, step: snap.step, fires: fires(feature), tokens: [] }));
  const runner = new SaeRunner(dev, foldSae(snapshotParams(snap), snap.config, snap.stats.scale, {}, snap.state), SAMPLE_RUN);
  try {
    const F = snap.config.features;
    const d = snap.config.d;
    const n = sample.labels.length;
    const cols = new Float32Array(n * features.length); // only the born features' columns are kept
    for (let r0 = 0; r0 < n; r0 += SAMPLE_RUN) {
      const { acts } = await runner.forward(sample.x.subarray(r0 * d, Math.min(n, r0 + SAMPLE_RUN) * d));
      for (let r = 0; r < acts.length / F; r++) features.forEach((f, j) => (cols[(r0 + r) * features.length + j] = acts[r * F + f]!));
    }
    const tokens = topLabels(cols, features.length, features.map((_, j) => j), sample.labels);
    return features.map((feature, j) => ({ feature, step: snap.step, fires: fires(feature), tokens: tokens[j]! }));
  } finally {
    runner.destroy();
  }
}

export class CheckpointViews {
  /** the fire counters at the last checkpoint, to take each interval's density from */
  private counted: { step: number; fireCount: Uint32Array } | null;
  private lastMap: number | undefined;
  /** the map's neighbour search binds W_dec whole: a dictionary whose W_dec passes one buffer trains without the map */
  private readonly mapFits: boolean;

  constructor(
    private readonly dev: GPUDevice,
    private readonly runId: string,
    private readonly cfg: TrainConfig,
    private readonly sample: ContextSample | undefined,
    resumedFrom: TrainerSnapshot | null,
  ) {
    this.counted = resumedFrom ? { step: resumedFrom.step, fireCount: resumedFrom.fireCount } : null;
    this.mapFits = decoderFits(cfg.features, cfg.d, dev.limits);
  }

  /** The views since the last checkpoint (none when no step was trained since); the map at the first and last checkpoints and at most every MAP_EVERY_MS between them. */
  async at(snapshot: TrainerSnapshot, final: boolean): Promise<TrainProgress | undefined> {
    const { cfg, counted } = this;
    const since = counted?.step ?? 0;
    this.counted = { step: snapshot.step, fireCount: snapshot.fireCount };
    if (snapshot.step <= since) return undefined;
    const tokens = (snapshot.step - since) * cfg.batch;
    const density = densityHistogram(snapshot.fireCount, counted?.fireCount ?? null, tokens, snapshot.step);
    const { W_dec } = snapshotParams(snapshot);
    const decoderNorms = decoderNormHistogram(W_dec, cfg.features, cfg.d, snapshot.step);
    const views: TrainProgress = { runId: this.runId, step: snapshot.step, steps: cfg.steps, metrics: [], tokensPerS: 0, density, decoderNorms };
    const born = newlyBorn(counted?.fireCount ?? null, snapshot.fireCount);
    if (born.length) views.born = { step: snapshot.step, total: born.length, shown: await bornFeatures(this.dev, snapshot, born.slice(0, BORN_SHOWN), this.sample) };
    if (this.mapFits && cfg.features >= 2 && (this.lastMap === undefined || final || performance.now() - this.lastMap >= MAP_EVERY_MS)) {
      this.lastMap = performance.now();
      const K = Math.min(MAP_NEIGHBOURS, cfg.features - 1);
      const { idx, sim } = await decoderNeighbours(this.dev, W_dec, cfg.features, cfg.d, K);
      const fired = Float32Array.from(snapshot.fireCount, (c, i) => Math.log10((c - (counted?.fireCount[i] ?? 0)) / tokens + 1e-10));
      views.neighbours = { step: snapshot.step, graph: { idx, sim, F: cfg.features, K }, density: fired };
    }
    return views;
  }
}
