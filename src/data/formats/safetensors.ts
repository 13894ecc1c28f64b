// .safetensors files: a RowSource over one 2-D/3-D tensor (read by byte range), a whole-file reader
// for small files, and a float32 writer.
// Layout: u64 LE header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]},
//   "__metadata__"?: {str: str}}, then the data; offsets are relative to the end of the header.
import type { ByteSource, RowSource } from '../sources.ts';
import { DataError } from '../errors.ts';
import { toFloat32, type FloatKind } from '../convert.ts';
import { checkRowRange } from './npy.ts';

/** bytes per element of every dtype the format defines (so offsets can be checked for any tensor) */
const DTYPE_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1, F8_E4M3: 1, F8_E5M2: 1, F8_E8M0: 1, F6_E2M3: 1, F6_E3M2: 1, F4: 1, C64: 8,
};
/** the dtypes this reader converts to float32 */
const FLOAT_KIND: Record<string, FloatKind> = { F32: 'f32', F16: 'f16', BF16: 'bf16', F64: 'f64' };
/** the reference implementation refuses headers over 100 MB */
const MAX_HEADER = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** byte range relative to the start of the data */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: TensorInfo[];
  metadata: Record<string, string>;
  /** absolute byte offset of the data (8 + header length) */
  dataStart: number;
}

export interface SafetensorsRowSource extends RowSource {
  readonly tensorName: string;
  readonly dtype: string;
  readonly shape: number[];
  readRows(start: number, count: number): Promise<Float32Array<ArrayBuffer>>;
}

export interface DecodedTensor {
  dtype: string;
  shape: number[];
  data: Float32Array<ArrayBuffer>;
}

/** Reads and validates the header of a safetensors source (two small reads). */
export async function readSafetensorsHeader(src: ByteSource): Promise<SafetensorsHeader> {
  const fail = (p: string) => new DataError(src.name, p);
  if (src.size < 8) throw fail(`file is truncated: ${src.size} bytes is too short for a safetensors header`);
  const n = headerLength(await src.read(0, 8), src.size, fail);
  return parseSafetensorsHeader(await src.read(8, n), src.size, src.name);
}

/** the u64 header length, checked against the file size */
function headerLength(bytes: Uint8Array, fileSize: number, fail: (p: string) => DataError): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const n = view.getUint32(0, true) + view.getUint32(4, true) * 4294967296;
  if (n > MAX_HEADER) throw fail(`header length ${n} is implausible (over ${MAX_HEADER} bytes); not a safetensors file?`);
  if (8 + n > fileSize) {
    throw fail(`file is truncated: the header claims ${n} bytes but the file has only ${fileSize - 8} after the length`);
  }
  return n;
}

/** JSON header bytes → validated tensor table; `fileSize` bounds the data offsets */
export function parseSafetensorsHeader(bytes: Uint8Array, fileSize: number, name: string): SafetensorsHeader {
  const fail = (p: string) => new DataError(name, p);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw fail(`safetensors header is not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(json)) throw fail('safetensors header is not a JSON object');
  const dataStart = 8 + bytes.byteLength;
  const dataBytes = fileSize - dataStart;
  const tensors: TensorInfo[] = [];
  let metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(json)) {
    if (key === '__metadata__') metadata = parseMetadata(value, fail);
    else tensors.push(parseTensorEntry(key, value, dataBytes, fail));
  }
  return { tensors, metadata, dataStart };
}

function parseMetadata(value: unknown, fail: (p: string) => DataError): Record<string, string> {
  if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw fail('__metadata__ must map strings to strings');
  }
  return value as Record<string, string>;
}

/** one header entry → TensorInfo; its offsets must lie in the data and match shape × dtype */
function parseTensorEntry(name: string, value: unknown, dataBytes: number, fail: (p: string) => DataError): TensorInfo {
  const bad = (p: string) => fail(`tensor '${name}': ${p}`);
  if (!isObject(value)) throw bad('entry is not an object');
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) throw bad(`unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isCount)) throw bad(`shape ${JSON.stringify(shape)} is not a list of sizes`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    throw bad(`data_offsets ${JSON.stringify(offsets)} are not [begin, end] with begin ≤ end`);
  }
  const [begin, end] = offsets as number[];
  if (end > dataBytes) {
    throw bad(`data_offsets [${begin}, ${end}] lie outside the data (${dataBytes} bytes); the file is truncated or corrupt`);
  }
  const need = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
  if (end - begin !== need) {
    throw bad(`data_offsets [${begin}, ${end}] span ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${need}`);
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function describe(t: TensorInfo): string {
  return `${t.name} [${t.shape.join(', ')}] ${t.dtype}`;
}

/** Opens one 2-D (N, d) or 3-D (docs, ctx, d) tensor as rows; default: the only such tensor. */
export async function openSafetensors(src: ByteSource, tensorName?: string): Promise<SafetensorsRowSource> {
  const header = await readSafetensorsHeader(src);
  const tensor = pickTensor(header.tensors, tensorName, src.name);
  const kind = FLOAT_KIND[tensor.dtype];
  if (!kind) {
    throw new DataError(src.name, `tensor '${tensor.name}' has dtype ${tensor.dtype}; supported: F32, F16, BF16, F64`);
  }
  const d = tensor.shape[tensor.shape.length - 1];
  const rows = tensor.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (rows === 0 || d === 0) throw new DataError(src.name, `tensor '${tensor.name}' [${tensor.shape.join(', ')}] is empty`);
  return tensorRows(src, header.dataStart + tensor.begin, tensor, kind, rows, d);
}

/** the named tensor (which must be 2-D or 3-D), or the only 2-D/3-D one */
function pickTensor(tensors: TensorInfo[], tensorName: string | undefined, file: string): TensorInfo {
  const listing = tensors.length ? tensors.map(describe).join('; ') : 'none';
  if (tensorName !== undefined) {
    const t = tensors.find((x) => x.name === tensorName);
    if (!t) throw new DataError(file, `no tensor named '${tensorName}'; tensors in the file: ${listing}`);
    if (t.shape.length !== 2 && t.shape.length !== 3) {
      throw new DataError(file, `tensor '${t.name}' has shape [${t.shape.join(', ')}]; expected (rows, d) or (docs, ctx, d)`);
    }
    return t;
  }
  const candidates = tensors.filter((t) => t.shape.length === 2 || t.shape.length === 3);
  if (candidates.length === 0) throw new DataError(file, `no 2-D or 3-D tensor in the file; tensors: ${listing}`);
  if (candidates.length > 1) {
    throw new DataError(file, `several 2-D/3-D tensors (${candidates.map(describe).join('; ')}); name the one to use`);
  }
  return candidates[0];
}

function tensorRows(
  src: ByteSource,
  offset: number,
  t: TensorInfo,
  kind: FloatKind,
  rows: number,
  d: number,
): SafetensorsRowSource {
  const rowBytes = d * DTYPE_BYTES[t.dtype];
  return {
    name: src.name,
    tensorName: t.name,
    dtype: t.dtype,
    shape: t.shape.slice(),
    rows,
    d,
    async readRows(start: number, count: number): Promise<Float32Array<ArrayBuffer>> {
      checkRowRange(src.name, rows, start, count);
      return toFloat32(await src.read(offset + start * rowBytes, count * rowBytes), kind);
    },
  };
}

/** A whole small file → name → {dtype, shape, data as float32}. Non-float tensors are refused. */
export function readSafetensorsTensors(bytes: Uint8Array, name = 'safetensors'): Map<string, DecodedTensor> {
  const fail = (p: string) => new DataError(name, p);
  if (bytes.byteLength < 8) throw fail(`file is truncated: ${bytes.byteLength} bytes is too short for a safetensors header`);
  const n = headerLength(bytes.subarray(0, 8), bytes.byteLength, fail);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.byteLength, name);
  const out = new Map<string, DecodedTensor>();
  for (const t of header.tensors) {
    const kind = FLOAT_KIND[t.dtype];
    if (!kind) throw fail(`tensor '${t.name}' has dtype ${t.dtype}; supported: F32, F16, BF16, F64`);
    const raw = bytes.subarray(header.dataStart + t.begin, header.dataStart + t.end);
    out.set(t.name, { dtype: t.dtype, shape: t.shape.slice(), data: toFloat32(raw, kind) });
  }
  return out;
}

/** float32 tensors → a .safetensors file (data in the given order; header padded with spaces to 8 bytes) */
export function encodeSafetensors(
  tensors: Record<string, { shape: number[]; data: Float32Array }>,
  metadata?: Record<string, string>,
): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new Error(`encodeSafetensors: '${name}' shape [${t.shape.join(', ')}] holds ${count} values, data has ${t.data.length}`);
    }
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setUint32(0, padded, true); // high word stays 0
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const t of Object.values(tensors)) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}
