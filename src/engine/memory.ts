// How much GPU memory a run needs, how its dictionary is split into feature shards so that every buffer
// fits one storage binding (engine/shards.ts), and a clear refusal before anything is allocated when even
// that cannot make it fit.
import { checkMatryoshkaWidths, keepsK, type TrainConfig } from './config.ts';
import { paramLayout } from './layout.ts';
import { featuresPerShard, splitFeatures, type Shard } from './shards.ts';
import { ARCH_STEPS } from './steps/index.ts';
import { MAX_TOPK } from './steps/topk.ts';

export interface MemoryEstimate {
  /** bytes of all buffers together */
  total: number;
  /** the largest single buffer, which must fit one storage binding */
  largest: { name: string; bytes: number };
}

/** Buffers of a run with at most `perShard` features per shard: name → [bytes of one, how many]. */
function buffers(cfg: TrainConfig, perShard: number): Record<string, [number, number]> {
  const { d, features: F } = cfg;
  const shards = splitFeatures(F, perShard);
  const Fs = shards[0]!.F;
  return {
    [`parameters, gradients, Adam m and v (${shards.length > 1 ? 'per shard' : 'each'})`]: [paramLayout(d, Fs).total * 4, 4 * shards.length],
    ...ARCH_STEPS[cfg.arch].memory(cfg, Fs, shards.length),
    'per-feature state (F)': [(F + 1) * 4, 9],
  };
}

export function estimateMemory(cfg: TrainConfig, perShard = cfg.features): MemoryEstimate {
  let total = 0;
  let largest = { name: '', bytes: 0 };
  for (const [name, [bytes, count]] of Object.entries(buffers(cfg, perShard))) {
    total += bytes * count;
    if (bytes > largest.bytes) largest = { name, bytes };
  }
  return { total, largest };
}

export class DoesNotFitError extends Error {}

/**
 * The run's feature shards on a device with `limits`: one shard when every buffer fits a binding, else as
 * few as make them fit (`perShard` sets the most features per shard instead: tests and benchmarks split
 * small dictionaries). Refuses, naming the sizes, what no split makes fit.
 */
export function checkFits(cfg: TrainConfig, limits: GPUSupportedLimits, perShard?: number): Shard[] {
  if (keepsK(cfg.arch) && (cfg.k > MAX_TOPK || cfg.kAux > MAX_TOPK)) {
    throw new DoesNotFitError(`k=${cfg.k} and k_aux=${cfg.kAux} must each be at most ${MAX_TOPK}`);
  }
  if (cfg.arch === 'matryoshka') checkMatryoshkaWidths(cfg.widths, cfg.features);
  const cap = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const n = perShard ?? featuresPerShard(cfg, cap);
  const refuse = (what: string) => new DoesNotFitError(
    `a dictionary of ${cfg.features} features on d=${cfg.d} with batch ${cfg.batch} needs ${what}, more than this device's ` +
      `${mib(cap)} per buffer (about ${mib(estimateMemory(cfg).total)} in all); use a smaller batch or fewer features`,
  );
  if (n === 0) throw refuse(`${mib(estimateMemory(cfg, 64).largest.bytes)} for a shard of 64 features`);
  const { largest, total } = estimateMemory(cfg, n);
  if (largest.bytes > cap) throw refuse(`${mib(largest.bytes)} for its ${largest.name}`);
  const budget = BUDGET_BUFFERS * limits.maxBufferSize;
  if (total > budget) {
    throw new DoesNotFitError(
      `a dictionary of ${cfg.features} features on d=${cfg.d} with batch ${cfg.batch} needs about ${mib(total)} in all, ` +
        `more than the ${mib(budget)} a run may take on this device (${BUDGET_BUFFERS} of its largest buffers); ` +
        'use fewer features or a smaller batch',
    );
  }
  return splitFeatures(cfg.features, n);
}

/**
 * WebGPU does not say how much memory a device has, so a run may take at most this many of the device's
 * largest buffers in all: shards get a dictionary past the per-buffer limit, not past the device (a
 * software adapter would take the machine's memory until the process is killed).
 */
export const BUDGET_BUFFERS = 4;

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

export { MAX_TOPK };
