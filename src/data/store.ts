// The dataset store: activation datasets kept in IndexedDB (through idb) so a tab can train on files far
// larger than its memory and find them again after a reload. Layout in store-schema.ts, the import in
// store-import.ts, reading for training in store-source.ts, export in store-export.ts / store-context.ts.
// Runs in the browser and, with `fake-indexeddb/auto`, in Node tests.
import type { TokenContext } from './context.ts';
import type { DataStats } from '../engine/config.ts';
import { DataError } from './errors.ts';
import { DB_NAME, openStoreDB, removeDataset, type DatasetManifest, type StoreDB } from './store-schema.ts';
import { DEFAULT_CHUNK_BYTES, importRows, type ImportEnv, type ImportMeta, type ImportOptions, type ImportResult, type ImportSource, type StoreFaults } from './store-import.ts';
import { DEFAULT_CACHE_CHUNKS, chunkRowSource, type StoredRowSource } from './store-source.ts';
import { gather, npyPieces, npySize } from './store-export.ts';
import { readContext, readDocs, sidecarPieces } from './store-context.ts';
import { splitRows, type RowSplit } from './split.ts';
import { defaultStorage, type StorageLike } from './store-quota.ts';
import { toDataStats } from './store-stats.ts';

export type { DatasetManifest, DatasetOrigin, StoredDtype, StoredStats } from './store-schema.ts';
export type { ImportMeta, ImportOptions, ImportResult, ImportSource, NonFinitePolicy, StoreFaults } from './store-import.ts';
export type { StoredRowSource } from './store-source.ts';
export type { StorageLike } from './store-quota.ts';
export { toDataStats } from './store-stats.ts';

export interface StoreOptions {
  /** IndexedDB database name (default 'sae-lab-datasets'; tests use one per case) */
  name?: string;
  /** test seam for failures during an import */
  faults?: StoreFaults;
  /** quota estimate and persistence; default navigator.storage, null for none */
  storage?: StorageLike | null;
  /** stored bytes per chunk (default 4 MiB) */
  chunkBytes?: number;
  /** chunks each rowSource keeps in memory (default 8) */
  cacheChunks?: number;
}

export interface ExportStreams {
  /** total bytes of the .npy */
  npySize: number;
  /** the .npy: header, then the stored chunks */
  npy: AsyncIterable<Uint8Array>;
  /** the JSONL token context, one line per row, when the dataset has one */
  sidecar?: AsyncIterable<Uint8Array>;
}

export interface DatasetStore {
  /** Imports rows as a new dataset (pending first, complete last; a failure leaves nothing). */
  importRows(source: ImportSource, meta: ImportMeta, opts: ImportOptions): Promise<ImportResult>;
  /** Removes every pending dataset not being imported by this store (run at start-up); the ids removed. */
  cleanupPending(): Promise<string[]>;
  /** complete datasets, oldest first (pending ones too when asked) */
  list(opts?: { includePending?: boolean }): Promise<DatasetManifest[]>;
  get(id: string): Promise<DatasetManifest | undefined>;
  rename(id: string, name: string): Promise<DatasetManifest>;
  /** removes the dataset and its chunks and context; false if there was none */
  delete(id: string): Promise<boolean>;
  /** a RowSource streaming the stored rows (float32) from IndexedDB */
  rowSource(id: string, opts?: { cacheChunks?: number }): Promise<StoredRowSource>;
  /** the stored statistics as the trainer takes them */
  dataStats(id: string): Promise<DataStats>;
  /** training blocks and held-out rows under the dataset's held-out rule */
  split(id: string): Promise<RowSplit>;
  /** the stored token context, or undefined when the dataset has none */
  readContext(id: string): Promise<TokenContext | undefined>;
  /** the whole .npy (f16 stays '<f2', bit for bit) and the JSONL sidecar, in memory */
  exportNpy(id: string): Promise<{ npy: Uint8Array; sidecar?: Uint8Array }>;
  /** the same as streams, for datasets too big to hold twice */
  exportStreams(id: string): Promise<ExportStreams>;
  /** closes the database connection */
  close(): void;
}

export async function openStore(opts: StoreOptions = {}): Promise<DatasetStore> {
  const db = await openStoreDB(opts.name ?? DB_NAME);
  return new IdbDatasetStore(db, opts);
}

class IdbDatasetStore implements DatasetStore {
  private readonly env: ImportEnv;
  private readonly cacheChunks: number;

  constructor(
    private readonly db: StoreDB,
    opts: StoreOptions,
  ) {
    const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) throw new Error(`chunkBytes must be a positive integer, got ${chunkBytes}`);
    const storage = opts.storage === null ? undefined : (opts.storage ?? defaultStorage());
    this.env = { db, faults: opts.faults, storage, chunkBytes, active: new Set() };
    this.cacheChunks = opts.cacheChunks ?? DEFAULT_CACHE_CHUNKS;
  }

  importRows(source: ImportSource, meta: ImportMeta, opts: ImportOptions): Promise<ImportResult> {
    return importRows(this.env, source, meta, opts);
  }

  async cleanupPending(): Promise<string[]> {
    const pending = (await this.db.getAll('datasets')).filter((m) => m.status === 'pending' && !this.env.active.has(m.id));
    for (const m of pending) await removeDataset(this.db, m.id);
    return pending.map((m) => m.id);
  }

  async list(opts: { includePending?: boolean } = {}): Promise<DatasetManifest[]> {
    const all = await this.db.getAll('datasets');
    return all.filter((m) => opts.includePending || m.status === 'complete').sort((a, b) => a.created - b.created || a.id.localeCompare(b.id));
  }

  get(id: string): Promise<DatasetManifest | undefined> {
    return this.db.get('datasets', id);
  }

  async rename(id: string, name: string): Promise<DatasetManifest> {
    const trimmed = name.trim();
    const tx = this.db.transaction('datasets', 'readwrite');
    const m = await tx.store.get(id);
    if (!m || trimmed === '') {
      tx.abort();
      await tx.done.catch(() => undefined);
      throw m ? new DataError(m.name, 'a dataset name cannot be empty') : missing(id);
    }
    const renamed = { ...m, name: trimmed };
    await Promise.all([tx.store.put(renamed), tx.done]);
    return renamed;
  }

  async delete(id: string): Promise<boolean> {
    const had = (await this.db.get('datasets', id)) !== undefined;
    await removeDataset(this.db, id);
    return had;
  }

  async rowSource(id: string, opts: { cacheChunks?: number } = {}): Promise<StoredRowSource> {
    return chunkRowSource(this.db, await this.complete(id), opts.cacheChunks ?? this.cacheChunks);
  }

  async dataStats(id: string): Promise<DataStats> {
    const m = await this.complete(id);
    return toDataStats(m.stats!);
  }

  async split(id: string): Promise<RowSplit> {
    const m = await this.complete(id);
    const doc = m.heldOut.kind === 'documents' ? await readDocs(this.db, id, m.name) : undefined;
    return splitRows(m.rows, m.heldOut, m.name, doc);
  }

  async readContext(id: string): Promise<TokenContext | undefined> {
    const m = await this.complete(id);
    return m.hasContext ? readContext(this.db, id, m.name) : undefined;
  }

  async exportNpy(id: string): Promise<{ npy: Uint8Array; sidecar?: Uint8Array }> {
    const streams = await this.exportStreams(id);
    const npy = await gather(streams.npy, streams.npySize);
    return streams.sidecar ? { npy, sidecar: await gather(streams.sidecar) } : { npy };
  }

  async exportStreams(id: string): Promise<ExportStreams> {
    const m = await this.complete(id);
    const src = chunkRowSource(this.db, m, 1);
    const out: ExportStreams = { npySize: npySize(src), npy: npyPieces(src) };
    if (m.hasContext) out.sidecar = sidecarPieces(this.db, id, m.name);
    return out;
  }

  close(): void {
    this.db.close();
  }

  /** the manifest of a complete dataset, or a DataError saying why not */
  private async complete(id: string): Promise<DatasetManifest> {
    const m = await this.db.get('datasets', id);
    if (!m) throw missing(id);
    if (m.status !== 'complete') throw new DataError(m.name, 'this dataset is still being imported (or its import was interrupted)');
    return m;
  }
}

function missing(id: string): DataError {
  return new DataError(`dataset ${id}`, 'no such dataset in the browser store');
}
