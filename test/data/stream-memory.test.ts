// A stored dataset four times larger than the training stream's buffer budget imports and then TRAINS,
// streamed from the store through the batch source and the prefetcher into the GPU trainer, while the
// array-buffer memory held stays under the budget (fake-indexeddb's own copy of the data is the baseline).
// The stream holds the chunk cache (2 × 4 MiB here), three row windows (1 MiB each at d = 64), two batches,
// and the 4 MiB chunk copies IndexedDB hands out for reads in flight; observed peaks are 0–40 MiB.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { createBatchSource } from '../../src/data/batches.ts';
import { openNpy } from '../../src/data/formats/npy.ts';
import { BatchPrefetcher } from '../../src/data/prefetch.ts';
import type { ByteSource } from '../../src/data/sources.ts';
import { openStore } from '../../src/data/store.ts';
import { defaultConfig } from '../../src/engine/config.ts';
import { initParams } from '../../src/engine/init.ts';
import { Trainer } from '../../src/engine/trainer.ts';
import { getDevice } from '../support/gpu.ts';
import { rawNpy } from './helpers.ts';

const MiB = 1024 * 1024;

/** rows × d float32 .npy whose values are computed on read (never whole in memory) */
function generatedNpy(rows: number, d: number): ByteSource {
  const header = rawNpy({ shape: `(${rows}, ${d})` });
  return {
    name: 'stream.npy',
    size: header.length + rows * d * 4,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (offset + length <= header.length) return header.slice(offset, offset + length);
      const first = (offset - header.length) / 4;
      const values = Float32Array.from({ length: length / 4 }, (_, i) => Math.sin((first + i) * 0.001) * 3);
      return new Uint8Array(values.buffer);
    },
  };
}

describe('streaming a large stored dataset to the trainer', () => {
  it('trains with the stream holding less than the budget, 1/4 of the file', async () => {
    const budget = 64 * MiB;
    const d = 64;
    const rows = 1 << 20; // 256 MiB of float32
    const s = await openStore({ name: 'stream-memory', storage: null, cacheChunks: 2 });
    const { dataset } = await s.importRows(await openNpy(generatedNpy(rows, d)), { source: { kind: 'harvest', name: 'stream.npy', size: rows * d * 4 } }, { nonFinite: 'refuse' });
    expect(dataset.bytes).toBe(4 * budget);

    const device = await getDevice();
    const cfg = defaultConfig({ d, arch: 'topk', features: 32, k: 4, batch: 256, steps: 24, seed: 3 });
    const stats = await s.dataStats(dataset.id);
    const trainer = Trainer.create(device, cfg, stats, initParams(cfg, stats), { metricsEvery: 8 });
    const batches = createBatchSource(await s.rowSource(dataset.id), (await s.split(dataset.id)).trainBlocks, cfg.batch, cfg.seed);
    const stream = new BatchPrefetcher(batches, 0, cfg.steps, 2);
    // What the stream holds: sampled after collecting garbage (4 MiB chunk copies read and dropped are not held).
    const gc = (globalThis as { gc?: () => void }).gc!;
    expect(gc).toBeTypeOf('function');
    gc();
    const base = process.memoryUsage().arrayBuffers;
    let peak = 0;
    for (let t = 0; t < cfg.steps; t++) {
      const batch = await stream.take();
      gc();
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
      await trainer.step(batch);
    }
    const losses = (await trainer.flushMetrics()).map((m) => m.loss);
    trainer.destroy();
    s.close();
    // every window read is a different part of the file: the stream really walked it
    expect(stream.stats().rows).toBe(cfg.steps * cfg.batch);
    expect(losses.length).toBe(cfg.steps);
    expect(losses.every(Number.isFinite)).toBe(true);
    console.log(`stream peak: ${(peak / MiB).toFixed(1)} MiB of array buffers while training on ${dataset.bytes / MiB} MiB`);
    expect(peak).toBeLessThan(budget);
  }, 120_000);
});
