// Importing a RowSource into the dataset store. Order of writes, so that nothing half-written survives:
//   1. the manifest, status 'pending'  2. the rows, chunk by chunk (never the whole file in memory), with the
//   statistics and the NaN/Inf scan computed on the way  3. the token context  4. the manifest, 'complete'.
// Any failure, abort or full disk removes everything written and rethrows a DataError naming the file;
// a killed tab leaves a 'pending' manifest that cleanupPending() removes at the next start.
import type { RowSource } from './sources.ts';
import type { TokenContext } from './context.ts';
import type { DatasetManifest, DatasetOrigin, StoreDB, StoredDtype, StoredStats } from './store-schema.ts';
import { BYTES_PER_VALUE, MANIFEST_VERSION, datasetKeys, newDatasetId, removeDataset } from './store-schema.ts';
import { DataError } from './errors.ts';
import { BLOCK_ROWS, blockCount, blockHash, documentRule, heldOutRule, rowsInBlocks, splitDocuments, splitRows, type HeldOutRule, type RowSplit, type SplitRule } from './split.ts';
import { estimateDataStats } from './stats.ts';
import { SAMPLE_ROWS, finishMoments, storedStats } from './store-stats.ts';
import { addRows, newMoments, type Moments } from './stats.ts';
import { writeHalves } from './store-half.ts';
import { checkContext, writeContext } from './store-context.ts';
import { chunkRowSource } from './store-source.ts';
import { askPersist, checkQuota, type StorageLike } from './store-quota.ts';

/** about 4 MiB of stored bytes per chunk */
export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;

export type ImportSource = RowSource & { readonly dtype?: string };
export type NonFinitePolicy = 'refuse' | 'skip';

export interface ImportMeta {
  /** the dataset's display name (default: the source's name) */
  name?: string;
  source: DatasetOrigin;
  /** seed of the held-out rule the statistics leave out (default 0); the rule is by document when the
   * token context has documents enough to split, else by block */
  heldOutSeed?: number;
}

export interface ImportOptions {
  signal?: AbortSignal;
  /** called after each piece of the file is read (and written): file rows done, file rows in all */
  onProgress?(rowsDone: number, rows: number): void;
  /** what each row was computed from; must have the file's rows */
  context?: TokenContext;
  /** rows holding NaN/Inf: 'refuse' the file (counting them all), or 'skip' them and record the count */
  nonFinite: NonFinitePolicy;
  /** replace a complete import of the same file instead of refusing (the old one goes when the new completes) */
  replace?: boolean;
}

export interface ImportResult {
  dataset: DatasetManifest;
  /** file rows dropped for NaN/Inf ('skip'), and the first of them (−1 if none) */
  skippedRows: number;
  firstSkippedRow: number;
  /** ids of the datasets this import replaced */
  replaced: string[];
  /** whether the browser granted persistent storage (undefined: it cannot say) */
  persisted: boolean | undefined;
  /** human-readable remarks, e.g. about skipped rows */
  notes: string[];
}

/** Test seam: called before each chunk is written; throw to fail there, never resolve to "kill" the import. */
export interface StoreFaults {
  beforeChunkWrite?(index: number): void | Promise<void>;
}

/** what an import needs from its store */
export interface ImportEnv {
  db: StoreDB;
  faults?: StoreFaults;
  storage?: StorageLike;
  chunkBytes: number;
  /** ids of the imports running in this store (cleanupPending leaves them alone) */
  active: Set<string>;
}

/** Imports `source` as a new dataset; see the file comment for the order of writes. */
export async function importRows(env: ImportEnv, source: ImportSource, meta: ImportMeta, opts: ImportOptions): Promise<ImportResult> {
  const name = source.name;
  checkRequest(source, meta, opts);
  const existing = await env.db.getAll('datasets');
  const replaced = duplicatesOf(existing, name, meta.source, opts.replace === true);
  const manifest = pendingManifest(source, meta, storedDtype(source.dtype), env.chunkBytes, opts.context);
  manifest.created = Math.max(manifest.created, ...existing.map((m) => m.created + 1)); // list() keeps import order
  await checkQuota(env.storage, name, manifest.bytes + contextBytes(opts.context));
  const persisted = await askPersist(env.storage);
  const progress = { rowsDone: 0 };
  env.active.add(manifest.id);
  try {
    throwIfAborted(opts.signal);
    await env.db.put('datasets', manifest);
    const done = await writeAll(env, manifest, source, opts, progress);
    await completeManifest(env.db, done, replaced, name);
    return result(done, replaced, persisted);
  } catch (err) {
    await removeDataset(env.db, manifest.id).catch(() => undefined); // else cleanupPending removes it later
    throw importFailure(name, err, opts.signal, progress.rowsDone, source.rows);
  } finally {
    env.active.delete(manifest.id);
  }
}

/** rows, context and statistics → the manifest as it will be flipped to complete */
async function writeAll(
  env: ImportEnv,
  manifest: DatasetManifest,
  source: ImportSource,
  opts: ImportOptions,
  progress: { rowsDone: number },
): Promise<DatasetManifest> {
  const streamed = await streamRows(env, manifest, source, opts, progress);
  if (opts.context) await writeContext(env.db, manifest.id, opts.context, streamed.skipped);
  const rows = streamed.kept;
  const stored = { ...manifest, rows, chunks: Math.ceil(rows / manifest.chunkRows), bytes: rows * manifest.d * BYTES_PER_VALUE[manifest.dtype] };
  const stats = await finalStats(env.db, stored, streamed, opts.context, source.name);
  throwIfAborted(opts.signal);
  return { ...stored, status: 'complete', stats, skippedRows: streamed.skipped.length, firstSkippedRow: streamed.skipped[0] ?? -1 };
}

// ---- checks before anything is written ----

function checkRequest(source: ImportSource, meta: ImportMeta, opts: ImportOptions): void {
  const fail = (p: string) => new DataError(source.name, p);
  if (!Number.isSafeInteger(source.rows) || source.rows <= 0) throw fail(`cannot import ${source.rows} rows`);
  if (!Number.isSafeInteger(source.d) || source.d <= 0) throw fail(`cannot import rows of width ${source.d}`);
  if (opts.nonFinite !== 'refuse' && opts.nonFinite !== 'skip') throw fail(`nonFinite must be 'refuse' or 'skip', got ${String(opts.nonFinite)}`);
  if (!['file', 'harvest', 'synthetic'].includes(meta.source?.kind)) throw fail(`unknown source kind ${JSON.stringify(meta.source?.kind)}`);
  if (meta.name !== undefined && meta.name.trim() === '') throw fail('the dataset name is empty');
  if (opts.context) checkContext(source.name, opts.context, source.rows);
  if (!Number.isSafeInteger(meta.heldOutSeed ?? 0)) throw fail(`the held-out seed must be an integer, got ${meta.heldOutSeed}`);
}

/** the source's element type → how it is stored: f16 stays f16, everything else becomes f32 */
export function storedDtype(dtype: string | undefined): StoredDtype {
  return dtype !== undefined && ['float16', 'f16', 'F16', '<f2'].includes(dtype) ? 'float16' : 'float32';
}

/** chunkRows rows of d values make about chunkBytes */
export function chunkRowsFor(d: number, dtype: StoredDtype, chunkBytes = DEFAULT_CHUNK_BYTES): number {
  return Math.max(1, Math.floor(chunkBytes / (d * BYTES_PER_VALUE[dtype])));
}

/** complete imports of the same file: refused, or (replace) the ids to remove when this one completes */
function duplicatesOf(existing: DatasetManifest[], name: string, origin: DatasetOrigin, replace: boolean): string[] {
  if (origin.kind !== 'file') return [];
  const same = existing.filter((m) => m.status === 'complete' && sameFile(m.source, origin));
  if (same.length > 0 && !replace) {
    const m = same[0];
    throw new DataError(
      name,
      `this file is already imported as dataset "${m.name}" (${m.rows} rows × ${m.d}, ${new Date(m.created).toISOString()}); ` +
        'use that dataset, delete it first, or import again with replace',
    );
  }
  return same.map((m) => m.id);
}

function sameFile(a: DatasetOrigin, b: DatasetOrigin): boolean {
  return a.kind === 'file' && a.name === b.name && a.size === b.size && a.lastModified === b.lastModified;
}

function pendingManifest(source: ImportSource, meta: ImportMeta, dtype: StoredDtype, chunkBytes: number, context?: TokenContext): DatasetManifest {
  const chunkRows = chunkRowsFor(source.d, dtype, chunkBytes);
  const seed = meta.heldOutSeed ?? 0;
  return {
    version: MANIFEST_VERSION,
    id: newDatasetId(),
    name: meta.name?.trim() || source.name,
    d: source.d,
    rows: source.rows,
    dtype,
    source: { ...meta.source },
    created: Date.now(),
    status: 'pending',
    stats: null,
    heldOut: context && documentSplit(context.doc, seed) ? documentRule(seed) : heldOutRule(seed),
    hasContext: context !== undefined,
    chunkRows,
    chunks: Math.ceil(source.rows / chunkRows),
    skippedRows: 0,
    firstSkippedRow: -1,
    bytes: source.rows * source.d * BYTES_PER_VALUE[dtype],
  };
}

/** rough stored size of a context: four columns, the labels, the strings */
function contextBytes(ctx: TokenContext | undefined): number {
  if (!ctx) return 0;
  const strings = ctx.strings.reduce((n, s) => n + 2 * s.length + 16, 0);
  return ctx.rows * 4 * (4 + Object.keys(ctx.labels).length) + strings + 65536;
}

// ---- streaming the rows ----

interface Streamed {
  /** rows written */
  kept: number;
  /** file rows dropped for NaN/Inf, ascending */
  skipped: number[];
  sampler: StatsSampler;
}

/** Reads the file in pieces of chunkRows rows, drops or refuses NaN/Inf rows, writes full chunks as they fill. */
async function streamRows(
  env: ImportEnv,
  m: DatasetManifest,
  source: ImportSource,
  opts: ImportOptions,
  progress: { rowsDone: number },
): Promise<Streamed> {
  const writer = new ChunkWriter(env, m);
  const sampler = new StatsSampler(m.d, m.heldOut, opts.context?.doc);
  const skipped: number[] = [];
  for (let start = 0; start < source.rows; start += m.chunkRows) {
    throwIfAborted(opts.signal);
    const count = Math.min(m.chunkRows, source.rows - start);
    const data = await readPiece(source, start, count);
    const keep = keptRows(data, m.d, start, skipped);
    if (skipped.length === 0 || opts.nonFinite === 'skip') {
      sampler.add(data, keep, writer.rows, start);
      await writer.add(data, keep);
    }
    progress.rowsDone = start + count;
    opts.onProgress?.(start + count, source.rows);
  }
  if (skipped.length > 0 && opts.nonFinite === 'refuse') throw refusedRows(source.name, skipped);
  if (writer.rows === 0) throw new DataError(source.name, `all ${source.rows} rows contain NaN or Inf; nothing to import`);
  await writer.flush();
  return { kept: writer.rows, skipped, sampler };
}

async function readPiece(source: ImportSource, start: number, count: number): Promise<Float32Array> {
  const data = await source.readRows(start, count);
  if (data.length !== count * source.d) {
    throw new DataError(source.name, `reading rows [${start}, ${start + count}) gave ${data.length} values, expected ${count * source.d}`);
  }
  return data;
}

/** indices (within the piece) of the rows without NaN/Inf; the others' file rows are pushed onto `skipped` */
function keptRows(data: Float32Array, d: number, start: number, skipped: number[]): Int32Array {
  const rows = data.length / d;
  const keep = new Int32Array(rows);
  let n = 0;
  for (let r = 0; r < rows; r++) {
    if (rowIsFinite(data, r * d, d)) keep[n++] = r;
    else skipped.push(start + r);
  }
  return keep.subarray(0, n);
}

function rowIsFinite(data: Float32Array, base: number, d: number): boolean {
  for (let j = base; j < base + d; j++) if (!Number.isFinite(data[j])) return false;
  return true;
}

function refusedRows(name: string, skipped: number[]): DataError {
  const n = skipped.length;
  return new DataError(
    name,
    `${n} row${n === 1 ? '' : 's'} contain NaN or Inf (first: row ${skipped[0]}); the import was refused ` +
      '(fix the file, or import again skipping such rows)',
  );
}

/** Fills one reusable chunk buffer with rows (f32 or converted to f16) and writes it when full. */
class ChunkWriter {
  /** rows written or buffered so far */
  rows = 0;
  private index = 0;
  private fill = 0;
  private readonly buffer: Uint8Array<ArrayBuffer>;
  private readonly f32?: Float32Array;
  private readonly f16?: Uint16Array;

  constructor(
    private readonly env: ImportEnv,
    private readonly m: DatasetManifest,
  ) {
    this.buffer = new Uint8Array(m.chunkRows * m.d * BYTES_PER_VALUE[m.dtype]);
    if (m.dtype === 'float16') this.f16 = new Uint16Array(this.buffer.buffer);
    else this.f32 = new Float32Array(this.buffer.buffer);
  }

  /** appends rows `keep` of data, writing each chunk that fills */
  async add(data: Float32Array, keep: Int32Array): Promise<void> {
    const d = this.m.d;
    for (const r of keep) {
      if (this.f32) this.f32.set(data.subarray(r * d, (r + 1) * d), this.fill * d);
      else writeHalves(data, r * d, d, this.f16!, this.fill * d);
      this.fill++;
      this.rows++;
      if (this.fill === this.m.chunkRows) await this.flush();
    }
  }

  /** writes the buffered rows (a partial chunk only at the end) */
  async flush(): Promise<void> {
    if (this.fill === 0) return;
    const bytes = this.fill === this.m.chunkRows ? this.buffer : this.buffer.slice(0, this.fill * this.m.d * BYTES_PER_VALUE[this.m.dtype]);
    await this.env.faults?.beforeChunkWrite?.(this.index);
    await putChunk(this.env.db, this.m.id, this.index, bytes);
    this.index++;
    this.fill = 0;
  }
}

/** one chunk in its own transaction, as a Blob (a copy of the bytes, so the buffer may be reused) */
async function putChunk(db: StoreDB, id: string, index: number, bytes: Uint8Array): Promise<void> {
  const tx = db.transaction('chunks', 'readwrite');
  await Promise.all([tx.store.put(new Blob([bytes as Uint8Array<ArrayBuffer>]), [id, index]), tx.done]);
}

// ---- statistics ----

/**
 * Moments over the first SAMPLE_ROWS rows the rule would train on. By block: rows whose block the hash holds
 * in (hash ≥ threshold). By document: rows in the training blocks of the split of the file's document ids.
 * That is the final training set unless the split had to move a block to keep one on each side (few blocks,
 * so few rows) or skipped NaN/Inf rows shifted the stored rows against the file's documents; then
 * finalStats reads the sample back from the store instead.
 */
class StatsSampler {
  readonly moments: Moments;
  private readonly threshold: number;
  private block = -1;
  private blockTrains = false;
  /** by document: the training blocks of the file's split (by file row) */
  private readonly fileTrainBlocks?: Uint8Array;

  constructor(
    private readonly d: number,
    private readonly rule: SplitRule,
    doc?: Int32Array,
  ) {
    this.moments = newMoments(d);
    this.threshold = rule.fraction * 4294967296;
    if (rule.kind === 'documents') {
      this.fileTrainBlocks = new Uint8Array(blockCount(doc!.length));
      for (const b of splitDocuments(doc!, rule).trainBlocks) this.fileTrainBlocks[b] = 1;
    }
  }

  /** rows `keep` of data, the first of which is stored row `firstRow` and file row `fileRow` */
  add(data: Float32Array, keep: Int32Array, firstRow: number, fileRow: number): void {
    const picked = new Int32Array(keep.length);
    let n = 0;
    for (let i = 0; i < keep.length && this.moments.n + n < SAMPLE_ROWS; i++) {
      if (this.trains(firstRow + i, fileRow + keep[i])) picked[n++] = keep[i];
    }
    addRows(this.moments, data, this.d, picked, n);
  }

  private trains(row: number, fileRow: number): boolean {
    if (this.fileTrainBlocks) return this.fileTrainBlocks[Math.floor(fileRow / BLOCK_ROWS)] === 1;
    const block = Math.floor(row / (this.rule as HeldOutRule).block_rows);
    if (block !== this.block) {
      this.block = block;
      this.blockTrains = blockHash(this.rule.seed, block) >= this.threshold;
    }
    return this.blockTrains;
  }

  /** whether the final split's training blocks are exactly those sampled from */
  matches(split: RowSplit, rows: number, skipped: number): boolean {
    if (this.fileTrainBlocks) return skipped === 0; // no row moved: the stored split is the file's
    const blocks = blockCount(rows, (this.rule as HeldOutRule).block_rows);
    const train = new Set(split.trainBlocks);
    for (let b = 0; b < blocks; b++) {
      if (train.has(b) !== blockHash(this.rule.seed, b) >= this.threshold) return false;
    }
    return true;
  }
}

type Layout = Pick<DatasetManifest, 'id' | 'rows' | 'd' | 'dtype' | 'chunkRows' | 'chunks' | 'heldOut'>;

/** the streamed statistics, or (split adjusted, impossible, or rows skipped) the same sample read back */
async function finalStats(db: StoreDB, m: Layout, streamed: Streamed, ctx: TokenContext | undefined, name: string): Promise<StoredStats> {
  const doc = m.heldOut.kind === 'documents' ? storedDocs(ctx!, streamed.skipped) : undefined;
  const split = trySplit(m.rows, m.heldOut, doc);
  if (split && streamed.sampler.matches(split, m.rows, streamed.skipped.length)) return finishMoments(streamed.sampler.moments, m.d, name, true);
  const blocks = split ? split.trainBlocks : Array.from({ length: blockCount(m.rows) }, (_, i) => i);
  const stats = await estimateDataStats(chunkRowSource(db, { ...m, name }), blocks, SAMPLE_ROWS);
  return storedStats(stats, Math.min(SAMPLE_ROWS, rowsInBlocks(blocks, m.rows)), split !== null);
}

function trySplit(rows: number, rule: SplitRule, doc?: Int32Array): RowSplit | null {
  try {
    return splitRows(rows, rule, 'data', doc);
  } catch {
    return null; // too few rows (or documents) to hold any out: statistics over all rows
  }
}

/** the split of the file's documents, or null when they are too few or too short to split */
function documentSplit(doc: Int32Array, seed: number): RowSplit | null {
  return trySplit(doc.length, documentRule(seed), doc);
}

/** the document ids of the stored rows: the file's, less the skipped rows (ascending file rows) */
function storedDocs(ctx: TokenContext, skipped: number[]): Int32Array {
  if (skipped.length === 0) return ctx.doc;
  const out = new Int32Array(ctx.rows - skipped.length);
  for (let r = 0, s = 0, at = 0; r < ctx.rows; r++) {
    if (s < skipped.length && skipped[s] === r) s++;
    else out[at++] = ctx.doc[r]!;
  }
  return out;
}

// ---- finishing ----

/** flips the manifest to complete and removes the replaced datasets, in one transaction */
async function completeManifest(db: StoreDB, done: DatasetManifest, replaced: string[], name: string): Promise<void> {
  const tx = db.transaction(['datasets', 'chunks', 'context'], 'readwrite');
  const datasets = tx.objectStore('datasets');
  const still = await datasets.get(done.id);
  if (!still) {
    tx.abort();
    await tx.done.catch(() => undefined);
    throw new DataError(name, 'the import was removed from the browser store while it ran (by another tab cleaning up?)');
  }
  const requests: Promise<unknown>[] = [datasets.put(done)];
  for (const id of replaced) {
    requests.push(datasets.delete(id), tx.objectStore('chunks').delete(datasetKeys(id)), tx.objectStore('context').delete(datasetKeys(id)));
  }
  await Promise.all([...requests, tx.done]);
}

function result(done: DatasetManifest, replaced: string[], persisted: boolean | undefined): ImportResult {
  const notes: string[] = [];
  if (done.skippedRows > 0) {
    notes.push(`skipped ${done.skippedRows} row${done.skippedRows === 1 ? '' : 's'} containing NaN or Inf (first: row ${done.firstSkippedRow} of the file)`);
  }
  if (replaced.length > 0) notes.push(`replaced the earlier import of ${done.source.name}`);
  return { dataset: done, skippedRows: done.skippedRows, firstSkippedRow: done.firstSkippedRow, replaced, persisted, notes };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('The import was aborted', 'AbortError');
}

/** any failure → a DataError naming the file, saying that nothing was kept */
function importFailure(name: string, err: unknown, signal: AbortSignal | undefined, rowsDone: number, rows: number): DataError {
  let out: DataError;
  if (signal?.aborted) {
    out = new DataError(name, `import cancelled after ${rowsDone} of ${rows} rows; nothing was kept`);
  } else if (err instanceof DataError) {
    return err;
  } else if (isQuotaError(err)) {
    out = new DataError(
      name,
      `browser storage is full: the import stopped after ${rowsDone} of ${rows} rows and was removed; ` +
        'delete datasets or free disk space and try again',
    );
  } else {
    const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    out = new DataError(name, `import failed after ${rowsDone} of ${rows} rows and was removed (${why})`);
  }
  out.cause = err;
  return out;
}

function isQuotaError(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}
