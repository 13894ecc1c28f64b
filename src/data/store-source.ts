// A RowSource over a dataset's chunks in IndexedDB, so training streams from the store: each readRows
// reads only the rows it asks for and converts just those to float32. A chunk is stored as a Blob, whose
// slices are read from disk alone; a shuffled 256-row block then costs its own bytes, not its whole 4 MiB
// chunk. Datasets stored before that keep their chunks as bytes, read whole through a small LRU cache.
import type { RowSource } from './sources.ts';
import type { DatasetManifest, StoreDB, StoredChunk, StoredDtype } from './store-schema.ts';
import { BYTES_PER_VALUE } from './store-schema.ts';
import { DataError } from './errors.ts';
import { checkRowRange } from './formats/npy.ts';
import { toFloat32 } from './convert.ts';

/** chunks kept by default (a Blob's handle costs nothing; a chunk stored as bytes, 4 MiB: 32 MiB at most) */
export const DEFAULT_CACHE_CHUNKS = 8;

export interface StoredRowSource extends RowSource {
  readonly id: string;
  readonly dtype: StoredDtype;
  readonly chunkRows: number;
  readonly chunks: number;
  readRows(start: number, count: number): Promise<Float32Array<ArrayBuffer>>;
  /** the raw stored bytes of chunk i (f16 or f32, little-endian); callers must not write to them */
  chunk(index: number): Promise<Uint8Array>;
}

type Layout = Pick<DatasetManifest, 'id' | 'name' | 'rows' | 'd' | 'dtype' | 'chunkRows' | 'chunks'>;

/** A RowSource over the chunks of `m` (which must be complete, or being written by an import). */
export function chunkRowSource(db: StoreDB, m: Layout, cacheChunks = DEFAULT_CACHE_CHUNKS): StoredRowSource {
  return new ChunkRowSource(db, m, Math.max(1, Math.floor(cacheChunks)));
}

class ChunkRowSource implements StoredRowSource {
  readonly id: string;
  readonly name: string;
  readonly rows: number;
  readonly d: number;
  readonly dtype: StoredDtype;
  readonly chunkRows: number;
  readonly chunks: number;
  private readonly rowBytes: number;
  /** stored chunks, least recently used first */
  private readonly cache = new Map<number, Promise<StoredChunk>>();

  constructor(
    private readonly db: StoreDB,
    m: Layout,
    private readonly capacity: number,
  ) {
    ({ id: this.id, name: this.name, rows: this.rows, d: this.d, dtype: this.dtype } = m);
    ({ chunkRows: this.chunkRows, chunks: this.chunks } = m);
    this.rowBytes = m.d * BYTES_PER_VALUE[m.dtype];
  }

  async readRows(start: number, count: number): Promise<Float32Array<ArrayBuffer>> {
    checkRowRange(this.name, this.rows, start, count);
    const out = new Float32Array(count * this.d);
    if (count === 0) return out;
    const first = Math.floor(start / this.chunkRows);
    const last = Math.floor((start + count - 1) / this.chunkRows);
    const indices = Array.from({ length: last - first + 1 }, (_, i) => first + i);
    await Promise.all(indices.map(async (c) => {
      // the rows of chunk c that lie in [start, start + count)
      const from = Math.max(start, c * this.chunkRows);
      const to = Math.min(start + count, (c + 1) * this.chunkRows);
      const offset = (from - c * this.chunkRows) * this.rowBytes;
      const bytes = await this.bytes(c, offset, offset + (to - from) * this.rowBytes);
      out.set(decodeRows(bytes, this.dtype), (from - start) * this.d);
    }));
    return out;
  }

  async chunk(index: number): Promise<Uint8Array> {
    const stored = await this.stored(index);
    return stored instanceof Blob ? this.bytes(index, 0, stored.size) : stored;
  }

  /** bytes [begin, end) of chunk c: a slice of its Blob read from disk, or a view of its stored bytes */
  private async bytes(c: number, begin: number, end: number): Promise<Uint8Array> {
    const stored = await this.stored(c);
    if (!(stored instanceof Blob)) return stored.subarray(begin, end);
    try {
      return new Uint8Array(await stored.slice(begin, end).arrayBuffer());
    } catch (e) {
      throw new DataError(this.name, `chunk ${c} could not be read from the browser store (${(e as Error).message}); delete the dataset and import it again`);
    }
  }

  private stored(index: number): Promise<StoredChunk> {
    let hit = this.cache.get(index);
    if (hit) {
      this.cache.delete(index);
    } else {
      hit = this.fetch(index);
      hit.catch(() => this.cache.delete(index));
    }
    this.cache.set(index, hit);
    while (this.cache.size > this.capacity) this.cache.delete(this.cache.keys().next().value!);
    return hit;
  }

  private async fetch(index: number): Promise<StoredChunk> {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.chunks) {
      throw new DataError(this.name, `chunk ${index} is outside the dataset's ${this.chunks} chunks`);
    }
    const stored = await this.db.get('chunks', [this.id, index]);
    const want = Math.min(this.chunkRows, this.rows - index * this.chunkRows) * this.rowBytes;
    if (!stored) throw new DataError(this.name, `chunk ${index} is missing from the browser store; delete the dataset and import it again`);
    const size = stored instanceof Blob ? stored.size : stored.byteLength;
    if (size !== want) {
      throw new DataError(this.name, `chunk ${index} holds ${size} bytes, expected ${want}; delete the dataset and import it again`);
    }
    return stored;
  }
}

/** stored bytes → float32, viewing aligned f32 bytes directly (out.set copies them) */
function decodeRows(bytes: Uint8Array, dtype: StoredDtype): Float32Array {
  if (dtype === 'float32' && bytes.byteOffset % 4 === 0) {
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  }
  return toFloat32(bytes, dtype === 'float16' ? 'f16' : 'f32');
}
