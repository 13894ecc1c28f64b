// What `npm run bench` trains, shared by its Node part and its browser page so both sides build the very same
// runs: the shapes of the speed issue, the synthetic data and its statistics, the initial parameters and the
// batch of each step. Everything here is a pure function of its arguments (seeded).
import { generateSynthetic } from '../src/data/synth.ts';
import { defaultConfig, type Arch, type DataStats, type TrainConfig } from '../src/engine/config.ts';

export interface Shape {
  name: 'small' | 'demo' | 'large';
  d: number;
  features: number;
  batch: number;
}

export const SHAPES: Shape[] = [
  { name: 'small', d: 64, features: 512, batch: 256 },
  { name: 'demo', d: 512, features: 4096, batch: 1024 },
  { name: 'large', d: 768, features: 32768, batch: 4096 },
];
export const ARCHES: Arch[] = ['standard', 'topk'];

/** The loss-curve comparison: this many steps on the small shape, the schedules defined over them. */
export const CURVE_STEPS = 200;

/** Distinct batches cycled through by a run (the data is generated, so it is kept small). */
export function batchCount(shape: Shape): number {
  return shape.name === 'small' ? 32 : 4;
}

/**
 * The run's configuration. On the small shape the schedules span the compared run (λ warm-up, lr decay and,
 * for TopK, a dead window of a quarter of the run, so AuxK turns on); elsewhere over a nominal 1000 steps,
 * of which only a few are timed.
 */
export function benchConfig(shape: Shape, arch: Arch): TrainConfig {
  const steps = shape.name === 'small' ? CURVE_STEPS : 1000;
  return defaultConfig({ arch, d: shape.d, features: shape.features, batch: shape.batch, steps, k: 32, seed: 0 });
}

export interface Workload {
  cfg: TrainConfig;
  stats: DataStats;
  /** raw rows, batchCount(shape) batches of B × d */
  data: Float32Array;
  /** the raw batch of 0-based step t */
  batch(t: number): Float32Array;
}

export function workload(shape: Shape, arch: Arch): Workload {
  const cfg = benchConfig(shape, arch);
  const n = batchCount(shape);
  const { data } = generateSynthetic({ d: shape.d, features: shape.d * 4, rows: shape.batch * n, seed: 0 });
  const size = cfg.batch * cfg.d;
  return { cfg, stats: dataStats(data, cfg.d), data, batch: (t) => data.subarray((t % n) * size, ((t % n) + 1) * size) };
}

/** s = √d / mean‖x‖, the mean of s·x and mean ‖s·x − mean‖² over all rows (RECIPE §1–2), in float64. */
export function dataStats(data: Float32Array, d: number): DataStats {
  const rows = data.length / d;
  let normSum = 0;
  const mean = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    let sq = 0;
    for (let j = 0; j < d; j++) {
      const x = data[r * d + j]!;
      sq += x * x;
      mean[j]! += x;
    }
    normSum += Math.sqrt(sq);
  }
  const scale = Math.sqrt(d) / (normSum / rows);
  for (let j = 0; j < d; j++) mean[j] = (mean[j]! / rows) * scale;
  let m2 = 0;
  for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) m2 += (scale * data[r * d + j]! - mean[j]!) ** 2;
  return { scale, mean, variance: m2 / rows };
}

/**
 * Useful floating-point work of one step. Dense (standard): 10·B·d·F — forward 4·B·d·F (encoder, decoder),
 * backward 6·B·d·F (∂f, ∂W_dec, ∂W_enc). TopK: the dense encoder, 2·B·d·F, plus 2·B·d per kept latent for
 * each of decode, ∂z, ∂W_dec and ∂W_enc, with k + k_aux latents (an upper bound: AuxK only runs while latents
 * are dead). The same count is used for every engine, whatever work it actually does.
 */
export function usefulFlops(cfg: TrainConfig): number {
  const { batch: B, d, features: F } = cfg;
  if (cfg.arch === 'standard') return 10 * B * d * F;
  return 2 * B * d * F + 4 * 2 * B * d * (cfg.k + cfg.kAux);
}
