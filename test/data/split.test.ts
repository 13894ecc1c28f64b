// The held-out block rule: deterministic, about 10%, never empty on either side, described as JSON.
import { describe, expect, it } from 'vitest';
import { blockHash, heldOutRule, splitBlocks } from '../../src/data/split.ts';

describe('heldOutRule / splitBlocks', () => {
  it('describes itself as JSON', () => {
    expect(JSON.parse(JSON.stringify(heldOutRule(7)))).toEqual({ kind: 'blocks', block_rows: 256, fraction: 0.1, seed: 7 });
  });

  it('holds out the blocks whose hash is below 0.1·2^32, deterministically', () => {
    const rows = 256 * 1000 + 17; // 1001 blocks, the last partial
    const a = splitBlocks(rows, heldOutRule(3));
    expect(a).toEqual(splitBlocks(rows, heldOutRule(3)));
    expect(a.trainBlocks.length + a.heldOutBlocks.length).toBe(1001);
    for (const b of a.heldOutBlocks) expect(blockHash(3, b)).toBeLessThan(0.1 * 2 ** 32);
    for (const b of a.trainBlocks) expect(blockHash(3, b)).toBeGreaterThanOrEqual(0.1 * 2 ** 32);
    expect(a.heldOutBlocks.length).toBeGreaterThan(70);
    expect(a.heldOutBlocks.length).toBeLessThan(130);
    expect(splitBlocks(rows, heldOutRule(4)).heldOutBlocks).not.toEqual(a.heldOutBlocks);
  });

  it('blocks are sorted and disjoint', () => {
    const { trainBlocks, heldOutBlocks } = splitBlocks(300_000, heldOutRule(1));
    const all = [...trainBlocks, ...heldOutBlocks].sort((x, y) => x - y);
    expect(all).toEqual([...all.keys()]);
    expect(trainBlocks).toEqual([...trainBlocks].sort((x, y) => x - y));
  });

  it('holds out the smallest-hash block when the threshold selects none', () => {
    // find a seed where neither of 2 blocks falls below the threshold
    const seed = [...Array(100).keys()].find((s) => blockHash(s, 0) >= 0.1 * 2 ** 32 && blockHash(s, 1) >= 0.1 * 2 ** 32)!;
    const smallest = blockHash(seed, 0) < blockHash(seed, 1) ? 0 : 1;
    expect(splitBlocks(512, heldOutRule(seed))).toEqual({ trainBlocks: [1 - smallest], heldOutBlocks: [smallest] });
  });

  it('returns the largest-hash block to training when the threshold selects all', () => {
    const rule = { ...heldOutRule(5), fraction: 1 };
    const largest = blockHash(5, 0) > blockHash(5, 1) ? 0 : 1;
    expect(splitBlocks(512, rule)).toEqual({ trainBlocks: [largest], heldOutBlocks: [1 - largest] });
  });

  it('refuses fewer than two blocks of rows', () => {
    expect(() => splitBlocks(511, heldOutRule(0), 'tiny.npy')).toThrow(
      'tiny.npy: 511 rows is too few to hold out evaluation rows: need at least 512 (two blocks of 256)',
    );
  });

  it('refuses an unknown rule', () => {
    expect(() => splitBlocks(1000, { kind: 'docs' } as never)).toThrow('unknown held-out rule {"kind":"docs"}');
  });
});
