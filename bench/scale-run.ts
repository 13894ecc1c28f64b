// One measurement of `npm run bench:scale`, shared by its Node side (Dawn) and its page (Chromium, the tab)
// so both do the same: a dictionary of 65,536 features over d = 768, its GPU memory (engine/memory.ts, and
// the feature shards this adapter's buffer limits need) and its ms/step after the tuner and a warm-up step.
import { generateSynthetic } from '../src/data/synth.ts';
import { defaultConfig, type Arch } from '../src/engine/config.ts';
import { checkFits, estimateMemory } from '../src/engine/memory.ts';
import { ARCH_STEPS } from '../src/engine/steps/index.ts';
import { timeEngine } from './engine-run.ts';
import { dataStats } from './workload.ts';

export const SCALE = { d: 768, features: 65_536, batch: 256, k: 32 } as const;

export interface ScaleRow {
  arch: Arch;
  d: number;
  features: number;
  batch: number;
  shards: number;
  gpu_memory_mib: number;
  largest_buffer: string;
  ms_per_step: number;
  tokens_per_s: number;
  gflop_per_s: number;
  timed_steps: number;
  tuning_s: number;
  wall_s: number;
  kernels: string;
  loss: number[];
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;

/** `arch` at SCALE on `device`: one warm-up step, then `steps` timed ones */
export async function measureScale(device: GPUDevice, adapter: string, arch: Arch, steps: number): Promise<ScaleRow> {
  const { d, features, batch: B, k } = SCALE;
  const { data } = generateSynthetic({ d, features: 4 * d, rows: 4 * B, seed: 0 });
  const stats = dataStats(data, d);
  const cfg = defaultConfig({ arch, d, features, batch: B, steps: 1000, k, seed: 0 });
  const shards = checkFits(cfg, device.limits);
  const memory = estimateMemory(cfg, Math.max(...shards.map((s) => s.F)));
  const t0 = performance.now();
  const timing = await timeEngine(device, adapter, { cfg, stats, data, batch: (t) => data.subarray((t % 4) * B * d, ((t % 4) + 1) * B * d) }, 1, steps, { retune: false });
  const flops = ARCH_STEPS[arch].flops(cfg);
  return {
    arch, d, features, batch: B, shards: shards.length, gpu_memory_mib: Math.round(memory.total / 2 ** 20), largest_buffer: `${memory.largest.name} ${mib(memory.largest.bytes)}`,
    ms_per_step: Math.round(timing.ms_per_step), tokens_per_s: Math.round((B * 1000) / timing.ms_per_step), gflop_per_s: +(flops / timing.ms_per_step / 1e6).toFixed(2),
    timed_steps: steps, tuning_s: +(timing.tuning_ms / 1000).toFixed(1), wall_s: +((performance.now() - t0) / 1000).toFixed(0), kernels: timing.kernels,
    loss: timing.history.map((h) => h.loss),
  };
}
