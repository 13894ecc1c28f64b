// The IndexedDB layout of the dataset store: three object stores, the manifest type, and the helpers that
// open the database and remove one dataset's records atomically.
//   datasets  id → DatasetManifest (written 'pending' before any chunk, flipped to 'complete' last)
//   chunks    [id, chunkIndex] → the raw bytes of chunkRows rows (f16 kept as f16, f32 as f32)
//   context   [id, 0] → ContextHeader (string tables, once); [id, 1 + p] → ContextPart p (columns)
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { SplitRule } from './split.ts';

export const DB_NAME = 'sae-lab-datasets';
export const DB_VERSION = 1;
/** manifest layout version, bumped if the record shapes change */
export const MANIFEST_VERSION = 1;

export type StoredDtype = 'float32' | 'float16';

export const BYTES_PER_VALUE: Record<StoredDtype, number> = { float32: 4, float16: 2 };

/** where a dataset came from; name + size + lastModified identify a file for the duplicate check */
export interface DatasetOrigin {
  kind: 'file' | 'harvest' | 'synthetic';
  /** for rows harvested from a language model: model_name, hook_name, context_size, prepend_bos (cfg.json metadata of SAEs trained on them) */
  provenance?: Record<string, unknown>;
  /** for rows harvested from a language model: its id in this browser's model list, for the hand-over to copy it */
  model?: string;
  name: string;
  /** bytes of the file (or of the generated data) */
  size: number;
  lastModified?: number;
}

/** DataStats with plain arrays (structured-clone and JSON friendly), plus what they were computed over. */
export interface StoredStats {
  scale: number;
  /** (d) mean of the scaled sample */
  mean: number[];
  variance: number;
  /** rows in the sample: the first min(65536, training rows) training rows, ascending */
  sampleRows: number;
  /** true when the sample excludes the held-out blocks of `heldOut` (false: too few rows to split) */
  trainOnly: boolean;
}

export interface DatasetManifest {
  version: number;
  id: string;
  name: string;
  d: number;
  /** stored rows (the file's rows less any skipped NaN/Inf rows; while pending, the file's rows) */
  rows: number;
  dtype: StoredDtype;
  source: DatasetOrigin;
  /** ms since the epoch */
  created: number;
  status: 'pending' | 'complete';
  /** input-scaling statistics; null while pending */
  stats: StoredStats | null;
  /** the held-out rule the statistics exclude: by document when the token context allows, else by block */
  heldOut: SplitRule;
  hasContext: boolean;
  /** rows per chunk (the last chunk may hold fewer) */
  chunkRows: number;
  /** number of chunks */
  chunks: number;
  /** rows of the file holding NaN/Inf that were dropped ('skip'), and the first one (−1 if none) */
  skippedRows: number;
  firstSkippedRow: number;
  /** rows × d × bytes per value */
  bytes: number;
}

/** the string tables of a stored TokenContext, written once */
export interface ContextHeader {
  rows: number;
  /** rows per part (the last part may hold fewer) */
  partRows: number;
  parts: number;
  strings: string[];
  /** label column name → its names table */
  labelNames: Record<string, string[]>;
}

/** rows [p·partRows, …) of a stored TokenContext's columns */
export interface ContextPart {
  doc: Int32Array;
  sentence: Int32Array;
  pos: Int32Array;
  token: Int32Array;
  labels: Record<string, Int32Array>;
}

/**
 * A chunk's rows: a Blob, whose slices the browser reads from disk alone (a training block then costs its own
 * bytes); datasets stored before that hold the bytes themselves, read whole.
 */
export type StoredChunk = Blob | Uint8Array;

export interface StoreSchema extends DBSchema {
  datasets: { key: string; value: DatasetManifest };
  chunks: { key: [string, number]; value: StoredChunk };
  context: { key: [string, number]; value: ContextHeader | ContextPart };
}

export type StoreDB = IDBPDatabase<StoreSchema>;

/** Opens (creating on first use) the store's database. */
export function openStoreDB(name = DB_NAME): Promise<StoreDB> {
  return openDB<StoreSchema>(name, DB_VERSION, {
    upgrade(db) {
      db.createObjectStore('datasets', { keyPath: 'id' });
      db.createObjectStore('chunks');
      db.createObjectStore('context');
    },
    blocking(_current, _blocked, event) {
      // a newer version wants the database: step aside rather than block it
      (event.target as IDBDatabase).close();
    },
  });
}

/** every key [id, …] of the chunks or context store */
export function datasetKeys(id: string): IDBKeyRange {
  return IDBKeyRange.bound([id], [id, []]);
}

/** Deletes a dataset's manifest, chunks and context in one transaction: all or nothing. */
export async function removeDataset(db: StoreDB, id: string): Promise<void> {
  const tx = db.transaction(['datasets', 'chunks', 'context'], 'readwrite');
  await Promise.all([
    tx.objectStore('datasets').delete(id),
    tx.objectStore('chunks').delete(datasetKeys(id)),
    tx.objectStore('context').delete(datasetKeys(id)),
    tx.done,
  ]);
}

/** a fresh dataset id */
export function newDatasetId(): string {
  const uuid = globalThis.crypto?.randomUUID?.();
  if (uuid) return uuid;
  return `ds-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
