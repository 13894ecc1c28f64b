// Where each parameter lives inside the flat parameter buffer (and, identically, the gradient and the two
// Adam-moment buffers). One flat buffer lets one dispatch run Adam and one reduction take the global
// gradient norm; each tensor starts on a 256-byte boundary so it can also be bound on its own.
export interface Segment {
  /** offset in floats */
  offset: number;
  /** length in floats */
  length: number;
}

export interface ParamLayout {
  /** (d, F) */
  W_enc: Segment;
  /** (F) */
  b_enc: Segment;
  /** (F, d) */
  W_dec: Segment;
  /** (d) */
  b_dec: Segment;
  /** floats in the whole buffer, padding included */
  total: number;
}

export const PARAM_NAMES = ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const;
export type ParamName = (typeof PARAM_NAMES)[number];

const ALIGN = 64; // floats = 256 bytes, the largest minStorageBufferOffsetAlignment WebGPU allows

/** `n` floats rounded up so that what follows them can be bound on its own. */
export function alignFloats(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

/**
 * The flat layout of a dictionary of F features on d (or of one feature shard of it: `bDec` false for all
 * shards but the last, which holds b_dec, so an unsplit run's layout is the last shard's).
 */
export function paramLayout(d: number, F: number, bDec = true): ParamLayout {
  const lengths: Record<ParamName, number> = { W_enc: d * F, b_enc: F, W_dec: F * d, b_dec: bDec ? d : 0 };
  let offset = 0;
  const segs = {} as Record<ParamName, Segment>;
  for (const name of PARAM_NAMES) {
    segs[name] = { offset, length: lengths[name] };
    offset += alignFloats(lengths[name]);
  }
  return { ...segs, total: offset };
}

export function segmentBinding(buffer: GPUBuffer, seg: Segment): GPUBufferBinding {
  return { buffer, offset: seg.offset * 4, size: seg.length * 4 };
}

/** Slots of the small `stats` buffer that kernels of one step hand to one another. */
export const STATS = { gradNorm: 0, clipScale: 1, auxVariance: 2, auxCoef: 3, dead: 4, length: 8 } as const;

/** Columns of one step's row in the metrics ring (see the `loss` kernel in shaders/stats.wgsl). */
export const METRIC_COLUMNS = ['loss', 'recon', 'sparsity', 'l0', 'gradNorm', 'dead', 'clipScale'] as const;
export const METRIC_STRIDE = 8;
