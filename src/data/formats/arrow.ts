// Hugging Face `datasets` Arrow shards, as SAELens caches activations, as one RowSource read by byte range.
// A cache is a folder: data-00000-of-000NN.arrow (Arrow IPC *stream* format), dataset_info.json, state.json
// (and, after a shuffle, an index file cache-<hash>.arrow that is not data: isIndexFile).
// What `datasets` stores (huggingface/datasets, src/datasets/features/features.py):
//   Array2D(shape=(context, d), dtype) is the extension type `datasets.features.features.Array2DExtensionType`
//   (a pa.ExtensionType; older releases used pa.PyExtensionType, name "arrow.py_extension_type", pickled
//   metadata), serialised as json.dumps((shape, dtype)), e.g. '[[128, 512], "float32"]', over the storage
//   pa.list_(pa.list_(dtype)): variable-size lists with 32-bit offsets, not fixed-size ones. In IPC the field
//   has the storage type plus field metadata ARROW:extension:name / ARROW:extension:metadata.
//   SAELens's token_ids is Sequence(Value("int32"), length=context) = pa.list_(pa.int32(), context), a
//   fixed-size list. The schema metadata {"huggingface": '{"info": {"features": {...}}, "fingerprint": ...}'}
//   repeats dataset_info.json's features.
// Stream layout: per message 0xFFFFFFFF, int32 metadata length m, m bytes of flatbuffer Message (padded to 8),
// then bodyLength bytes of buffers; the Schema first, then RecordBatch messages, then 0xFFFFFFFF 0x00000000.
// Opening reads only message headers (decoded by apache-arrow's Message) into an index of record batches;
// readRows then reads just the offsets and values bytes of the rows asked for.
import { DataType, Message, MessageHeader, MetadataVersion, Precision, Type, type Field, type Schema } from 'apache-arrow';
import type { ByteSource, RowSource } from '../sources.ts';
import { DataError } from '../errors.ts';
import { toFloat32, type FloatKind } from '../convert.ts';
import { checkRowRange } from './npy.ts';

export type ArrowDtype = 'float16' | 'float32' | 'float64';

export interface ArrowFile {
  /** file name in the folder (matched by its last path component: *.arrow, dataset_info.json, state.json) */
  name: string;
  source: ByteSource;
}

export interface ArrowOpenOptions {
  /** the Array2D column to read; default: the only (context, d) float column */
  column?: string;
}

/** The activation column of all shards as rows: one row per token position, contexts in shard order. */
export interface ArrowRowSource extends RowSource {
  /** the Array2D column read, e.g. 'blocks.0.hook_mlp_out' */
  readonly column: string;
  /** element type in the files (rows are converted to float32 on read) */
  readonly dtype: ArrowDtype;
  /** token positions per dataset row (the Array2D's first dimension) */
  readonly contextSize: number;
  /** dataset rows (contexts); rows = contexts × contextSize */
  readonly contexts: number;
  /** the shards read, in order, with their dataset rows */
  readonly shards: { name: string; contexts: number }[];
  /** 'token_ids' when the shards have it, else null */
  readonly tokenColumn: string | null;
  readRows(start: number, count: number): Promise<Float32Array<ArrayBuffer>>;
  /** (count) token ids of rows [start, start + count), aligned with readRows */
  readTokenIds(start: number, count: number): Promise<Int32Array<ArrayBuffer>>;
}

const TOKEN_COLUMN = 'token_ids';
const EXTENSION_NAME = 'ARROW:extension:name';
const EXTENSION_METADATA = 'ARROW:extension:metadata';
/** a flatbuffer Message header larger than this is not a plausible Arrow message */
const MAX_METADATA = 1 << 28;

type Fail = (problem: string) => DataError;

// ---------------------------------------------------------------------------------------------------------
// Opening: files → ordered shards → message index → column layout per batch → checks against the JSON files

/** Opens the shards of a `datasets` folder; reads message headers and the small JSON files only. */
export async function openArrowShards(files: ArrowFile[], opts: ArrowOpenOptions = {}): Promise<ArrowRowSource> {
  const { shards, info, state } = sortFiles(files);
  const ordered = state ? await orderByState(shards, state) : shards.sort((a, b) => compareNames(a.name, b.name));
  const indexed: IndexedShard[] = [];
  for (const f of ordered) indexed.push(await indexShard(f.source));
  const column = pickColumn(indexed[0], opts.column);
  const layouts = indexed.map((s) => layoutShard(s, column, indexed[0]));
  const shape = datasetShape(layouts, column);
  checkExtension(indexed, column, shape);
  for (const s of indexed) checkHfMetadata(s, column, shape);
  if (info) checkDatasetInfo(await readJson(info.source), info.source.name, column, shape);
  return makeRowSource(layouts, column, shape);
}

/**
 * Hugging Face `datasets` leaves cache-<fingerprint>.arrow files beside the data: the indices of a
 * `shuffle()` (SAELens's CacheActivationsRunner shuffles with its defaults) or another lazy transform. They
 * are not shards, and `load_from_disk` — so SAELens's training too — never applies them: the folder's order
 * is the order state.json lists, which is the one read here.
 */
export const isIndexFile = (name: string): boolean => /^cache-[\w-]+\.arrow$/i.test(baseName(name));

/** *.arrow shards, dataset_info.json and state.json; other files (and cache-*.arrow index files) are ignored */
function sortFiles(files: ArrowFile[]): { shards: ArrowFile[]; info?: ArrowFile; state?: ArrowFile } {
  const base = (f: ArrowFile) => baseName(f.name);
  const shards = files.filter((f) => base(f).toLowerCase().endsWith('.arrow') && !isIndexFile(f.name));
  if (shards.length === 0) {
    const listing = files.length ? files.map((f) => f.name).join(', ') : 'none';
    throw new DataError(files[0]?.source.name ?? 'Arrow dataset', `no .arrow shard among the files given (${listing})`);
  }
  return {
    shards,
    info: files.find((f) => base(f) === 'dataset_info.json'),
    state: files.find((f) => base(f) === 'state.json'),
  };
}

/** 'a/b/data-00000-of-00002.arrow' → 'data-00000-of-00002.arrow' */
function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

/** 'data-00002-of-00010.arrow' sorts before 'data-00010-of-00010.arrow' */
function compareNames(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** shards in the order state.json's _data_files lists them; every listed file must be given, and only those */
async function orderByState(shards: ArrowFile[], state: ArrowFile): Promise<ArrowFile[]> {
  const fail: Fail = (p) => new DataError(state.source.name, p);
  const json = await readJson(state.source);
  const list = isObject(json) ? json._data_files : undefined;
  if (!Array.isArray(list) || !list.every((e) => isObject(e) && typeof e.filename === 'string')) {
    throw fail('has no _data_files list of {"filename": ...} entries');
  }
  const byBase = new Map(shards.map((f) => [baseName(f.name), f]));
  const ordered = list.map((e) => {
    const name = (e as { filename: string }).filename;
    const f = byBase.get(name);
    if (!f) throw fail(`lists shard '${name}', which was not given (given: ${[...byBase.keys()].join(', ')})`);
    byBase.delete(name);
    return f;
  });
  if (byBase.size > 0) throw fail(`does not list ${[...byBase.keys()].join(', ')}; open the folder the files came from`);
  return ordered;
}

async function readJson(src: ByteSource): Promise<unknown> {
  const text = new TextDecoder('utf-8').decode(await src.read(0, src.size));
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DataError(src.name, `is not valid JSON (${(err as Error).message})`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The message index of one shard

type BatchHeader = ReturnType<Message<MessageHeader.RecordBatch>['header']>;

interface RecordBatchEntry {
  /** index among the shard's record batches (for messages) */
  index: number;
  header: BatchHeader;
  /** absolute byte offset of the message body */
  bodyStart: number;
  bodyLength: number;
  v5: boolean;
}

interface IndexedShard {
  src: ByteSource;
  schema: Schema;
  batches: RecordBatchEntry[];
}

/** Walks the stream's messages: the schema, then record batches (bodies skipped), up to the end marker. */
async function indexShard(src: ByteSource): Promise<IndexedShard> {
  const fail: Fail = (p) => new DataError(src.name, p);
  await checkNotFileFormat(src);
  let pos = 0;
  const first = await readMessageAt(src, pos, 0);
  if (!first || !first.message.isSchema()) throw fail('not an Arrow IPC stream (the first message is not a schema)');
  const schema = first.message.header();
  pos = first.next;
  const batches: RecordBatchEntry[] = [];
  for (let k = 1; ; k++) {
    const m = await readMessageAt(src, pos, k);
    if (!m) break;
    if (m.message.isRecordBatch()) batches.push(batchEntry(m, batches.length, fail));
    else if (!m.message.isDictionaryBatch()) throw fail(`message ${k} at byte ${pos} is a ${MessageHeader[m.message.headerType]}, not a record batch`);
    pos = m.next;
  }
  return { src, schema, batches };
}

/** the Arrow IPC *file* format ('ARROW1' magic, schema in a footer) is refused by name */
async function checkNotFileFormat(src: ByteSource): Promise<void> {
  if (src.size < 8) throw new DataError(src.name, `not an Arrow IPC stream (${src.size} bytes is too short)`);
  const head = await src.read(0, 6);
  if ([...'ARROW1'].every((c, i) => head[i] === c.charCodeAt(0))) {
    throw new DataError(src.name, 'is an Arrow IPC file (random-access format), not the stream format `datasets` writes; convert it with pyarrow (pa.ipc.new_stream) or load and save_to_disk it with datasets');
  }
}

interface MessageAt {
  message: Message;
  /** absolute offset of the body */
  bodyStart: number;
  /** absolute offset of the next message */
  next: number;
}

/** the message whose prefix starts at `pos`, or null at the end of the stream */
async function readMessageAt(src: ByteSource, pos: number, k: number): Promise<MessageAt | null> {
  const fail: Fail = (p) => new DataError(src.name, p);
  const left = src.size - pos;
  if (left === 0) return null; // end of file without an end marker: accepted, as pyarrow does
  if (left < 4) throw fail(`file is truncated: ${left} stray bytes after message ${k - 1}`);
  const prefix = await src.read(pos, Math.min(8, left));
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const continuation = view.getInt32(0, true) === -1;
  if (continuation && left < 8) throw fail(`file is truncated inside the prefix of message ${k}`);
  const length = continuation ? view.getInt32(4, true) : view.getInt32(0, true); // pre-0.15 streams: no 0xFFFFFFFF
  if (length === 0) return null;
  const metaStart = pos + (continuation ? 8 : 4);
  if (length < 0 || length > MAX_METADATA) {
    throw fail(`not an Arrow IPC stream (message ${k} at byte ${pos} claims ${length} bytes of metadata)`);
  }
  if (metaStart + length > src.size) {
    const what = k === 0 ? 'not an Arrow IPC stream, or the file is truncated' : 'file is truncated';
    throw fail(`${what}: message ${k} needs ${length} metadata bytes at byte ${metaStart} but the file has ${src.size} bytes`);
  }
  const message = decodeMessage(await src.read(metaStart, length), k, fail);
  const bodyStart = metaStart + length;
  if (bodyStart + message.bodyLength > src.size) {
    throw fail(`file is truncated: message ${k} needs ${message.bodyLength} body bytes at byte ${bodyStart} but the file has ${src.size} bytes`);
  }
  return { message, bodyStart, next: bodyStart + message.bodyLength };
}

function decodeMessage(bytes: Uint8Array, k: number, fail: Fail): Message {
  try {
    const m = Message.decode(bytes);
    if (m.headerType === MessageHeader.Schema) m.header(); // decode the schema now so its errors land here
    return m;
  } catch (err) {
    throw fail(`not an Arrow IPC stream (message ${k} does not decode: ${(err as Error).message})`);
  }
}

function batchEntry(m: MessageAt, index: number, fail: Fail): RecordBatchEntry {
  const message = m.message as Message<MessageHeader.RecordBatch>;
  const header = message.header();
  if (header.compression) throw fail(`record batch ${index} is compressed; save the dataset without IPC compression`);
  for (const b of header.buffers) {
    if (b.offset + b.length > message.bodyLength) {
      throw fail(`record batch ${index} is corrupt: a buffer [${b.offset}, ${b.offset + b.length}) lies outside its ${message.bodyLength}-byte body`);
    }
  }
  return { index, header, bodyStart: m.bodyStart, bodyLength: message.bodyLength, v5: message.version >= MetadataVersion.V5 };
}

// ---------------------------------------------------------------------------------------------------------
// Choosing the column

/** the Array2D storage list<list<float>> (or with 64-bit offsets) → offset widths and the element type */
interface Array2DStorage {
  outerWidth: 4 | 8;
  innerWidth: 4 | 8;
  element: DataType;
}

function array2DStorage(type: DataType): Array2DStorage | null {
  const width = (t: DataType): 4 | 8 | 0 => (DataType.isList(t) ? 4 : DataType.isLargeList(t) ? 8 : 0);
  const outerWidth = width(type);
  if (!outerWidth) return null;
  const inner = type.children[0].type;
  const innerWidth = width(inner);
  if (!innerWidth) return null;
  const element = inner.children[0].type;
  if (DataType.isList(element) || DataType.isLargeList(element) || DataType.isFixedSizeList(element) || DataType.isStruct(element)) return null;
  return { outerWidth, innerWidth, element };
}

function dtypeOf(t: DataType): ArrowDtype | null {
  if (!DataType.isFloat(t)) return null;
  return t.precision === Precision.HALF ? 'float16' : t.precision === Precision.SINGLE ? 'float32' : 'float64';
}

/** 'float32', 'int64', 'uint8', … as `datasets` names them */
function typeName(t: DataType): string {
  if (DataType.isInt(t)) return `${t.isSigned ? 'int' : 'uint'}${t.bitWidth}`;
  return dtypeOf(t) ?? String(t);
}

function describeField(f: Field): string {
  const s = array2DStorage(f.type);
  return s ? `'${f.name}' (Array2D ${typeName(s.element)})` : `'${f.name}' (${String(f.type)})`;
}

/** the named column, or the only list<list<float>> column */
function pickColumn(shard: IndexedShard, name: string | undefined): string {
  const fail: Fail = (p) => new DataError(shard.src.name, p);
  const fields = shard.schema.fields;
  const listing = fields.map(describeField).join(', ') || 'none';
  if (name !== undefined) {
    const f = fields.find((x) => x.name === name);
    if (!f) throw fail(`no column '${name}'; columns: ${listing}`);
    checkColumnType(f, fail);
    return name;
  }
  const arrays = fields.filter((f) => array2DStorage(f.type));
  const floats = arrays.filter((f) => dtypeOf(array2DStorage(f.type)!.element));
  if (floats.length === 1) return floats[0].name;
  if (floats.length > 1) throw fail(`several activation columns (${floats.map(describeField).join(', ')}); name the one to use`);
  if (arrays.length > 0) checkColumnType(arrays[0], fail);
  throw fail(`no Array2D (context, d) float column; columns: ${listing}`);
}

function checkColumnType(f: Field, fail: Fail): void {
  const s = array2DStorage(f.type);
  if (!s) throw fail(`column '${f.name}' has type ${String(f.type)}; expected an Array2D (a list of lists of floats)`);
  if (!dtypeOf(s.element)) {
    throw fail(`column '${f.name}' has unsupported dtype ${typeName(s.element)}; supported: float16, float32, float64`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Where each batch keeps the column: field nodes and buffers are listed depth-first over the schema

interface Slot {
  node: number;
  buffer: number;
}

/** the first field node and buffer of every top-level field, following the IPC layout of each type */
function fieldSlots(fields: Field[], variadicCounts: number[], v5: boolean): Slot[] {
  const at = { node: 0, buffer: 0, variadic: 0 };
  return fields.map((f) => {
    const slot = { node: at.node, buffer: at.buffer };
    countSlots(f.type, at, variadicCounts, v5);
    return slot;
  });
}

function countSlots(t: DataType, at: { node: number; buffer: number; variadic: number }, variadic: number[], v5: boolean): void {
  at.node += 1;
  switch (t.typeId) {
    case Type.Null:
      return;
    case Type.Utf8: case Type.Binary: case Type.LargeUtf8: case Type.LargeBinary:
      at.buffer += 3; // validity, offsets, data
      return;
    case Type.Utf8View: case Type.BinaryView:
      at.buffer += 2 + (variadic[at.variadic++] ?? 0);
      return;
    case Type.List: case Type.LargeList: case Type.Map:
      at.buffer += 2; // validity, offsets
      break;
    case Type.FixedSizeList: case Type.Struct:
      at.buffer += 1; // validity
      break;
    case Type.Union:
      at.buffer += (v5 ? 0 : 1) + (DataType.isDenseUnion(t) ? 2 : 1); // type ids (+ offsets)
      break;
    default:
      at.buffer += 2; // validity, data (a dictionary column: its indices)
      return;
  }
  for (const child of t.children ?? []) countSlots(child.type, at, variadic, v5);
}

/** one batch's activation column: absolute byte offsets into the shard, and element counts */
interface ActBatch {
  /** dataset rows in the batch */
  contexts: number;
  outerOffsets: number;
  innerOffsets: number;
  values: number;
  /** inner lists (token positions) and elements in the batch */
  innerLength: number;
  valuesLength: number;
}

/** one batch's token ids: a fixed-size list (SAELens) or a list of integers */
interface TokBatch {
  /** byte offset of the list offsets, or -1 for a fixed-size list */
  offsets: number;
  values: number;
  valuesLength: number;
}

interface BatchLayout {
  src: ByteSource;
  index: number;
  /** the shard's column types (shards may differ in offset width or id type) */
  storage: Array2DStorage;
  tokens: TokenStorage | null;
  act: ActBatch;
  tok: TokBatch | null;
}

interface ShardLayout {
  src: ByteSource;
  storage: Array2DStorage;
  dtype: ArrowDtype;
  tokens: TokenStorage | null;
  batches: BatchLayout[];
  schema: Schema;
}

/** token_ids: a (fixed-size) list of integers */
interface TokenStorage {
  fixed: boolean;
  /** fixed-size lists: ids per row */
  listSize: number;
  /** the integer type: 8, 16, 32 or 64 bits, signed or not */
  bitWidth: number;
  signed: boolean;
}

function tokenStorage(f: Field | undefined, fail: Fail): TokenStorage | null {
  if (!f) return null;
  const t = f.type;
  const fixed = DataType.isFixedSizeList(t);
  if (!fixed && !DataType.isList(t)) throw fail(`column '${f.name}' has type ${String(t)}; expected a list of integers`);
  const element = t.children[0].type;
  if (!DataType.isInt(element)) throw fail(`column '${f.name}' has type ${String(t)}; expected a list of integers`);
  return { fixed, listSize: fixed ? t.listSize : 0, bitWidth: element.bitWidth, signed: element.isSigned };
}

/** the column's buffers in every batch of one shard, with its type checked against the first shard's */
function layoutShard(shard: IndexedShard, column: string, first: IndexedShard): ShardLayout {
  const fail: Fail = (p) => new DataError(shard.src.name, p);
  const fields = shard.schema.fields;
  const colIndex = fields.findIndex((f) => f.name === column);
  if (colIndex < 0) throw fail(`no column '${column}' (it is in ${first.src.name}); columns: ${fields.map(describeField).join(', ')}`);
  checkColumnType(fields[colIndex], fail);
  const storage = array2DStorage(fields[colIndex].type)!;
  const dtype = dtypeOf(storage.element)!;
  const tokIndex = fields.findIndex((f) => f.name === TOKEN_COLUMN);
  const tokens = tokenStorage(fields[tokIndex], fail);
  if (shard !== first) checkSameColumns(shard, first, column, dtype, tokens !== null);
  const batches = shard.batches
    .filter((b) => b.header.length > 0)
    .map((b) => {
      const slots = fieldSlots(fields, b.header.variadicBufferCounts ?? [], b.v5);
      return {
        src: shard.src,
        index: b.index,
        storage,
        tokens,
        act: actBatch(b, slots[colIndex], storage, fail),
        tok: tokens ? tokBatch(b, slots[tokIndex], tokens, fail) : null,
      };
    });
  return { src: shard.src, storage, dtype, tokens, batches, schema: shard.schema };
}

function checkSameColumns(shard: IndexedShard, first: IndexedShard, column: string, dtype: ArrowDtype, hasTokens: boolean): void {
  const fail: Fail = (p) => new DataError(shard.src.name, p);
  const firstType = array2DStorage(first.schema.fields.find((f) => f.name === column)!.type)!;
  const firstDtype = dtypeOf(firstType.element)!;
  if (dtype !== firstDtype) throw fail(`column '${column}' is ${dtype} here but ${firstDtype} in ${first.src.name}`);
  const firstHasTokens = first.schema.fields.some((f) => f.name === TOKEN_COLUMN);
  if (hasTokens !== firstHasTokens) {
    throw fail(`${hasTokens ? 'has' : 'lacks'} a '${TOKEN_COLUMN}' column but ${first.src.name} ${firstHasTokens ? 'has' : 'lacks'} one`);
  }
}

/** outer list, inner list, values: nodes n..n+2 and buffers b..b+5 (validity, offsets) × 2, validity, data */
function actBatch(b: RecordBatchEntry, slot: Slot, storage: Array2DStorage, fail: Fail): ActBatch {
  const where = `record batch ${b.index}`;
  const { nodes, buffers } = b.header;
  if (slot.node + 3 > nodes.length || slot.buffer + 6 > buffers.length) throw fail(`${where} is corrupt: too few field nodes or buffers`);
  const [outer, inner, values] = nodes.slice(slot.node, slot.node + 3);
  if (outer.length !== b.header.length) throw fail(`${where} is corrupt: the column has ${outer.length} rows but the batch ${b.header.length}`);
  if (outer.nullCount > 0) throw fail(`${where}: ${outer.nullCount} of its rows are null`);
  const buf = (i: number, need: number, what: string) => {
    const r = buffers[slot.buffer + i];
    if (r.length < need) throw fail(`${where} is corrupt: the ${what} buffer has ${r.length} bytes, needs ${need}`);
    return b.bodyStart + r.offset;
  };
  const itemBytes = bytesOfFloat(dtypeOf(storage.element)!);
  return {
    contexts: outer.length,
    outerOffsets: buf(1, (outer.length + 1) * storage.outerWidth, 'row offsets'),
    innerOffsets: buf(3, (inner.length + 1) * storage.innerWidth, 'position offsets'),
    values: buf(5, values.length * itemBytes, 'values'),
    innerLength: inner.length,
    valuesLength: values.length,
  };
}

function tokBatch(b: RecordBatchEntry, slot: Slot, tokens: TokenStorage, fail: Fail): TokBatch {
  const where = `record batch ${b.index}`;
  const { nodes, buffers } = b.header;
  const nBuffers = tokens.fixed ? 3 : 4;
  if (slot.node + 2 > nodes.length || slot.buffer + nBuffers > buffers.length) throw fail(`${where} is corrupt: too few field nodes or buffers`);
  const child = nodes[slot.node + 1];
  const itemBytes = tokens.bitWidth / 8;
  const data = buffers[slot.buffer + nBuffers - 1];
  if (data.length < child.length * itemBytes) throw fail(`${where} is corrupt: the ${TOKEN_COLUMN} values buffer is short`);
  const offsets = tokens.fixed ? -1 : b.bodyStart + buffers[slot.buffer + 1].offset;
  if (!tokens.fixed && buffers[slot.buffer + 1].length < (b.header.length + 1) * 4) throw fail(`${where} is corrupt: the ${TOKEN_COLUMN} offsets buffer is short`);
  return { offsets, values: b.bodyStart + data.offset, valuesLength: child.length };
}

function bytesOfFloat(dtype: ArrowDtype): number {
  return dtype === 'float16' ? 2 : dtype === 'float32' ? 4 : 8;
}

// ---------------------------------------------------------------------------------------------------------
// Shape checks

interface DatasetShape {
  contextSize: number;
  d: number;
  dtype: ArrowDtype;
}

/** (context, d) from the first non-empty batch; every other batch of every shard must agree */
function datasetShape(layouts: ShardLayout[], column: string): DatasetShape {
  let shape: (DatasetShape & { from: string }) | null = null;
  for (const s of layouts) {
    for (const b of s.batches) {
      const here = batchShape(b, s, column);
      if (!shape) {
        shape = { ...here, dtype: s.dtype, from: `${s.src.name} record batch ${b.index}` };
        continue;
      }
      if (here.contextSize !== shape.contextSize || here.d !== shape.d) {
        throw new DataError(s.src.name, `record batch ${b.index}: '${column}' holds (${here.contextSize}, ${here.d}) arrays but ${shape.from} holds (${shape.contextSize}, ${shape.d})`);
      }
    }
  }
  if (!shape) throw new DataError(layouts[0].src.name, `column '${column}' has no rows in any shard`);
  for (const s of layouts) checkTokenShape(s, shape.contextSize);
  return { contextSize: shape.contextSize, d: shape.d, dtype: shape.dtype };
}

/** (context, d) of one batch from its node lengths: rows × context lists, rows × context × d values */
function batchShape(b: BatchLayout, s: ShardLayout, column: string): { contextSize: number; d: number } {
  const { contexts, innerLength, valuesLength } = b.act;
  const contextSize = innerLength / contexts;
  const d = innerLength > 0 ? valuesLength / innerLength : 0;
  if (!Number.isInteger(contextSize) || !Number.isInteger(d)) {
    throw new DataError(s.src.name, `record batch ${b.index}: '${column}' is ragged (${contexts} rows, ${innerLength} positions, ${valuesLength} values); every row must be one (context, d) array`);
  }
  if (contextSize === 0 || d === 0) throw new DataError(s.src.name, `record batch ${b.index}: '${column}' holds empty (${contextSize}, ${d}) arrays`);
  return { contextSize, d };
}

function checkTokenShape(s: ShardLayout, contextSize: number): void {
  if (!s.tokens) return;
  if (s.tokens.fixed && s.tokens.listSize !== contextSize) {
    throw new DataError(s.src.name, `'${TOKEN_COLUMN}' has ${s.tokens.listSize} ids per row but the activations have ${contextSize} positions`);
  }
  for (const b of s.batches) {
    if (b.tok && b.tok.valuesLength !== b.act.contexts * contextSize) {
      throw new DataError(s.src.name, `record batch ${b.index}: '${TOKEN_COLUMN}' holds ${b.tok.valuesLength} ids for ${b.act.contexts} rows of ${contextSize} positions`);
    }
  }
}

/** the field's extension metadata, '[[context, d], "dtype"]' (pickled in old releases: skipped), must match */
function checkExtension(shards: IndexedShard[], column: string, shape: DatasetShape): void {
  for (const s of shards) {
    const f = s.schema.fields.find((x) => x.name === column)!;
    const name = f.metadata.get(EXTENSION_NAME);
    if (name === undefined) continue;
    const fail: Fail = (p) => new DataError(s.src.name, `column '${column}': ${p}`);
    const m = /\.(Array[2-5]D)ExtensionType$/.exec(name);
    if (m && m[1] !== 'Array2D') throw fail(`is an ${m[1]}; only Array2D (context, d) columns are read`);
    let meta: unknown;
    try {
      meta = JSON.parse(f.metadata.get(EXTENSION_METADATA) ?? '');
    } catch {
      continue; // PyExtensionType: a pickle, not JSON
    }
    if (Array.isArray(meta) && meta.length === 2) checkFeatureShape(meta[0], meta[1], shape, (p) => fail(`its extension type ${p}`));
  }
}

/** the schema's {"huggingface": {"info": {"features": …}}} must agree with the data */
function checkHfMetadata(s: IndexedShard, column: string, shape: DatasetShape): void {
  const raw = s.schema.metadata.get('huggingface');
  if (raw === undefined) return;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new DataError(s.src.name, `the schema's 'huggingface' metadata is not valid JSON`);
  }
  const info = isObject(json) ? json.info : undefined;
  checkFeatures(isObject(info) ? info.features : undefined, column, shape, (p) => new DataError(s.src.name, `the schema's 'huggingface' metadata: ${p}`));
}

/** dataset_info.json's "features" must agree with the data */
function checkDatasetInfo(json: unknown, name: string, column: string, shape: DatasetShape): void {
  if (!isObject(json)) throw new DataError(name, 'is not a JSON object');
  checkFeatures(json.features, column, shape, (p) => new DataError(name, p));
}

/** features {column: {"_type": "Array2D", "shape": [context, d], "dtype": …}, "token_ids": {"length": context, …}} */
function checkFeatures(features: unknown, column: string, shape: DatasetShape, fail: Fail): void {
  if (!isObject(features)) return; // features: null — nothing recorded
  const f = features[column];
  if (!isObject(f)) throw fail(`features have no '${column}' (features: ${Object.keys(features).join(', ') || 'none'})`);
  if (f._type !== 'Array2D') {
    throw fail(`feature '${column}' is ${JSON.stringify(f._type)}, but the data holds Array2D (${shape.contextSize}, ${shape.d}) arrays`);
  }
  checkFeatureShape(f.shape, f.dtype, shape, (p) => fail(`feature '${column}' ${p}`));
  const tok = features[TOKEN_COLUMN];
  if (isObject(tok) && typeof tok.length === 'number' && tok.length !== -1 && tok.length !== shape.contextSize) {
    throw fail(`feature '${TOKEN_COLUMN}' has length ${tok.length} but the data has ${shape.contextSize} positions per row`);
  }
}

/** shape [context | null, d] and dtype as `datasets` records them, against the data */
function checkFeatureShape(featShape: unknown, dtype: unknown, shape: DatasetShape, fail: Fail): void {
  const ok = Array.isArray(featShape) && featShape.length === 2 &&
    (featShape[0] === null || featShape[0] === shape.contextSize) && featShape[1] === shape.d;
  if (!ok) throw fail(`says shape ${JSON.stringify(featShape)} but the data has (${shape.contextSize}, ${shape.d})`);
  if (dtype !== shape.dtype) throw fail(`says dtype ${JSON.stringify(dtype)} but the data is ${shape.dtype}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------------------
// Reading rows

/** a batch placed in the row (token position) numbering of the whole dataset */
interface PlacedBatch extends BatchLayout {
  /** first row (position) of the batch */
  first: number;
  /** rows (positions) in the batch */
  rows: number;
}

const FLOAT_KIND: Record<ArrowDtype, FloatKind> = { float16: 'f16', float32: 'f32', float64: 'f64' };

function makeRowSource(layouts: ShardLayout[], column: string, shape: DatasetShape): ArrowRowSource {
  const { contextSize, d, dtype } = shape;
  const placed: PlacedBatch[] = [];
  let rows = 0;
  for (const s of layouts) {
    for (const b of s.batches) {
      placed.push({ ...b, first: rows, rows: b.act.contexts * contextSize });
      rows += b.act.contexts * contextSize;
    }
  }
  const hasTokens = layouts[0].tokens !== null;
  const name = sourceName(layouts.map((s) => s.src.name));
  return {
    name,
    rows,
    d,
    column,
    dtype,
    contextSize,
    contexts: rows / contextSize,
    shards: layouts.map((s) => ({ name: s.src.name, contexts: s.batches.reduce((n, b) => n + b.act.contexts, 0) })),
    tokenColumn: hasTokens ? TOKEN_COLUMN : null,
    async readRows(start: number, count: number): Promise<Float32Array<ArrayBuffer>> {
      checkRowRange(name, rows, start, count);
      const out = new Float32Array(count * d);
      await forEachPiece(placed, start, count, async (b, local, n, at) => {
        out.set(await readActivations(b, shape, local, n), at * d);
      });
      return out;
    },
    async readTokenIds(start: number, count: number): Promise<Int32Array<ArrayBuffer>> {
      if (!hasTokens) throw new DataError(name, `the shards have no '${TOKEN_COLUMN}' column`);
      checkRowRange(name, rows, start, count);
      const out = new Int32Array(count);
      await forEachPiece(placed, start, count, async (b, local, n, at) => {
        out.set(await readTokens(b, contextSize, local, n), at);
      });
      return out;
    },
  };
}

/** the shards' folder when they share one, else the first and last shard */
function sourceName(names: string[]): string {
  if (names.length === 1) return names[0];
  const dirs = names.map((n) => n.replace(/[\\/][^\\/]*$/, ''));
  if (dirs[0] !== names[0] && dirs.every((x) => x === dirs[0])) return dirs[0];
  return `${names[0]} … ${names[names.length - 1]}`;
}

/** splits rows [start, start + count) into per-batch pieces (local start, count, position in the output), read in parallel */
async function forEachPiece(
  placed: PlacedBatch[],
  start: number,
  count: number,
  read: (b: PlacedBatch, local: number, n: number, at: number) => Promise<void>,
): Promise<void> {
  const jobs: Promise<void>[] = [];
  let row = start;
  for (let i = batchAt(placed, start); row < start + count; i++) {
    const b = placed[i];
    const local = row - b.first;
    const n = Math.min(b.rows - local, start + count - row);
    jobs.push(read(b, local, n, row - start));
    row += n;
  }
  await Promise.all(jobs);
}

/** index of the batch holding `row` (binary search over first rows) */
function batchAt(placed: PlacedBatch[], row: number): number {
  let lo = 0;
  let hi = placed.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (placed[mid].first <= row) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Rows (positions) [local, local + n) of one batch → float32 (n × d). Reads the row offsets of the dataset rows
 * touched, the position offsets of the positions wanted, and their values; checks the offsets step by
 * context and d, so a ragged or corrupt list is refused rather than misread.
 */
async function readActivations(b: PlacedBatch, shape: DatasetShape, local: number, n: number): Promise<Float32Array<ArrayBuffer>> {
  const { contextSize, d, dtype } = shape;
  const storage = b.storage;
  const fail: Fail = (p) => new DataError(b.src.name, `record batch ${b.index}: ${p}`);
  const r0 = Math.floor(local / contextSize);
  const r1 = Math.floor((local + n - 1) / contextSize); // last dataset row touched
  const outer = await readOffsets(b.src, b.act.outerOffsets, storage.outerWidth, r0, r1 - r0 + 2);
  checkSteps(outer, contextSize, b.act.innerLength, 'row', fail);
  const j0 = outer[0] + (local - r0 * contextSize); // first inner list (position) wanted
  const inner = await readOffsets(b.src, b.act.innerOffsets, storage.innerWidth, j0, n + 1);
  checkSteps(inner, d, b.act.valuesLength, 'position', fail);
  const itemBytes = bytesOfFloat(dtype);
  const bytes = await b.src.read(b.act.values + inner[0] * itemBytes, n * d * itemBytes);
  return toFloat32(bytes, FLOAT_KIND[dtype]);
}

/** Rows [local, local + n) of one batch → token ids (n) */
async function readTokens(b: PlacedBatch, contextSize: number, local: number, n: number): Promise<Int32Array<ArrayBuffer>> {
  const tok = b.tok!;
  const tokens = b.tokens!;
  let first = local; // index into the child values
  if (!tokens.fixed) {
    const r0 = Math.floor(local / contextSize);
    const r1 = Math.floor((local + n - 1) / contextSize);
    const offsets = await readOffsets(b.src, tok.offsets, 4, r0, r1 - r0 + 2);
    checkSteps(offsets, contextSize, tok.valuesLength, `${TOKEN_COLUMN} row`, (p) => new DataError(b.src.name, `record batch ${b.index}: ${p}`));
    first = offsets[0] + (local - r0 * contextSize);
  }
  const itemBytes = tokens.bitWidth / 8;
  const bytes = await b.src.read(tok.values + first * itemBytes, n * itemBytes);
  return toInt32(bytes, tokens.bitWidth, tokens.signed, (p) => new DataError(b.src.name, `record batch ${b.index}: ${p}`));
}

/** `count` list offsets from entry `first` (32- or 64-bit) → numbers */
async function readOffsets(src: ByteSource, at: number, width: 4 | 8, first: number, count: number): Promise<number[]> {
  const bytes = new Uint8Array(await src.read(at + first * width, count * width)); // aligned copy
  if (width === 4) return Array.from(new Int32Array(bytes.buffer));
  return Array.from(new BigInt64Array(bytes.buffer), Number);
}

/** consecutive offsets must step by exactly `step` and stay inside the child's `childLength` entries */
function checkSteps(offsets: number[], step: number, childLength: number, what: string, fail: Fail): void {
  for (let i = 1; i < offsets.length; i++) {
    if (offsets[i] - offsets[i - 1] !== step) {
      throw fail(`a ${what} list has ${offsets[i] - offsets[i - 1]} entries where every one has ${step}; the column is ragged or corrupt`);
    }
  }
  if (offsets[0] < 0 || offsets[offsets.length - 1] > childLength) {
    throw fail(`${what} offsets [${offsets[0]}, ${offsets[offsets.length - 1]}] point outside the ${childLength} entries they index`);
  }
}

/** little-endian integers of any width → int32; ids that do not fit are refused */
function toInt32(bytes: Uint8Array, bitWidth: number, signed: boolean, fail: Fail): Int32Array<ArrayBuffer> {
  const buf = new Uint8Array(bytes).buffer; // aligned copy
  if (bitWidth === 32 && signed) return new Int32Array(buf);
  const src = bitWidth === 64
    ? Array.from(signed ? new BigInt64Array(buf) : new BigUint64Array(buf), Number)
    : bitWidth === 32 ? new Uint32Array(buf)
      : bitWidth === 16 ? (signed ? new Int16Array(buf) : new Uint16Array(buf))
        : (signed ? new Int8Array(buf) : new Uint8Array(buf));
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (v > 2147483647 || v < -2147483648) throw fail(`token id ${v} does not fit in 32 bits`);
    out[i] = v;
  }
  return out;
}
