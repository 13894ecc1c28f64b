// How much GPU memory a run needs, and a clear refusal before anything is allocated when it will not fit.
import type { TrainConfig } from './config.ts';
import { paramLayout } from './layout.ts';

export interface MemoryEstimate {
  /** bytes of all buffers together */
  total: number;
  /** the largest single buffer, which must fit one storage binding */
  largest: { name: string; bytes: number };
}

export function estimateMemory(cfg: TrainConfig): MemoryEstimate {
  const { d, features: F, batch: B } = cfg;
  const P = paramLayout(d, F).total * 4;
  const slots = cfg.k + cfg.kAux;
  const buffers: Record<string, number> = {
    'parameters (and gradients, Adam m, Adam v)': P,
    ...(cfg.arch === 'standard'
      ? { 'features (B×F)': B * F * 4, 'feature gradients (B×F)': B * F * 4 }
      : { 'pre-activations (B×F)': B * F * 4, 'TopK entries': B * slots * 16 }),
    'batch rows (×6)': B * d * 4,
    'per-feature state (×8)': F * 4,
  };
  let total = 0;
  let largest = { name: '', bytes: 0 };
  for (const [name, bytes] of Object.entries(buffers)) {
    const count = name.includes('×6') ? 6 : name.includes('×8') ? 8 : name.startsWith('parameters') ? 4 : 1;
    total += bytes * count;
    if (bytes > largest.bytes) largest = { name, bytes };
  }
  return { total, largest };
}

export class DoesNotFitError extends Error {}

export function checkFits(cfg: TrainConfig, limits: GPUSupportedLimits): void {
  if (cfg.arch === 'topk' && (cfg.k > MAX_TOPK || cfg.kAux > MAX_TOPK)) {
    throw new DoesNotFitError(`k=${cfg.k} and k_aux=${cfg.kAux} must each be at most ${MAX_TOPK}`);
  }
  const { largest, total } = estimateMemory(cfg);
  const cap = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (largest.bytes > cap) {
    throw new DoesNotFitError(
      `a dictionary of ${cfg.features} features on d=${cfg.d} with batch ${cfg.batch} needs ${mib(largest.bytes)} ` +
        `for its ${largest.name}, more than this device's ${mib(cap)} per buffer (about ${mib(total)} in all); ` +
        'use fewer features or a smaller batch',
    );
  }
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** TopK's selection keeps its candidates in private memory (shaders/topk.wgsl MAX_K). */
export const MAX_TOPK = 512;
