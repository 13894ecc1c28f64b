// Feature shards: a dictionary whose buffers would pass one storage binding's limit is split by features
// into shards, each with buffers of its own (W_enc's columns, b_enc, W_dec's rows, their gradients and Adam
// moments, its columns of the (B, F) activations), and the step runs its per-feature kernels once per shard.
// With one shard (every dictionary that fits) the buffers and the step are exactly those of an unsplit run.
import type { TrainConfig } from './config.ts';
import { paramLayout, type ParamLayout } from './layout.ts';
import type { Params32 } from './run-state.ts';

export interface Shard {
  /** first feature */
  f0: number;
  /** features in the shard */
  F: number;
}

/** Shard sizes are multiples of this (but the last), so per-feature buffers bind at a shard's start. */
export const SHARD_ALIGN = 64;

/** The shards of `features` features, each at most `perShard` (a multiple of SHARD_ALIGN unless ≥ features). */
export function splitFeatures(features: number, perShard: number): Shard[] {
  if (perShard >= features) return [{ f0: 0, F: features }];
  if (!Number.isInteger(perShard) || perShard < SHARD_ALIGN || perShard % SHARD_ALIGN !== 0) {
    throw new Error(`features per shard must be a positive multiple of ${SHARD_ALIGN}, got ${perShard}`);
  }
  const shards: Shard[] = [];
  for (let f0 = 0; f0 < features; f0 += perShard) shards.push({ f0, F: Math.min(perShard, features - f0) });
  return shards;
}

/** Bytes of the largest per-shard buffer for a shard of F features: its flat parameters or its activations. */
export function shardBytes(cfg: TrainConfig, F: number): number {
  return 4 * Math.max(paramLayout(cfg.d, F).total, cfg.batch * F);
}

/**
 * The most features one shard can hold within `cap` bytes per buffer (a multiple of SHARD_ALIGN), or all of
 * them when they fit; 0 when not even SHARD_ALIGN features fit.
 */
export function featuresPerShard(cfg: TrainConfig, cap: number): number {
  if (shardBytes(cfg, cfg.features) <= cap) return cfg.features;
  let n = Math.floor(cap / 4 / Math.max(2 * cfg.d + 1, cfg.batch) / SHARD_ALIGN) * SHARD_ALIGN;
  while (n >= SHARD_ALIGN && shardBytes(cfg, n) > cap) n -= SHARD_ALIGN;
  return Math.max(0, n);
}

/** Each shard's flat layout (engine/layout.ts); the last shard's holds b_dec. */
export function shardLayouts(d: number, shards: Shard[]): ParamLayout[] {
  return shards.map((s, i) => paramLayout(d, s.F, i === shards.length - 1));
}

/** The whole dictionary's tensors, one flat array per shard (padding 0). */
export function packShards(p: Params32, d: number, shards: Shard[]): Float32Array[] {
  const F = shards.reduce((n, s) => n + s.F, 0);
  return shardLayouts(d, shards).map((lay, i) => {
    const { f0, F: n } = shards[i]!;
    const flat = new Float32Array(lay.total);
    // W_enc (d, F): the shard's columns of each row
    for (let r = 0; r < d; r++) flat.set(p.W_enc.subarray(r * F + f0, r * F + f0 + n), lay.W_enc.offset + r * n);
    flat.set(p.b_enc.subarray(f0, f0 + n), lay.b_enc.offset);
    flat.set(p.W_dec.subarray(f0 * d, (f0 + n) * d), lay.W_dec.offset);
    if (lay.b_dec.length) flat.set(p.b_dec, lay.b_dec.offset);
    return flat;
  });
}

/** The inverse of packShards. */
export function unpackShards(flats: Float32Array[], d: number, shards: Shard[]): Params32 {
  const F = shards.reduce((n, s) => n + s.F, 0);
  const out: Params32 = { W_enc: new Float32Array(d * F), b_enc: new Float32Array(F), W_dec: new Float32Array(F * d), b_dec: new Float32Array(d) };
  shardLayouts(d, shards).forEach((lay, i) => {
    const { f0, F: n } = shards[i]!;
    const flat = flats[i]!;
    for (let r = 0; r < d; r++) out.W_enc.set(flat.subarray(lay.W_enc.offset + r * n, lay.W_enc.offset + (r + 1) * n), r * F + f0);
    out.b_enc.set(flat.subarray(lay.b_enc.offset, lay.b_enc.offset + n), f0);
    out.W_dec.set(flat.subarray(lay.W_dec.offset, lay.W_dec.offset + n * d), f0 * d);
    if (lay.b_dec.length) out.b_dec.set(flat.subarray(lay.b_dec.offset, lay.b_dec.offset + d));
  });
  return out;
}

/** Shards' flat arrays laid end to end (a snapshot's form), and back. */
export function joinFlats(flats: Float32Array[]): Float32Array {
  const out = new Float32Array(flats.reduce((n, f) => n + f.length, 0));
  let o = 0;
  for (const f of flats) {
    out.set(f, o);
    o += f.length;
  }
  return out;
}

export function splitFlats(joined: Float32Array, d: number, shards: Shard[]): Float32Array[] {
  const layouts = shardLayouts(d, shards);
  const want = layouts.reduce((n, l) => n + l.total, 0);
  if (joined.length !== want) throw new Error(`a flat parameter array of ${joined.length} floats, expected ${want} for these shards`);
  let o = 0;
  return layouts.map((l) => joined.subarray(o, (o += l.total)));
}

/** A snapshot's shards, from the sizes it records (none recorded: one shard), checked to be a split splitFeatures makes. */
export function shardsOfSnapshot(features: number, sizes?: number[]): Shard[] {
  if (!sizes) return [{ f0: 0, F: features }];
  const total = sizes.reduce((n, F) => n + F, 0);
  if (total !== features) throw new Error(`a snapshot's shards hold ${total} features, its dictionary ${features}`);
  const n = sizes[0]!;
  const aligned = sizes.length === 1 || n % SHARD_ALIGN === 0;
  if (!aligned || sizes.some((F, i) => (i < sizes.length - 1 ? F !== n : F < 1 || F > n))) {
    throw new Error(`a snapshot's feature shards (${sizes.join(', ')}) must all hold the same multiple of ${SHARD_ALIGN} features but the last, which may hold fewer`);
  }
  return splitFeatures(features, n);
}
