// Hugging Face `datasets` Arrow shards (SAELens activation caches): real IPC streams written with apache-arrow,
// laid out as `datasets` stores Array2D (list<list<dtype>> + extension metadata, token_ids a fixed-size list,
// the 'huggingface' schema metadata, dataset_info.json and state.json), read back exactly; one test per refusal.
import { describe, expect, it } from 'vitest';
import { RecordingSource } from '../support/recording-source.ts';
import { Field, List, RecordBatch, RecordBatchStreamWriter, Schema, Struct, makeData, tableFromArrays, tableFromIPC, tableToIPC, Table } from 'apache-arrow';
import { openArrowShards, type ArrowFile } from '../../src/data/formats/arrow.ts';
import { HOOK, EXT_NAME, tokenId, array2DType, array2DData, featuresDict, extensionField, shardBytes, makeCache, text, file, expectedRows, replaceFile } from '../support/arrow-cache.ts';

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

  it("a SAELens cache shuffled with CacheActivationsRunner's defaults: the index file beside it is not a shard", async () => {
    const c = makeCache({ shards: [[2], [1, 1]] });
    // what datasets' shuffle() leaves in the folder: an Arrow stream of one uint64 'indices' column
    const indices = tableToIPC(tableFromArrays({ indices: BigUint64Array.from([3n, 0n, 2n, 1n]) }), 'stream');
    const src = await openArrowShards([...c.files, file('cache/cache-8a1f2c3d4e5b6a70.arrow', indices)]);
    expect(src.shards.map((s) => s.name)).toEqual(c.files.slice(0, 2).map((f) => f.name));
    expect([...(await src.readRows(0, src.rows))]).toEqual(expectedRows(c, 0, src.rows));
    const alone = await openArrowShards([c.files[0]!, c.files[1]!, file('cache/cache-8a1f2c3d4e5b6a70.arrow', indices)]);
    expect(alone.rows).toBe(src.rows);
  });

  it('without the JSON files, shards sort by name', async () => {
    const c = makeCache({ shards: [[1], [2]] });
    const src = await openArrowShards([c.files[1], c.files[0]]);
    expect([...(await src.readRows(0, src.rows))]).toEqual(expectedRows(c, 0, src.rows));
  });

  it('streams: opening reads message headers only, readRows only the rows asked for', async () => {
    const c = makeCache({ ctx: 8, d: 64, shards: [[20, 20, 20], [20, 20]] });
    const counted = c.files.map((f) => ({ name: f.name, source: new RecordingSource(f.source) }));
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
