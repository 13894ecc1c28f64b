// The prefetcher reads batches in step order, at most `depth` ahead, and measures the stream honestly:
// a slow source shows up as training's wait time, a fast one as none.
import { describe, expect, it } from 'vitest';
import { BatchPrefetcher } from '../../src/data/prefetch.ts';
import type { RowBatchSource } from '../../src/data/batches.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** a source whose batch t is filled with t, taking `ms` per batch, recording requests and concurrency */
function source(ms: number, failAt = -1) {
  const log = { requested: [] as number[], maxConcurrent: 0, active: 0 };
  const src: RowBatchSource = {
    d: 2,
    batchSize: 3,
    async batch(step: number) {
      log.requested.push(step);
      log.maxConcurrent = Math.max(log.maxConcurrent, ++log.active);
      await sleep(ms);
      log.active--;
      if (step === failAt) throw new Error(`cannot read batch ${step}`);
      return new Float32Array(6).fill(step);
    },
  };
  return { src, log };
}

describe('BatchPrefetcher', () => {
  it('serves steps in order, one read at a time, never more than depth ahead', async () => {
    const { src, log } = source(2);
    const p = new BatchPrefetcher(src, 5, 12, 3);
    expect(log.requested.length).toBeLessThanOrEqual(1); // the chain starts reads one after another
    for (let t = 5; t < 12; t++) {
      expect((await p.take())[0]).toBe(t);
      expect(Math.max(...log.requested)).toBeLessThan(t + 1 + 3);
    }
    expect(log.requested).toEqual([5, 6, 7, 8, 9, 10, 11]);
    expect(log.maxConcurrent).toBe(1);
    await expect(p.take()).rejects.toThrow(/no batch after step 11/);
    expect(p.stats().rows).toBe(21);
  });

  it('a source slower than training shows up as waiting; a fast one hides behind the consumer', async () => {
    const slow = new BatchPrefetcher(source(20).src, 0, 6, 2);
    for (let t = 0; t < 6; t++) await slow.take(); // consumer does no work: it waits for every batch
    const s = slow.stats();
    expect(s.waitMs).toBeGreaterThan(60);
    expect(s.busyMs).toBeGreaterThan(100);
    expect(s.deliveredRowsPerS).toBeCloseTo((18 * 1000) / s.busyMs, 6);

    const fast = new BatchPrefetcher(source(1).src, 0, 6, 2);
    for (let t = 0; t < 6; t++) {
      await sleep(15); // training is slower than the source: each batch is ready when asked for
      await fast.take();
    }
    expect(fast.stats().waitMs).toBeLessThan(30);
  });

  it('a failed read rejects the take of that step, not an earlier one', async () => {
    const p = new BatchPrefetcher(source(1, 2).src, 0, 5, 2);
    await p.take();
    await p.take();
    await expect(p.take()).rejects.toThrow(/cannot read batch 2/);
  });
});
