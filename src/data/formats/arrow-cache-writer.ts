// Writes activations as SAELens's CacheActivationsRunner leaves them: a Hugging Face `datasets` save_to_disk
// folder (data-0000i-of-0000N.arrow in Arrow IPC stream format, dataset_info.json, state.json) whose column,
// named after the hook, is Array2D(shape=(context_size, d_in), dtype="float32"), with token_ids
// Sequence(Value("int32"), length=context_size) beside it where the rows have token ids. The layout is the one
// src/data/formats/arrow.ts reads (see its header for what `datasets` stores); `datasets.load_from_disk`, and so
// SAELens's ActivationsStore with use_cached_activations, reads it.
import {
  Field,
  FixedSizeList,
  Float16,
  Float32,
  Int32,
  List,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  makeData,
  type Data,
} from 'apache-arrow';
import type { RowSource } from '../sources.ts';
import { DataError } from '../errors.ts';

/** an Array2D's element type */
export type Element = Float16 | Float32 | Int32;

export const ARRAY2D_EXTENSION = 'datasets.features.features.Array2DExtensionType';
/** `datasets`' default writer_batch_size: rows (contexts) per record batch */
const BATCH_CONTEXTS = 1000;
/** below `datasets`' default max_shard_size of 500 MB */
const SHARD_BYTES = 256 * 2 ** 20;

/** list<list<float32>> storage of an Array2D, as `datasets` builds it (pa.list_ twice, 32-bit offsets) */
export function array2DStorage(element: Element = new Float32()): List {
  return new List(new Field('item', new List(new Field('item', element, true)), true));
}

/** the Array2D field: storage type plus the extension name and json.dumps((shape, dtype)) as `datasets` writes them */
export function array2DField(name: string, dtype: string, ctx: number, d: number, element?: Element): Field {
  const meta = new Map([
    ['ARROW:extension:name', ARRAY2D_EXTENSION],
    ['ARROW:extension:metadata', JSON.stringify([[ctx, d], dtype]).replace(/,/g, ', ')],
  ]);
  return new Field(name, array2DStorage(element), true, meta);
}

/** token_ids: Sequence(Value("int32"), length=ctx) → fixed_size_list<int32>[ctx] */
export function tokenIdsType(ctx: number): FixedSizeList {
  return new FixedSizeList(ctx, new Field('item', new Int32(), true));
}

/** Features.to_dict() as `datasets` writes it into dataset_info.json and the schema metadata */
export function cacheFeatures(hook: string, dtype: string, ctx: number, d: number, tokens: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { [hook]: { shape: [ctx, d], dtype, _type: 'Array2D' } };
  if (tokens) out.token_ids = { feature: { dtype: 'int32', _type: 'Value' }, length: ctx, _type: 'List' };
  return out;
}

/** Array2D data of n contexts: values n·ctx·d, zero-based offsets as pyarrow writes them */
export function array2DData(values: Float32Array, n: number, ctx: number, d: number): Data {
  const type = array2DStorage();
  const elem = makeData({ type: new Float32(), length: n * ctx * d, data: values, nullCount: 0 });
  const innerType = type.children[0]!.type as List;
  const inner = makeData({ type: innerType, length: n * ctx, nullCount: 0, child: elem, valueOffsets: Int32Array.from({ length: n * ctx + 1 }, (_, i) => i * d) });
  return makeData({ type, length: n, nullCount: 0, child: inner, valueOffsets: Int32Array.from({ length: n + 1 }, (_, i) => i * ctx) });
}

export function tokenIdsData(ids: Int32Array, n: number, ctx: number): Data {
  return makeData({ type: tokenIdsType(ctx), length: n, nullCount: 0, child: makeData({ type: new Int32(), length: n * ctx, nullCount: 0, data: ids }) });
}

export interface CacheWriteOptions {
  rows: RowSource;
  /** the column's name: the hook, as SAELens names it */
  hook: string;
  /** token positions per dataset row; rows must be a whole number of contexts */
  contextSize: number;
  /** token ids of rows [start, start + count), where the data has them */
  tokenIds?: (start: number, count: number) => Promise<Int32Array>;
  /** receives each file whole, in order: the shards, then dataset_info.json and state.json */
  write(name: string, bytes: Uint8Array): Promise<void>;
  onProgress?(rowsDone: number): void;
  /** stops the writing between batches (it then rejects with the signal's reason) */
  signal?: AbortSignal;
  /** for tests: a smaller shard size, to make several shards */
  shardBytes?: number;
}

/** Streams the rows into shards of at most ~256 MiB each; returns the files written. */
export async function writeActivationCache(o: CacheWriteOptions): Promise<{ files: string[]; contexts: number }> {
  const { rows, hook, contextSize: ctx } = o;
  const d = rows.d;
  if (!Number.isInteger(ctx) || ctx < 1) throw new DataError(rows.name, `context size ${ctx} is not a positive whole number`);
  if (rows.rows % ctx !== 0) throw new DataError(rows.name, `${rows.rows} rows are not a whole number of contexts of ${ctx}`);
  const contexts = rows.rows / ctx;
  const perShard = Math.max(1, Math.floor((o.shardBytes ?? SHARD_BYTES) / (ctx * d * 4)));
  const nShards = Math.max(1, Math.ceil(contexts / perShard));
  const tokens = o.tokenIds !== undefined;
  const features = cacheFeatures(hook, 'float32', ctx, d, tokens);
  const fields = [array2DField(hook, 'float32', ctx, d)];
  if (tokens) fields.push(new Field('token_ids', tokenIdsType(ctx), true));
  const fingerprint = fingerprintOf(JSON.stringify({ features, contexts, name: rows.name }));
  const schema = new Schema(fields, new Map([['huggingface', JSON.stringify({ info: { features }, fingerprint })]]));
  const names = Array.from({ length: nShards }, (_, i) => `data-${pad(i)}-of-${pad(nShards)}.arrow`);
  for (const [s, name] of names.entries()) {
    const writer = new RecordBatchStreamWriter();
    writer.reset(undefined, schema);
    const end = Math.min(contexts, (s + 1) * perShard);
    for (let c = s * perShard; c < end; c += BATCH_CONTEXTS) {
      o.signal?.throwIfAborted();
      const n = Math.min(BATCH_CONTEXTS, end - c);
      const values = await rows.readRows(c * ctx, n * ctx);
      const children = [array2DData(values, n, ctx, d)];
      if (o.tokenIds) children.push(tokenIdsData(await o.tokenIds(c * ctx, n * ctx), n, ctx));
      writer.write(new RecordBatch(schema, makeData({ type: new Struct(fields), length: n, nullCount: 0, children })));
      o.onProgress?.((c + n) * ctx);
    }
    writer.finish();
    await o.write(name, writer.toUint8Array(true));
  }
  const info = { citation: '', description: '', features, homepage: '', license: '' };
  const state = {
    _data_files: names.map((filename) => ({ filename })),
    _fingerprint: fingerprint,
    _format_columns: null,
    _format_kwargs: {},
    _format_type: null,
    _output_all_columns: false,
    _split: null,
  };
  const text = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2));
  await o.write('dataset_info.json', text(info));
  await o.write('state.json', text(state));
  return { files: [...names, 'dataset_info.json', 'state.json'], contexts };
}

const pad = (i: number) => String(i).padStart(5, '0');

/** 16 hex digits (FNV-1a, 64-bit): `datasets` only compares fingerprints, to name its caches */
function fingerprintOf(s: string): string {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < s.length; i++) h = ((h ^ BigInt(s.charCodeAt(i))) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, '0');
}
