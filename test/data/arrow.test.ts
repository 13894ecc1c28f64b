// Hugging Face `datasets` Arrow shards (SAELens activation caches): real IPC streams written with apache-arrow,
// laid out as `datasets` stores Array2D (list<list<dtype>> + extension metadata, token_ids a fixed-size list,
// the 'huggingface' schema metadata, dataset_info.json and state.json), read back exactly; one test per refusal.
import { describe, expect, it } from 'vitest';
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
  tableFromIPC,
  tableToIPC,
  Table,
  type DataType,
  type Data,
} from 'apache-arrow';
import { MemorySource } from '../../src/data/memory-source.ts';
import { decodeHalf } from '../../src/data/convert.ts';
import { openArrowShards, type ArrowFile } from '../../src/data/formats/arrow.ts';
import type { ByteSource } from '../../src/data/sources.ts';

const HOOK = 'blocks.0.hook_mlp_out';
const EXT_NAME = 'datasets.features.features.Array2DExtensionType';

type Dtype = 'float16' | 'float32' | 'int32';

interface CacheSpec {
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
function elementBits(r: number, p: number, j: number): number {
  // valid, non-NaN half patterns spread over the range: exponent 0…30, any sign and mantissa
  const h = (r * 7919 + p * 104729 + j * 1299709) >>> 0;
  const exp = h % 31;
  return ((h >> 5) & 0x8000) | (exp << 10) | ((h >> 7) & 0x3ff);
}
function expected(dtype: Dtype, r: number, p: number, j: number): number {
  if (dtype === 'float16') return decodeHalf(elementBits(r, p, j));
  if (dtype === 'int32') return r * 1000 + p * 10 + j;
  return Math.fround(r * 1000.5 + p * 3.25 + j / 8 - 77.125 + Math.sin(r + p + j)); // arbitrary float32s
}
const tokenId = (r: number, p: number, ctx: number) => 50_000 + r * ctx + p;

function elementType(dtype: Dtype): DataType {
  return dtype === 'float16' ? new Float16() : dtype === 'float32' ? new Float32() : new Int32();
}

/** list<list<dtype>> storage of an Array2D, as datasets' _generate_dtype builds it (pa.list_ twice) */
function array2DType(dtype: Dtype): List {
  return new List(new Field('item', new List(new Field('item', elementType(dtype), true)), true));
}

/** Array2D data for dataset rows [r0, r0 + n): n × ctx × d, zero-based offsets as pyarrow writes them */
function array2DData(dtype: Dtype, r0: number, n: number, ctx: number, d: number, outerOffsets?: Int32Array): Data {
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
function tokenData(r0: number, n: number, ctx: number): Data {
  const type = new FixedSizeList(ctx, new Field('item', new Int32(), true));
  const ids = Int32Array.from({ length: n * ctx }, (_, i) => tokenId(r0 + Math.floor(i / ctx), i % ctx, ctx));
  return makeData({ type, length: n, nullCount: 0, child: makeData({ type: new Int32(), length: n * ctx, nullCount: 0, data: ids }) });
}

/** Features.to_dict() as datasets writes it (py_utils.asdict drops id=None) */
function featuresDict(hook: string, dtype: Dtype, ctx: number, d: number, tokens: boolean, extra?: string): Record<string, unknown> {
  const out: Record<string, unknown> = { [hook]: { shape: [ctx, d], dtype, _type: 'Array2D' } };
  if (extra) out[extra] = { shape: [ctx, d], dtype, _type: 'Array2D' };
  if (tokens) out.token_ids = { feature: { dtype: 'int32', _type: 'Value' }, length: ctx, _type: 'List' };
  return out;
}

function extensionField(name: string, dtype: Dtype, ctx: number, d: number): Field {
  const meta = new Map([
    ['ARROW:extension:name', EXT_NAME],
    ['ARROW:extension:metadata', JSON.stringify([[ctx, d], dtype]).replace(/,/g, ', ')], // json.dumps((shape, dtype))
  ]);
  return new Field(name, array2DType(dtype), true, meta);
}

/** one shard: a stream of record batches of `rows` dataset rows each, starting at dataset row r0 */
function shardBytes(spec: Required<Pick<CacheSpec, 'dtype' | 'ctx' | 'd' | 'tokens'>> & { extra?: string; hook?: string }, rows: number[], r0: number): Uint8Array {
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

interface Cache {
  files: ArrowFile[];
  contexts: number;
  ctx: number;
  d: number;
  dtype: Dtype;
  bytes: Uint8Array[];
}

/** a whole save_to_disk folder: data-0000i-of-0000N.arrow, dataset_info.json, state.json */
function makeCache(spec: CacheSpec = {}): Cache {
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

const pad = (i: number) => String(i).padStart(5, '0');
const text = (s: string) => new TextEncoder().encode(s);
const file = (name: string, bytes: Uint8Array): ArrowFile => ({ name, source: new MemorySource(bytes, name) });

/** rows [start, start + count) as the test data defines them */
function expectedRows(c: Cache, start: number, count: number): number[] {
  const out: number[] = [];
  for (let row = start; row < start + count; row++) {
    const r = Math.floor(row / c.ctx);
    const p = row % c.ctx;
    for (let j = 0; j < c.d; j++) out.push(expected(c.dtype, r, p, j));
  }
  return out;
}

/** a ByteSource that counts the bytes read through it */
class CountingSource implements ByteSource {
  bytesRead = 0;
  constructor(private readonly inner: ByteSource) {}
  get size() {
    return this.inner.size;
  }
  get name() {
    return this.inner.name;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    this.bytesRead += length;
    return this.inner.read(offset, length);
  }
}

function replaceFile(files: ArrowFile[], name: string, bytes: Uint8Array): ArrowFile[] {
  return files.map((f) => (f.name.endsWith(name) ? file(f.name, bytes) : f));
}

describe('openArrowShards reads a datasets folder', () => {
  it('float32: shape, metadata and every row exactly, across batches and shards', async () => {
    const c = makeCache();
    const src = await openArrowShards(c.files);
    expect([src.column, src.dtype, src.contextSize, src.d, src.contexts, src.rows]).toEqual([HOOK, 'float32', 4, 3, 9, 36]);
    expect(src.tokenColumn).toBe('token_ids');
    expect(src.shards.map((s) => s.contexts)).toEqual([6, 3]);
    expect(src.name).toBe('cache');
    expect([...(await src.readRows(0, src.rows))]).toEqual(expectedRows(c, 0, src.rows));
  });

  it('float16: the half bits decode exactly', async () => {
    const c = makeCache({ dtype: 'float16', ctx: 3, d: 5, shards: [[1, 2], [2, 2, 1]] });
    const src = await openArrowShards(c.files);
    expect([src.dtype, src.contextSize, src.d, src.rows]).toEqual(['float16', 3, 5, 24]);
    const all = await src.readRows(0, src.rows);
    expect([...all]).toEqual(expectedRows(c, 0, src.rows));
    expect(all.some((v) => v !== 0 && Math.abs(v) < 6.2e-5)).toBe(true); // subnormal halves included
  });

  it('any range: inside a context, across contexts, batches and the shard boundary', async () => {
    const c = makeCache({ ctx: 3, d: 2, shards: [[2, 1, 3], [1, 4]] });
    const src = await openArrowShards(c.files);
    const ranges: [number, number][] = [[0, 1], [1, 1], [2, 2], [5, 3], [8, 5], [16, 4], [17, 2], [18, 1], [4, 20], [src.rows - 1, 1], [10, 0]];
    for (const [start, count] of ranges) {
      expect([...(await src.readRows(start, count))], `rows [${start}, ${start + count})`).toEqual(expectedRows(c, start, count));
    }
  });

  it('agrees with apache-arrow decoding the whole shard', async () => {
    const c = makeCache({ ctx: 2, d: 3, shards: [[2, 3]] });
    const table = tableFromIPC(c.bytes[0]);
    const col = table.getChild(HOOK)!;
    const flat: number[] = [];
    for (let r = 0; r < col.length; r++) {
      for (const pos of col.get(r)!) flat.push(...(pos as { toArray(): Float32Array }).toArray());
    }
    const src = await openArrowShards(c.files);
    expect([...(await src.readRows(0, src.rows))]).toEqual(flat);
    expect(table.schema.fields[0].metadata.get('ARROW:extension:name')).toBe(EXT_NAME);
  });

  it('token ids align with rows', async () => {
    const c = makeCache({ ctx: 4, d: 2, shards: [[1, 2], [3]] });
    const src = await openArrowShards(c.files);
    const ids = await src.readTokenIds(0, src.rows);
    expect([...ids]).toEqual(Array.from({ length: src.rows }, (_, row) => tokenId(Math.floor(row / 4), row % 4, 4)));
    expect([...(await src.readTokenIds(10, 7))]).toEqual([...ids.subarray(10, 17)]);
  });

  it('no token_ids column: tokenColumn null, readTokenIds refused', async () => {
    const src = await openArrowShards(makeCache({ tokens: false }).files);
    expect(src.tokenColumn).toBeNull();
    await expect(src.readTokenIds(0, 1)).rejects.toThrow(/no 'token_ids' column/);
  });

  it('shards in state.json order, whatever order they are given in', async () => {
    const c = makeCache({ shards: [[1], [2], [1]] });
    const src = await openArrowShards([...c.files].reverse());
    expect(src.shards.map((s) => s.name)).toEqual(c.files.slice(0, 3).map((f) => f.name));
    expect([...(await src.readRows(0, src.rows))]).toEqual(expectedRows(c, 0, src.rows));
  });

  it('without the JSON files, shards sort by name', async () => {
    const c = makeCache({ shards: [[1], [2]] });
    const src = await openArrowShards([c.files[1], c.files[0]]);
    expect([...(await src.readRows(0, src.rows))]).toEqual(expectedRows(c, 0, src.rows));
  });

  it('streams: opening reads message headers only, readRows only the rows asked for', async () => {
    const c = makeCache({ ctx: 8, d: 64, shards: [[20, 20, 20], [20, 20]] });
    const counted = c.files.map((f) => ({ name: f.name, source: new CountingSource(f.source) }));
    const total = c.bytes.reduce((n, b) => n + b.length, 0);
    const src = await openArrowShards(counted);
    const shardRead = () => counted.slice(0, 2).reduce((n, f) => n + f.source.bytesRead, 0);
    const opened = shardRead();
    expect(opened).toBeLessThan(total / 20);
    await src.readRows(500, 10); // 10 rows × 64 × 4 bytes, plus a few offsets
    expect(shardRead() - opened).toBeLessThan(10 * 64 * 4 + 200);
  });

  it('the column named in the options, when there are several', async () => {
    const c = makeCache({ extraArrayColumn: 'blocks.1.hook_mlp_out' });
    await expect(openArrowShards(c.files)).rejects.toThrow(/several activation columns \('blocks.0.hook_mlp_out' \(Array2D float32\), 'blocks.1.hook_mlp_out' \(Array2D float32\)\); name the one to use/);
    const src = await openArrowShards(c.files, { column: 'blocks.1.hook_mlp_out' });
    expect(src.column).toBe('blocks.1.hook_mlp_out');
    const want = expectedRows(c, c.ctx, 2 * c.ctx); // the extra column starts one context later
    expect([...(await src.readRows(0, 2 * c.ctx))]).toEqual(want);
  });

});

describe('openArrowShards refuses', () => {
  const refuse = (files: ArrowFile[], pattern: RegExp, opts?: { column?: string }) =>
    expect(openArrowShards(files, opts)).rejects.toThrow(pattern);

  it('a file that is not an Arrow stream', async () => {
    await refuse([file('d/data-00000-of-00001.arrow', text('{"not": "arrow", "at": "all", "padding": 1}'))], /^d\/data-00000-of-00001\.arrow: not an Arrow IPC stream/);
    await refuse([file('d/data-00000-of-00001.arrow', new Uint8Array([0xff, 0xff, 0xff, 0xff, 16, 0, 0, 0, ...new Array(16).fill(7)]))], /not an Arrow IPC stream/);
    await refuse([file('d/data-00000-of-00001.arrow', new Uint8Array(3))], /not an Arrow IPC stream \(3 bytes is too short\)/);
  });

  it('the Arrow IPC file format, by name', async () => {
    const c = makeCache({ shards: [[3]] });
    const fileBytes = tableToIPC(tableFromIPC(c.bytes[0]), 'file');
    await refuse([file('x/data-00000-of-00001.arrow', fileBytes)], /x\/data-00000-of-00001\.arrow: is an Arrow IPC file \(random-access format\), not the stream format/);
  });

  it('a truncated shard (inside a body, inside a header)', async () => {
    const c = makeCache();
    const cutBody = c.bytes[1].subarray(0, c.bytes[1].length - 40);
    await refuse(replaceFile(c.files, 'data-00001-of-00002.arrow', cutBody), /^cache\/data-00001-of-00002\.arrow: file is truncated: message \d+ needs \d+ body bytes/);
    const cutHeader = c.bytes[0].subarray(0, 100);
    await refuse(replaceFile(c.files, 'data-00000-of-00002.arrow', cutHeader), /data-00000-of-00002\.arrow: not an Arrow IPC stream, or the file is truncated/);
  });

  it('a missing column, naming the columns there are', async () => {
    const c = makeCache();
    await refuse(c.files, /data-00000-of-00002\.arrow: no column 'blocks\.3\.hook_resid_pre'; columns: 'blocks\.0\.hook_mlp_out' \(Array2D float32\), 'token_ids'/, { column: 'blocks.3.hook_resid_pre' });
  });

  it('a column missing from one shard only', async () => {
    const c = makeCache({ shards: [[2], [1]] });
    const other = shardBytes({ dtype: 'float32', ctx: 4, d: 3, tokens: true, hook: 'blocks.5.hook_resid_post' }, [1], 2);
    const files = replaceFile(c.files, 'data-00001-of-00002.arrow', other);
    await refuse(files, /^cache\/data-00001-of-00002\.arrow: no column 'blocks\.0\.hook_mlp_out' \(it is in cache\/data-00000-of-00002\.arrow\); columns: 'blocks\.5\.hook_resid_post' \(Array2D float32\), 'token_ids'/);
  });

  it('an unsupported dtype', async () => {
    const c = makeCache({ dtype: 'int32' });
    await refuse(c.files, /column 'blocks\.0\.hook_mlp_out' has unsupported dtype int32; supported: float16, float32, float64/);
    await refuse(c.files, /unsupported dtype int32/, { column: HOOK });
  });

  it('a column that is not an Array2D', async () => {
    await refuse(makeCache().files, /column 'token_ids' has type FixedSizeList\[4\]<Int32>; expected an Array2D/, { column: 'token_ids' });
  });

  it('several candidate columns and none named', async () => {
    await refuse(makeCache({ extraArrayColumn: 'blocks.1.hook_mlp_out' }).files, /several activation columns/);
  });

  it('a d that differs between shards', async () => {
    const c = makeCache({ shards: [[2], [2]], shardD: [undefined, 5] });
    const files = c.files.filter((f) => f.name.endsWith('.arrow'));
    await refuse(files, /^cache\/data-00001-of-00002\.arrow: record batch 0: 'blocks\.0\.hook_mlp_out' holds \(4, 5\) arrays but cache\/data-00000-of-00002\.arrow record batch 0 holds \(4, 3\)/);
  });

  it('a context size that differs between batches', async () => {
    const a = shardBytes({ dtype: 'float32', ctx: 4, d: 3, tokens: false }, [2], 0);
    const b = shardBytes({ dtype: 'float32', ctx: 2, d: 3, tokens: false }, [2], 0);
    const table = new Table([...tableFromIPC(a).batches, ...tableFromIPC(b).batches.map((x) => new RecordBatch(tableFromIPC(a).schema, x.data))]);
    const mixed = tableToIPC(table, 'stream');
    await refuse([file('m/data-00000-of-00001.arrow', mixed)], /record batch 1: 'blocks\.0\.hook_mlp_out' holds \(2, 3\) arrays but m\/data-00000-of-00001\.arrow record batch 0 holds \(4, 3\)/);
  });

  it('a ragged column (rows of different lengths), when read', async () => {
    const ctx = 2;
    const d = 3;
    const fields = [extensionField(HOOK, 'float32', ctx, d)];
    const schema = new Schema(fields);
    const ragged = array2DData('float32', 0, 2, ctx, d, Int32Array.from([0, 1, 4])); // rows of 1 and 3 positions
    const writer = new RecordBatchStreamWriter();
    writer.write(new RecordBatch(schema, makeData({ type: new Struct(fields), length: 2, nullCount: 0, children: [ragged] })));
    writer.finish();
    const src = await openArrowShards([file('r/data-00000-of-00001.arrow', writer.toUint8Array(true))]);
    await expect(src.readRows(0, 4)).rejects.toThrow(/r\/data-00000-of-00001\.arrow: record batch 0: a row list has 1 entries where every one has 2; the column is ragged or corrupt/);
  });

  it('dataset_info.json features that disagree with the data', async () => {
    const c = makeCache();
    const withInfo = (features: unknown) => replaceFile(c.files, 'dataset_info.json', text(JSON.stringify({ features })));
    const ok = featuresDict(HOOK, 'float32', 4, 3, true);
    await refuse(withInfo({ ...ok, [HOOK]: { shape: [4, 7], dtype: 'float32', _type: 'Array2D' } }), /^cache\/dataset_info\.json: feature 'blocks\.0\.hook_mlp_out' says shape \[4,7\] but the data has \(4, 3\)/);
    await refuse(withInfo({ ...ok, [HOOK]: { shape: [4, 3], dtype: 'float16', _type: 'Array2D' } }), /dataset_info\.json: feature 'blocks\.0\.hook_mlp_out' says dtype "float16" but the data is float32/);
    await refuse(withInfo({ ...ok, [HOOK]: { feature: { dtype: 'float32', _type: 'Value' }, _type: 'List' } }), /dataset_info\.json: feature 'blocks\.0\.hook_mlp_out' is "List", but the data holds Array2D \(4, 3\) arrays/);
    await refuse(withInfo({ token_ids: ok.token_ids }), /dataset_info\.json: features have no 'blocks\.0\.hook_mlp_out' \(features: token_ids\)/);
    await refuse(withInfo({ ...ok, token_ids: { feature: { dtype: 'int32', _type: 'Value' }, length: 9, _type: 'List' } }), /feature 'token_ids' has length 9 but the data has 4 positions per row/);
    await refuse(replaceFile(c.files, 'dataset_info.json', text('{"features": ')), /dataset_info\.json: is not valid JSON/);
  });

  it('a dynamic first dimension (shape [null, d]) is accepted', async () => {
    const c = makeCache();
    const features = { ...featuresDict(HOOK, 'float32', 4, 3, true), [HOOK]: { shape: [null, 3], dtype: 'float32', _type: 'Array2D' } };
    const src = await openArrowShards(replaceFile(c.files, 'dataset_info.json', text(JSON.stringify({ features }))));
    expect(src.rows).toBe(36);
  });

  it('extension metadata that disagrees with the data', async () => {
    const fields = [new Field(HOOK, array2DType('float32'), true, new Map([['ARROW:extension:name', EXT_NAME], ['ARROW:extension:metadata', '[[4, 9], "float32"]']]))];
    const writer = new RecordBatchStreamWriter();
    writer.write(new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: 1, nullCount: 0, children: [array2DData('float32', 0, 1, 4, 3)] })));
    writer.finish();
    await refuse([file('e/data-00000-of-00001.arrow', writer.toUint8Array(true))], /column 'blocks\.0\.hook_mlp_out': its extension type says shape \[4,9\] but the data has \(4, 3\)/);
  });

  it('state.json that lists a shard not given', async () => {
    const c = makeCache();
    await refuse(c.files.filter((f) => !f.name.endsWith('data-00001-of-00002.arrow')), /^cache\/state\.json: lists shard 'data-00001-of-00002\.arrow', which was not given/);
  });

  it('no .arrow file at all', async () => {
    await refuse([file('cache/state.json', text('{}'))], /no \.arrow shard among the files given/);
  });

  it('null rows', async () => {
    const fields = [extensionField(HOOK, 'float32', 2, 2)];
    const good = array2DData('float32', 0, 2, 2, 2);
    const withNull = makeData({ type: good.type as List, length: 2, nullCount: 1, nullBitmap: Uint8Array.from([0b01]), child: good.children[0], valueOffsets: good.valueOffsets });
    const writer = new RecordBatchStreamWriter();
    writer.write(new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: 2, nullCount: 0, children: [withNull] })));
    writer.finish();
    await refuse([file('n/data-00000-of-00001.arrow', writer.toUint8Array(true))], /record batch 0: 1 of its rows are null/);
  });

  it('rows outside the dataset', async () => {
    const src = await openArrowShards(makeCache().files);
    await expect(src.readRows(35, 2)).rejects.toThrow(/rows \[35, 37\) are outside the 36 rows/);
  });
});
