// Batches: a pure function of (seed, step), every training row once per epoch, never a held-out row,
// reads by block (never the whole file); the held-out reader.
import { describe, expect, it } from 'vitest';
import { createBatchSource, epochOrder, readHeldOut } from '../../src/data/batches.ts';
import { heldOutRule, splitBlocks } from '../../src/data/split.ts';
import { CountingRows, indexedRows } from './helpers.ts';

const D = 3;
/** the row index a batch row came from (indexedRows puts row·1000 in column 0) */
const rowIds = (batch: Float32Array) => Array.from({ length: batch.length / D }, (_, i) => batch[i * D] / 1000);

function setup(rows: number, batchSize: number, seed = 9) {
  const src = new CountingRows(indexedRows(rows, D), D, 'acts.npy');
  const split = splitBlocks(rows, heldOutRule(seed));
  return { src, split, batches: createBatchSource(src, split.trainBlocks, batchSize, seed) };
}

describe('createBatchSource', () => {
  it('gives the same batch for (seed, t) whatever was read before', async () => {
    const a = setup(256 * 70 + 100, 1000).batches;
    const b = setup(256 * 70 + 100, 1000).batches;
    const first = [await a.batch(0), await a.batch(17), await a.batch(5)];
    for (const t of [40, 3, 99, 16]) await b.batch(t);
    const again = [await b.batch(0), await b.batch(17), await b.batch(5)];
    expect(again).toEqual(first);
    expect(rowIds(first[0])).not.toEqual(rowIds(first[2]));
  });

  it('differs between seeds', async () => {
    const rows = 256 * 40;
    const src = new CountingRows(indexedRows(rows, D), D);
    const { trainBlocks } = splitBlocks(rows, heldOutRule(1));
    const x = await createBatchSource(src, trainBlocks, 64, 1).batch(0);
    const y = await createBatchSource(src, trainBlocks, 64, 2).batch(0);
    expect(x).not.toEqual(y);
  });

  it('visits every training row exactly once per epoch and never a held-out row', async () => {
    const rows = 256 * 50 + 77; // a partial last block
    const B = 300;
    const { split, batches } = setup(rows, B);
    const held = new Set<number>();
    for (const b of split.heldOutBlocks) for (let r = b * 256; r < Math.min(rows, (b + 1) * 256); r++) held.add(r);
    const trainRows = rows - held.size;
    const seen: number[] = [];
    for (let t = 0; seen.length < 2 * trainRows; t++) seen.push(...rowIds(await batches.batch(t)));
    for (const epoch of [0, 1]) {
      const ids = seen.slice(epoch * trainRows, (epoch + 1) * trainRows);
      expect(new Set(ids).size).toBe(trainRows);
      expect(ids.some((r) => held.has(r))).toBe(false);
    }
    expect(seen.slice(0, trainRows)).not.toEqual(seen.slice(trainRows, 2 * trainRows));
  });

  it('serves a partial last training block at the end of each epoch', () => {
    const order = epochOrder([0, 1, 2, 3, 4, 9], true, 1, 0);
    expect(order[order.length - 1]).toBe(9);
    expect([...order].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 9]);
  });

  it('mixes rows within windows: consecutive batch rows rarely come from the same block', async () => {
    const ids = rowIds(await setup(256 * 64, 256).batches.batch(0));
    const blocks = new Set(ids.map((r) => Math.floor(r / 256)));
    expect(blocks.size).toBeGreaterThan(10);
  });

  it('reads whole blocks, never the whole file', async () => {
    const rows = 256 * 200;
    const { src, batches } = setup(rows, 512);
    await batches.batch(0);
    await batches.batch(1);
    expect(src.calls.length).toBeGreaterThan(0);
    for (const [start, count] of src.calls) {
      expect(start % 256).toBe(0);
      expect(count).toBe(256);
    }
    expect(src.calls.length).toBeLessThanOrEqual(32);
  });

  it('serves batches larger than the training set by wrapping epochs', async () => {
    const rows = 512;
    const src = new CountingRows(indexedRows(rows, D), D);
    const batches = createBatchSource(src, [1], 600, 0);
    const ids = rowIds(await batches.batch(0));
    expect(ids.length).toBe(600);
    expect(ids.every((r) => r >= 256 && r < 512)).toBe(true);
    expect(new Set(ids.slice(0, 256)).size).toBe(256);
  });

  it('refuses bad arguments', () => {
    const src = new CountingRows(indexedRows(1024, D), D, 'acts.npy');
    expect(() => createBatchSource(src, [], 8, 0)).toThrow('acts.npy: no training blocks');
    expect(() => createBatchSource(src, [0, 0], 8, 0)).toThrow('acts.npy: training blocks contain duplicates');
    expect(() => createBatchSource(src, [0, 4], 8, 0)).toThrow("acts.npy: block 4 is outside the file's 4 blocks");
    expect(() => createBatchSource(src, [0], 0, 0)).toThrow('batch size must be a positive integer, got 0');
  });
});

describe('readHeldOut', () => {
  it('returns the held-out rows in block order, capped at maxRows', async () => {
    const rows = 256 * 5 + 10;
    const src = new CountingRows(indexedRows(rows, D), D);
    const all = rowIds(await readHeldOut(src, [5, 1, 2]));
    const want = [...Array.from({ length: 512 }, (_, i) => 256 + i), ...Array.from({ length: 10 }, (_, i) => 1280 + i)];
    expect(all).toEqual(want);
    expect(src.calls).toEqual([[256, 512], [1280, 10]]);
    expect(rowIds(await readHeldOut(src, [5, 1, 2], 300))).toEqual(want.slice(0, 300));
  });
});
