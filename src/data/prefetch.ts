// Reading batches ahead of the GPU. The batch for step t is requested `depth` steps before training needs
// it, one at a time in step order (so IndexedDB serves one window at a time and memory stays at `depth`
// batches), while the GPU works through the steps already queued. It measures both sides of the stream:
// how fast the store delivers rows when it is busy, and how long training waited for a batch.
import type { RowBatchSource } from './batches.ts';

export interface StreamStats {
  /** rows handed to training */
  rows: number;
  /** ms the source spent producing those batches (its busy time) */
  busyMs: number;
  /** ms training waited for a batch that was not ready */
  waitMs: number;
  /** rows/s the source delivers while busy: rows / busyMs */
  deliveredRowsPerS: number;
}

export class BatchPrefetcher {
  private readonly ahead = new Map<number, Promise<Float32Array<ArrayBuffer>>>();
  private chain: Promise<unknown> = Promise.resolve();
  private requested: number;
  private rows = 0;
  private busyMs = 0;
  private waitMs = 0;

  constructor(
    private readonly source: RowBatchSource,
    private next: number,
    private readonly end: number,
    private readonly depth = 2,
  ) {
    if (!Number.isSafeInteger(depth) || depth < 1) throw new Error(`prefetch depth must be a positive integer, got ${depth}`);
    this.requested = next;
    this.fill();
  }

  /** the batch of the next step (in order), waiting only if it is not read yet */
  async take(): Promise<Float32Array<ArrayBuffer>> {
    const step = this.next;
    if (step >= this.end) throw new Error(`no batch after step ${this.end - 1}`);
    const pending = this.ahead.get(step)!;
    this.ahead.delete(step);
    this.next++;
    this.fill();
    const t0 = performance.now();
    const batch = await pending;
    this.waitMs += performance.now() - t0;
    this.rows += this.source.batchSize;
    return batch;
  }

  stats(): StreamStats {
    return { rows: this.rows, busyMs: this.busyMs, waitMs: this.waitMs, deliveredRowsPerS: this.busyMs > 0 ? (this.rows * 1000) / this.busyMs : 0 };
  }

  /** requests steps up to next + depth − 1, each after the one before it is read */
  private fill(): void {
    for (; this.requested < Math.min(this.next + this.depth, this.end); this.requested++) {
      const step = this.requested;
      const read = this.chain.then(async () => {
        const t0 = performance.now();
        try {
          return await this.source.batch(step);
        } finally {
          this.busyMs += performance.now() - t0;
        }
      });
      read.catch(() => undefined); // reported by take(), not as an unhandled rejection
      this.chain = read.catch(() => undefined);
      this.ahead.set(step, read);
    }
  }
}
