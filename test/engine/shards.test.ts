// Feature shards (engine/shards.ts): how a dictionary is split to fit a device's buffer
// limits, and that its tensors survive the trip into shards and back.
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/engine/config.ts';
import { paramLayout } from '../../src/engine/layout.ts';
import { featuresPerShard, joinFlats, packShards, shardBytes, shardsOfSnapshot, splitFeatures, splitFlats, unpackShards } from '../../src/engine/shards.ts';
import type { Params32 } from '../../src/engine/run-state.ts';

const MiB = 2 ** 20;

describe('splitting a dictionary', () => {
  it('cuts features into shards of a multiple of 64, the last one the remainder', () => {
    expect(splitFeatures(200, 64)).toEqual([{ f0: 0, F: 64 }, { f0: 64, F: 64 }, { f0: 128, F: 64 }, { f0: 192, F: 8 }]);
    expect(splitFeatures(101, 500)).toEqual([{ f0: 0, F: 101 }]);
    expect(() => splitFeatures(200, 50)).toThrow(/multiple of 64/);
  });

  it('keeps one shard while everything fits, and otherwise the largest shard that does', () => {
    const cfg = defaultConfig({ d: 768, features: 32768, batch: 4096 });
    expect(featuresPerShard(cfg, 4096 * MiB)).toBe(32768);
    const n = featuresPerShard(cfg, 128 * MiB);
    expect(n % 64).toBe(0);
    expect(shardBytes(cfg, n)).toBeLessThanOrEqual(128 * MiB);
    expect(shardBytes(cfg, n + 64)).toBeGreaterThan(128 * MiB);
    // the activations (B × F_s floats) are the largest per-shard buffer at this batch
    expect(n).toBe(8192);
  });

  it('packs the tensors into shards and back, exactly; a snapshot joins the shards end to end', () => {
    const d = 5;
    const F = 150;
    const shards = splitFeatures(F, 64);
    const p: Params32 = {
      W_enc: Float32Array.from({ length: d * F }, (_, i) => i + 0.5),
      b_enc: Float32Array.from({ length: F }, (_, i) => -i),
      W_dec: Float32Array.from({ length: F * d }, (_, i) => 2 * i),
      b_dec: Float32Array.from({ length: d }, (_, i) => 7 + i),
    };
    const flats = packShards(p, d, shards);
    expect(flats.map((f) => f.length)).toEqual([paramLayout(d, 64, false).total, paramLayout(d, 64, false).total, paramLayout(d, 22).total]);
    // shard 1's W_enc is columns 64..127 of every row
    expect(flats[1]![0]).toBe(p.W_enc[64]);
    expect(flats[1]![64]).toBe(p.W_enc[F + 64]);
    const back = unpackShards(splitFlats(joinFlats(flats), d, shards), d, shards);
    for (const name of ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const) expect(Array.from(back[name]), name).toEqual(Array.from(p[name]));
    // one shard: exactly the unsplit flat layout
    const one = packShards(p, d, splitFeatures(F, F))[0]!;
    const lay = paramLayout(d, F);
    expect(Array.from(one.subarray(lay.b_dec.offset, lay.b_dec.offset + d))).toEqual(Array.from(p.b_dec));
    expect(shardsOfSnapshot(F)).toEqual([{ f0: 0, F }]);
    expect(shardsOfSnapshot(F, [64, 64, 22])).toEqual(shards);
    expect(() => shardsOfSnapshot(F, [64, 64])).toThrow(/128 features/);
    expect(() => shardsOfSnapshot(F, [22, 64, 64])).toThrow(/must all hold the same multiple of 64/);
    expect(() => shardsOfSnapshot(F, [50, 50, 50])).toThrow(/must all hold the same multiple of 64/);
  });
});
