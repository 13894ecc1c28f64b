// What a training run is made of and leaves behind, shared by the engine, the stores and the workers: the
// parameters, the metrics of a step, the kernels it runs, and the snapshot a run continues from.
import type { TrainConfig } from './config.ts';
import type { GemmChoices } from './tuner.ts';

/** Parameters in the trainer's (scaled-input) space. Shapes: W_enc (d, F), b_enc (F), W_dec (F, d), b_dec (d). */
export interface Params32 {
  W_enc: Float32Array;
  b_enc: Float32Array;
  W_dec: Float32Array;
  b_dec: Float32Array;
}

export interface StepMetrics {
  step: number;
  /** total loss of the step (scaled units) */
  loss: number;
  /** reconstruction term: (1/B)Σ‖x̂'−x'‖² (standard) or the normalised L_main (topk) */
  recon: number;
  /** λ·penalty (standard) or α·L_aux (topk) */
  sparsity: number;
  /** mean active latents per row */
  l0: number;
  /** global gradient norm before clipping */
  gradNorm: number;
  /** latents dead at the start of the step (no fire in the dead window) */
  dead: number;
  /** factor the gradients were scaled by (1 = not clipped) */
  clipScale: number;
}

/** Everything a run needs to continue bit for bit (structured-cloneable, so IndexedDB can hold it). */
export interface TrainerSnapshot {
  version: 1;
  config: TrainConfig;
  stats: { scale: number; mean: number[]; variance: number };
  step: number;
  kernels: KernelVariants;
  /** flat buffers in ParamLayout order, padding included (split into shards: each shard's, end to end) */
  params: Float32Array;
  adamM: Float32Array;
  adamV: Float32Array;
  lastFired: Uint32Array;
  fireCount: Uint32Array;
  /** features of each shard, where the dictionary was split into feature shards (engine/shards.ts) */
  shards?: number[];
  /** the architecture's own state (JumpReLU: its log thresholds 'theta' and their Adam moments) */
  state?: Record<string, Float32Array>;
}

/** The kernel variants a run uses; recorded in snapshots, since a resumed run must use the same. */
export interface KernelVariants {
  /** one variant per GEMM of the step (snapshots before the tuner hold one variant for all) */
  matmul: GemmChoices;
}
