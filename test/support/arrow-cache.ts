// A writer of SAELens-style activation caches for tests: `datasets` save_to_disk folders whose Array2D
// column and token_ids are laid out exactly as `datasets` writes them (see src/data/formats/arrow.ts).
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
  type DataType,
  type Data,
} from 'apache-arrow';
import { MemorySource } from '../../src/data/memory-source.ts';
import { decodeHalf } from '../../src/data/convert.ts';
import { type ArrowFile } from '../../src/data/formats/arrow.ts';


export const HOOK = 'blocks.0.hook_mlp_out';
export const EXT_NAME = 'datasets.features.features.Array2DExtensionType';

export type Dtype = 'float16' | 'float32' | 'int32';

export interface CacheSpec {
  dtype?: Dtype;
  ctx?: number;
  d?: number;
  /** dataset rows per record batch, per shard */
  shards?: number[][];
  /** per-shard override of d (for inconsistent shards) */
  shardD?: (number | undefined)[];
  /** columns: the hook column name(s); a second Array2D column when given */
  extraArrayColumn?: string;
  tokens?: boolean;
  /** dataset_info.json features override */
  features?: Record<string, unknown>;
}

/** element (context r of the whole dataset, position p, component j) as raw bits / a float */
export function elementBits(r: number, p: number, j: number): number {
  // valid, non-NaN half patterns spread over the range: exponent 0…30, any sign and mantissa
  const h = (r * 7919 + p * 104729 + j * 1299709) >>> 0;
  const exp = h % 31;
  return ((h >> 5) & 0x8000) | (exp << 10) | ((h >> 7) & 0x3ff);
}
export function expected(dtype: Dtype, r: number, p: number, j: number): number {
  if (dtype === 'float16') return decodeHalf(elementBits(r, p, j));
  if (dtype === 'int32') return r * 1000 + p * 10 + j;
  return Math.fround(r * 1000.5 + p * 3.25 + j / 8 - 77.125 + Math.sin(r + p + j)); // arbitrary float32s
}
export const tokenId = (r: number, p: number, ctx: number) => 50_000 + r * ctx + p;

export function elementType(dtype: Dtype): DataType {
  return dtype === 'float16' ? new Float16() : dtype === 'float32' ? new Float32() : new Int32();
}

/** list<list<dtype>> storage of an Array2D, as datasets' _generate_dtype builds it (pa.list_ twice) */
export function array2DType(dtype: Dtype): List {
  return new List(new Field('item', new List(new Field('item', elementType(dtype), true)), true));
}

/** Array2D data for dataset rows [r0, r0 + n): n × ctx × d, zero-based offsets as pyarrow writes them */
export function array2DData(dtype: Dtype, r0: number, n: number, ctx: number, d: number, outerOffsets?: Int32Array): Data {
  const type = array2DType(dtype);
  const count = n * ctx * d;
  const values =
    dtype === 'float16' ? new Uint16Array(count) : dtype === 'float32' ? new Float32Array(count) : new Int32Array(count);
  for (let r = 0; r < n; r++) {
    for (let p = 0; p < ctx; p++) {
      for (let j = 0; j < d; j++) {
        const i = (r * ctx + p) * d + j;
        values[i] = dtype === 'float16' ? elementBits(r0 + r, p, j) : expected(dtype, r0 + r, p, j);
      }
    }
  }
  const elem = makeData({ type: elementType(dtype) as Float32, length: count, data: values as Float32Array, nullCount: 0 });
  const innerType = type.children[0].type as List;
  const inner = makeData({ type: innerType, length: n * ctx, nullCount: 0, child: elem, valueOffsets: Int32Array.from({ length: n * ctx + 1 }, (_, i) => i * d) });
  const offsets = outerOffsets ?? Int32Array.from({ length: n + 1 }, (_, i) => i * ctx);
  return makeData({ type, length: n, nullCount: 0, child: inner, valueOffsets: offsets });
}

/** token_ids: Sequence(Value("int32"), length=ctx) → fixed_size_list<int32>[ctx] */
export function tokenData(r0: number, n: number, ctx: number): Data {
  const type = new FixedSizeList(ctx, new Field('item', new Int32(), true));
  const ids = Int32Array.from({ length: n * ctx }, (_, i) => tokenId(r0 + Math.floor(i / ctx), i % ctx, ctx));
  return makeData({ type, length: n, nullCount: 0, child: makeData({ type: new Int32(), length: n * ctx, nullCount: 0, data: ids }) });
}

/** Features.to_dict() as datasets writes it (py_utils.asdict drops id=None) */
export function featuresDict(hook: string, dtype: Dtype, ctx: number, d: number, tokens: boolean, extra?: string): Record<string, unknown> {
  const out: Record<string, unknown> = { [hook]: { shape: [ctx, d], dtype, _type: 'Array2D' } };
  if (extra) out[extra] = { shape: [ctx, d], dtype, _type: 'Array2D' };
  if (tokens) out.token_ids = { feature: { dtype: 'int32', _type: 'Value' }, length: ctx, _type: 'List' };
  return out;
}

export function extensionField(name: string, dtype: Dtype, ctx: number, d: number): Field {
  const meta = new Map([
    ['ARROW:extension:name', EXT_NAME],
    ['ARROW:extension:metadata', JSON.stringify([[ctx, d], dtype]).replace(/,/g, ', ')], // json.dumps((shape, dtype))
  ]);
  return new Field(name, array2DType(dtype), true, meta);
}

/** one shard: a stream of record batches of `rows` dataset rows each, starting at dataset row r0 */
export function shardBytes(spec: Required<Pick<CacheSpec, 'dtype' | 'ctx' | 'd' | 'tokens'>> & { extra?: string; hook?: string }, rows: number[], r0: number): Uint8Array {
  const { dtype, ctx, d, tokens, extra } = spec;
  const hook = spec.hook ?? HOOK;
  const fields = [extensionField(hook, dtype, ctx, d)];
  if (extra) fields.push(extensionField(extra, dtype, ctx, d));
  if (tokens) fields.push(new Field('token_ids', new FixedSizeList(ctx, new Field('item', new Int32(), true)), true));
  const hf = { info: { features: featuresDict(hook, dtype, ctx, d, tokens, extra) }, fingerprint: 'f00dfeed' };
  const schema = new Schema(fields, new Map([['huggingface', JSON.stringify(hf)]]));
  const writer = new RecordBatchStreamWriter();
  let r = r0;
  for (const n of rows) {
    const children = [array2DData(dtype, r, n, ctx, d)];
    if (extra) children.push(array2DData(dtype, r + 1, n, ctx, d));
    if (tokens) children.push(tokenData(r, n, ctx));
    writer.write(new RecordBatch(schema, makeData({ type: new Struct(fields), length: n, nullCount: 0, children })));
    r += n;
  }
  writer.finish();
  return writer.toUint8Array(true);
}

export interface Cache {
  files: ArrowFile[];
  contexts: number;
  ctx: number;
  d: number;
  dtype: Dtype;
  bytes: Uint8Array[];
}

/** a whole save_to_disk folder: data-0000i-of-0000N.arrow, dataset_info.json, state.json */
export function makeCache(spec: CacheSpec = {}): Cache {
  const dtype = spec.dtype ?? 'float32';
  const ctx = spec.ctx ?? 4;
  const d = spec.d ?? 3;
  const tokens = spec.tokens ?? true;
  const shards = spec.shards ?? [[2, 3, 1], [1, 2]];
  const names = shards.map((_, i) => `data-${pad(i)}-of-${pad(shards.length)}.arrow`);
  let r0 = 0;
  const bytes = shards.map((rows, i) => {
    const out = shardBytes({ dtype, ctx, d: spec.shardD?.[i] ?? d, tokens, extra: spec.extraArrayColumn }, rows, r0);
    r0 += rows.reduce((a, b) => a + b, 0);
    return out;
  });
  const info = { citation: '', description: '', features: spec.features ?? featuresDict(HOOK, dtype, ctx, d, tokens, spec.extraArrayColumn), homepage: '', license: '' };
  const state = {
    _data_files: names.map((filename) => ({ filename })),
    _fingerprint: '1f2e3d4c5b6a7980',
    _format_columns: null,
    _format_kwargs: {},
    _format_type: null,
    _output_all_columns: false,
    _split: null,
  };
  const files: ArrowFile[] = [
    ...bytes.map((b, i) => file(`cache/${names[i]}`, b)),
    file('cache/dataset_info.json', text(JSON.stringify(info, null, 2))),
    file('cache/state.json', text(JSON.stringify(state, null, 2))),
  ];
  return { files, contexts: r0, ctx, d, dtype, bytes };
}

export const pad = (i: number) => String(i).padStart(5, '0');
export const text = (s: string) => new TextEncoder().encode(s);
export const file = (name: string, bytes: Uint8Array): ArrowFile => ({ name, source: new MemorySource(bytes, name) });

/** rows [start, start + count) as the test data defines them */
export function expectedRows(c: Cache, start: number, count: number): number[] {
  const out: number[] = [];
  for (let row = start; row < start + count; row++) {
    const r = Math.floor(row / c.ctx);
    const p = row % c.ctx;
    for (let j = 0; j < c.d; j++) out.push(expected(c.dtype, r, p, j));
  }
  return out;
}

export function replaceFile(files: ArrowFile[], name: string, bytes: Uint8Array): ArrowFile[] {
  return files.map((f) => (f.name.endsWith(name) ? file(f.name, bytes) : f));
}

