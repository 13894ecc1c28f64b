// What one architecture's part of a training step works with (engine/trainer.ts records the rest): the
// run, its buffers, each feature shard's view of them, the dispatch list being recorded, and the helpers
// every architecture uses. An architecture is an ArchStep (steps/index.ts registers them).
import type { DataStats, TrainConfig } from '../config.ts';
import type { GemmOptions } from '../gemm.ts';
import type { Dispatch, Resource, Uniform } from '../kernel.ts';
import type { ParamLayout } from '../layout.ts';
import type { KernelVariants } from '../run-state.ts';
import type { Shard } from '../shards.ts';
import type { GemmProblem, GemmRole } from '../tuner.ts';

/** The buffers a feature shard has of its own: shard 0's under these names, shard s's as `name#s`. */
export type FlatKind = 'params' | 'grads' | 'adamM' | 'adamV';
export function shardName(name: string, s: number): string {
  return s === 0 ? name : `${name}#${s}`;
}

/** A shard's buffers and bindings: its tensors, and its range of each per-feature buffer. */
export interface ShardView extends Shard {
  s: number;
  W_enc: GPUBufferBinding;
  b_enc: GPUBufferBinding;
  W_dec: GPUBufferBinding;
  gW_enc: GPUBufferBinding;
  gb_enc: GPUBufferBinding;
  gW_dec: GPUBufferBinding;
  flat(kind: FlatKind): GPUBuffer;
  /** one of the shard's (B, F) buffers */
  acts(name: string): GPUBuffer;
  /** features f0 .. f0 + F (+ extra) of a per-feature buffer */
  feat(name: string, extra?: number): GPUBufferBinding;
}

export interface StepContext {
  device: GPUDevice;
  cfg: TrainConfig;
  stats: DataStats;
  shards: Shard[];
  layouts: ParamLayout[];
  b: Record<string, GPUBuffer>;
  views: ShardView[];
  b_dec: GPUBufferBinding;
  gb_dec: GPUBufferBinding;
  variants: KernelVariants;
  /** the step's dispatches, in order */
  list: Dispatch[];
  /** per-step uniform writers, called with the 0-based step before each submission */
  writers: ((step: number) => void)[];
  /** the bookkeeping uniform of each shard (stats.wgsl's Step) */
  stepUs: Uniform[];
  /** rows of d floats come in whole vec4s */
  quads: boolean;
  matmul(role: GemmRole, M: number, N: number, K: number, A: Resource, B: Resource, C: Resource, o: GemmOptions): void;
  /** out (N) = Σ_m A[m, n] of a row-major (M, N) A */
  colsum(M: number, N: number, A: GPUBuffer, out: GPUBuffer | GPUBufferBinding): void;
  /** G = coef·(x̂' − x'), rowsq = ‖x̂' − x'‖² per row */
  residual(): void;
  /** each shard's dead mask for this step */
  deadMask(): void;
  /** Adam over `n` floats (a multiple of 4) of the given buffers, with the step's clip factor */
  adam(n: number, bufs: { grads: GPUBuffer; params: GPUBuffer; m1: GPUBuffer; m2: GPUBuffer }): void;
}

/** buffer name → floats, made by the trainer (per shard: the name is suffixed with the shard, see shardName) */
export type BufferSpec = Record<string, [label: string, floats: number]>;

/** the train form's fields beyond the common ones (features, lr, batch, steps) */
export type FormField = 'k' | 'l1' | 'l0' | 'jumpMode' | 'widths';

export interface ArchStep {
  /** how the page and the CLI name it */
  label: string;
  /** the fields the page's train form shows for it */
  fields: FormField[];
  /** multiply-adds ×2 of one step's GEMMs and sparse products (docs/RECIPE.md §10): a sweep's compute axis */
  flops(cfg: TrainConfig): number;
  /** the encoder reads x' − b_dec (SAELens's apply_b_dec_to_input) rather than x' */
  center: boolean;
  /** global gradient-norm clip (0: none) */
  clip: number;
  /** the sparse architectures' slots per row: k main entries, S in all (AuxK's after them) */
  slots?(cfg: TrainConfig): { k: number; S: number };
  /** ∂L/∂x̂' = coef·(x̂' − x') */
  residualCoef(cfg: TrainConfig, stats: DataStats): number;
  /** the loss kernel's architecture terms at a step: TopK's normalised form (sparse), the penalty's factor */
  lossTerms(cfg: TrainConfig, step: number): { sparse: number; lam: number };
  /** the step's GEMMs, for the tuner and the default variants */
  gemms(cfg: TrainConfig, F: number, p: (role: GemmRole, M: number, N: number, K: number, o?: Partial<GemmProblem>) => GemmProblem): GemmProblem[];
  /** its buffers beyond the shared ones: per shard of Fs features, and once */
  buffers(cfg: TrainConfig, Fs: number[]): { perShard: (Fs: number) => BufferSpec; shared: BufferSpec };
  /** the memory estimate's lines (bytes of one, how many) beyond the parameters and the per-feature state */
  memory(cfg: TrainConfig, Fs: number, shards: number): Record<string, [number, number]>;
  /** forward, the per-row metrics and the backward into the shards' gradients */
  record(ctx: StepContext): void;
  /** after Adam on the parameters: its own updates and the fire statistics */
  finish(ctx: StepContext): void;
  /** buffers cleared before each step */
  clears(b: Record<string, GPUBuffer>): GPUBuffer[];
  /** shared buffers that are part of the run's state (snapshots keep them), and their initial values */
  state?: { names: string[]; init(cfg: TrainConfig): Record<string, Float32Array> };
}
