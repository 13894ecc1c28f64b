// Training batches from a RowSource, as a pure function of (seed, step), and the held-out rows for evaluation.
// The training rows form an endless sequence of epochs. Epoch e visits the training blocks (256 rows each)
// in a permutation seeded by (seed, e) — a partial last block of the file always goes last — grouped into
// windows of 16 consecutive permuted blocks; the rows inside window w are permuted by (seed, e, w).
// Batch t is positions [tB, tB + B) of that sequence. Only the windows a batch touches are read.
import type { BatchSource, RowSource } from './sources.ts';
import { DataError } from './errors.ts';
import { Rng } from '../engine/random.ts';
import { BLOCK_ROWS, blockCount, blockRange } from './split.ts';

export const WINDOW_BLOCKS = 16;
const WINDOW_ROWS = WINDOW_BLOCKS * BLOCK_ROWS;

/** One window of one epoch: its rows in block order, and the order they are served in. */
interface Window {
  /** n × d, the window's blocks concatenated in permuted-block order */
  rows: Float32Array;
  /** (n) index into `rows` of the window's i-th served row */
  perm: Uint32Array;
}

/** A piece of a batch lying in one window: served positions [from, from + count) of window (epoch, w). */
interface Segment {
  epoch: number;
  w: number;
  from: number;
  count: number;
}

/** A BatchSource whose batches are plain (non-shared) ArrayBuffer-backed arrays, ready for GPU upload. */
export interface RowBatchSource extends BatchSource {
  batch(step: number): Promise<Float32Array<ArrayBuffer>>;
}

export function createBatchSource(rows: RowSource, trainBlocks: number[], batchSize: number, seed: number): RowBatchSource {
  return new BlockBatchSource(rows, trainBlocks, batchSize, seed);
}

class BlockBatchSource implements RowBatchSource {
  readonly d: number;
  /** training blocks ascending, the partial last block of the file (if training) moved to the end */
  private readonly blocks: number[];
  private readonly partial: boolean;
  /** training rows per epoch */
  private readonly epochRows: number;
  private readonly orders = new Map<number, number[]>();
  private readonly windows = new Map<string, Promise<Window>>();
  private readonly windowCapacity: number;

  constructor(
    private readonly src: RowSource,
    trainBlocks: number[],
    readonly batchSize: number,
    private readonly seed: number,
  ) {
    this.d = src.d;
    if (!Number.isSafeInteger(batchSize) || batchSize <= 0) throw new Error(`batch size must be a positive integer, got ${batchSize}`);
    if (!Number.isSafeInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
    this.blocks = checkBlocks(src, trainBlocks);
    const last = blockCount(src.rows) - 1;
    this.partial = src.rows % BLOCK_ROWS !== 0 && this.blocks.includes(last);
    if (this.partial) this.blocks = [...this.blocks.filter((b) => b !== last), last];
    this.epochRows = this.blocks.reduce((n, b) => n + blockSize(b, src.rows), 0);
    this.windowCapacity = Math.ceil(batchSize / WINDOW_ROWS) + 2;
  }

  /** batchSize × d raw rows for `step` */
  async batch(step: number): Promise<Float32Array<ArrayBuffer>> {
    if (!Number.isSafeInteger(step) || step < 0) throw new Error(`step must be a non-negative integer, got ${step}`);
    const segments = this.segments(step * this.batchSize, this.batchSize);
    const windows = await Promise.all(segments.map((s) => this.window(s.epoch, s.w)));
    const d = this.d;
    const out = new Float32Array(this.batchSize * d);
    let at = 0;
    segments.forEach((s, i) => {
      const { rows, perm } = windows[i];
      for (let j = 0; j < s.count; j++, at++) {
        const r = perm[s.from + j];
        out.set(rows.subarray(r * d, (r + 1) * d), at * d);
      }
    });
    return out;
  }

  /** sequence positions [start, start + count) → the window pieces they lie in, in order */
  private segments(start: number, count: number): Segment[] {
    const out: Segment[] = [];
    for (let p = start; p < start + count; ) {
      const epoch = Math.floor(p / this.epochRows);
      const offset = p - epoch * this.epochRows;
      const w = Math.floor(offset / WINDOW_ROWS);
      const from = offset - w * WINDOW_ROWS;
      const windowEnd = Math.min((w + 1) * WINDOW_ROWS, this.epochRows) - w * WINDOW_ROWS;
      const n = Math.min(windowEnd - from, start + count - p);
      out.push({ epoch, w, from, count: n });
      p += n;
    }
    return out;
  }

  /** the training blocks in epoch e's order (cached for a few epochs) */
  private order(epoch: number): number[] {
    let order = this.orders.get(epoch);
    if (!order) {
      order = epochOrder(this.blocks, this.partial, this.seed, epoch);
      this.orders.set(epoch, order);
      if (this.orders.size > 3) this.orders.delete(this.orders.keys().next().value!);
    }
    return order;
  }

  /** window w of epoch e, read once and kept in a small LRU cache */
  private window(epoch: number, w: number): Promise<Window> {
    const key = `${epoch}:${w}`;
    let win = this.windows.get(key);
    if (win) {
      this.windows.delete(key);
    } else {
      const blocks = this.order(epoch).slice(w * WINDOW_BLOCKS, (w + 1) * WINDOW_BLOCKS);
      win = readWindow(this.src, blocks, new Rng(this.seed, 2, epoch, w));
      win.catch(() => this.windows.delete(key));
    }
    this.windows.set(key, win);
    while (this.windows.size > this.windowCapacity) this.windows.delete(this.windows.keys().next().value!);
    return win;
  }
}

/** the training blocks of epoch e: seeded by (seed, e); the partial last block stays last */
export function epochOrder(blocks: number[], partialLast: boolean, seed: number, epoch: number): number[] {
  const full = partialLast ? blocks.slice(0, -1) : blocks.slice();
  new Rng(seed, 1, epoch).shuffle(full);
  if (partialLast) full.push(blocks[blocks.length - 1]);
  return full;
}

/**
 * Reads `blocks` (each via readRows) and draws the window's row permutation. Blocks are read one at a time,
 * in ascending row order, so a store whose chunks are read whole (datasets stored before chunks were Blobs)
 * fetches each chunk once and holds only a bounded number of them however large the file (parallel reads
 * would hold one chunk per block at once). Over Blob chunks, parallel reads gained only 14 %
 * (docs/BENCHMARKS.md).
 */
async function readWindow(src: RowSource, blocks: number[], rng: Rng): Promise<Window> {
  const ranges = blocks.map((b) => blockRange(b, src.rows));
  const offsets: number[] = [];
  let n = 0;
  for (const [s, e] of ranges) {
    offsets.push(n);
    n += e - s;
  }
  const rows = new Float32Array(n * src.d);
  const byRow = blocks.map((_, i) => i).sort((a, b) => blocks[a]! - blocks[b]!);
  for (const i of byRow) {
    const [s, e] = ranges[i]!;
    rows.set(await src.readRows(s, e - s), offsets[i]! * src.d);
  }
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  rng.shuffle(perm);
  return { rows, perm };
}

/** unique, in-range block indices, sorted ascending; at least one */
export function checkBlocks(src: RowSource, blocks: number[], what = 'training'): number[] {
  const count = blockCount(src.rows);
  const sorted = [...new Set(blocks)].sort((a, b) => a - b);
  if (sorted.length === 0) throw new DataError(src.name, `no ${what} blocks`);
  if (sorted.length !== blocks.length) throw new DataError(src.name, `${what} blocks contain duplicates`);
  const bad = sorted.find((b) => !Number.isSafeInteger(b) || b < 0 || b >= count);
  if (bad !== undefined) throw new DataError(src.name, `block ${bad} is outside the file's ${count} blocks`);
  return sorted;
}

function blockSize(block: number, rows: number): number {
  const [s, e] = blockRange(block, rows);
  return e - s;
}

/**
 * The held-out rows, blocks in ascending order, at most maxRows of them: (n × d).
 * Consecutive blocks are read together.
 */
export async function readHeldOut(rows: RowSource, heldOutBlocks: number[], maxRows = Infinity): Promise<Float32Array<ArrayBuffer>> {
  const runs = blockRuns(checkBlocks(rows, heldOutBlocks, 'held-out'), rows.rows);
  if (!(maxRows >= 0)) throw new Error(`maxRows must be non-negative, got ${maxRows}`);
  const total = Math.min(Math.floor(maxRows), runs.reduce((n, [s, e]) => n + e - s, 0));
  const out = new Float32Array(total * rows.d);
  let at = 0;
  for (const [s, e] of runs) {
    const count = Math.min(e - s, total - at);
    if (count <= 0) break;
    out.set(await rows.readRows(s, count), at * rows.d);
    at += count;
  }
  return out;
}

/** ascending blocks → row ranges [start, end) of maximal runs of consecutive blocks */
export function blockRuns(blocks: number[], rows: number): [number, number][] {
  const runs: [number, number][] = [];
  for (const b of blocks) {
    const [s, e] = blockRange(b, rows);
    const last = runs[runs.length - 1];
    if (last && last[1] === s) last[1] = e;
    else runs.push([s, e]);
  }
  return runs;
}

/** Streams the rows of ascending [start, end) ranges in chunks of at most chunkRows rows, never all at once. */
export async function* rangeChunks(rows: RowSource, ranges: [number, number][], chunkRows = 16384): AsyncGenerator<Float32Array> {
  for (const [s, e] of ranges) {
    for (let start = s; start < e; start += chunkRows) yield rows.readRows(start, Math.min(chunkRows, e - start));
  }
}
