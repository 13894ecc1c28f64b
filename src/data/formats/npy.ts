// NumPy .npy files (format v1/v2/v3) as a RowSource, read by byte range, plus a float32 writer.
// Layout: "\x93NUMPY" major minor, header length (u16 LE for v1, u32 LE for v2/v3), a Python dict
//   {'descr': '<f4', 'fortran_order': False, 'shape': (N, d), }  padded with spaces and '\n',
// then the raw C-order data. Accepted: little-endian f2/f4/f8, shape (N, d) or (docs, ctx, d) → rows.
import type { ByteSource, RowSource } from '../sources.ts';
import { DataError } from '../errors.ts';
import { FLOAT_BYTES, toFloat32, type FloatKind } from '../convert.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export type NpyDtype = 'float16' | 'float32' | 'float64';

export interface NpyRowSource extends RowSource {
  /** the element type in the file (rows are converted to float32 on read) */
  readonly dtype: NpyDtype;
  /** the array's shape as stored, e.g. [N, d] or [docs, ctx, d] */
  readonly shape: number[];
  /** byte offset of the first element */
  readonly dataOffset: number;
  readRows(start: number, count: number): Promise<Float32Array<ArrayBuffer>>;
}

interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  dataOffset: number;
}

const KIND_OF: Record<NpyDtype, FloatKind> = { float16: 'f16', float32: 'f32', float64: 'f64' };

/** Opens an .npy file; reads only its header now. */
export async function openNpy(src: ByteSource): Promise<NpyRowSource> {
  const header = await readHeader(src);
  const fail = (problem: string) => new DataError(src.name, problem);
  if (header.fortranOrder) {
    throw fail('Fortran-order (column-major) arrays are not supported; save it in C order (np.ascontiguousarray)');
  }
  const dtype = parseDescr(header.descr, fail);
  const { rows, d } = rowsOf(header.shape, fail);
  checkDataSize(src, header, rows * d * FLOAT_BYTES[KIND_OF[dtype]]);
  return makeRowSource(src, header, dtype, rows, d);
}

/** One vector from an .npy file of shape (d,) or (1, d) (a steering direction, say). */
export async function readNpyVector(src: ByteSource): Promise<Float32Array> {
  const header = await readHeader(src);
  const fail = (problem: string) => new DataError(src.name, problem);
  if (header.fortranOrder) throw fail('Fortran-order (column-major) arrays are not supported; save it in C order');
  const dtype = parseDescr(header.descr, fail);
  const { shape } = header;
  const d = shape[shape.length - 1] ?? 0;
  if (!(shape.length === 1 || (shape.length === 2 && shape[0] === 1)) || d === 0) {
    throw fail(`array has shape (${shape.join(', ')}${shape.length === 1 ? ',' : ''}); expected one vector, (d,) or (1, d)`);
  }
  checkDataSize(src, header, d * FLOAT_BYTES[KIND_OF[dtype]]);
  return makeRowSource(src, header, dtype, 1, d).readRows(0, 1);
}

/** magic, version, header length and the header dict */
async function readHeader(src: ByteSource): Promise<NpyHeader> {
  const fail = (problem: string) => new DataError(src.name, problem);
  if (src.size < 10) throw fail(`file is truncated: ${src.size} bytes is too short for an .npy header`);
  const pre = await src.read(0, 12 <= src.size ? 12 : 10);
  if (!MAGIC.every((b, i) => pre[i] === b)) throw fail('not an .npy file (wrong magic bytes)');
  const major = pre[6];
  if (major !== 1 && major !== 2 && major !== 3) throw fail(`unsupported .npy format version ${major}.${pre[7]}`);
  const lenBytes = major === 1 ? 2 : 4;
  if (pre.length < 8 + lenBytes) throw fail('file is truncated inside the .npy header');
  const view = new DataView(pre.buffer, pre.byteOffset, pre.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes;
  if (start + headerLen > src.size) {
    throw fail(`file is truncated: the header claims ${headerLen} bytes but the file has ${src.size} bytes`);
  }
  const raw = await src.read(start, headerLen);
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(raw);
  return { ...parseHeaderDict(text, fail), dataOffset: start + headerLen };
}

/** "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }" → fields */
function parseHeaderDict(
  text: string,
  fail: (p: string) => DataError,
): Omit<NpyHeader, 'dataOffset'> {
  const descr = /['"]descr['"]\s*:\s*(['"])([^'"]*)\1/.exec(text);
  if (!descr) {
    if (/['"]descr['"]\s*:\s*\[/.test(text)) throw fail('structured (record) dtypes are not supported; save a plain float array');
    throw fail(`malformed .npy header (no 'descr'): ${text.trim()}`);
  }
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text);
  if (!fortran) throw fail(`malformed .npy header (no 'fortran_order'): ${text.trim()}`);
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (!shape) throw fail(`malformed .npy header (no 'shape'): ${text.trim()}`);
  return { descr: descr[2], fortranOrder: fortran[1] === 'True', shape: parseShape(shape[1], fail) };
}

/** "3, 4" | "5," | "" → [3, 4] | [5] | [] */
function parseShape(inner: string, fail: (p: string) => DataError): number[] {
  const parts = inner.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return parts.map((p) => {
    const n = Number(p.replace(/L$/, ''));
    if (!Number.isSafeInteger(n) || n < 0) throw fail(`malformed shape entry '${p}' in the .npy header`);
    return n;
  });
}

/** '<f4' → 'float32'; anything that is not a little-endian float is refused by name */
function parseDescr(descr: string, fail: (p: string) => DataError): NpyDtype {
  const m = /^([<>|=]?)([a-zA-Z])(\d*)$/.exec(descr);
  if (!m) throw fail(`unsupported dtype '${descr}'; use float32 ('<f4'), float16 ('<f2') or float64 ('<f8')`);
  const [, order, kind, size] = m;
  const names: Record<string, NpyDtype> = { '2': 'float16', '4': 'float32', '8': 'float64' };
  if (kind !== 'f' || !(size in names)) {
    throw fail(`unsupported dtype '${descr}' (${describeKind(kind, size)}); use float32 ('<f4'), float16 ('<f2') or float64 ('<f8')`);
  }
  const dtype = names[size];
  if (order === '>') {
    throw fail(`big-endian ${dtype} ('${descr}') is not supported; save it little-endian`);
  }
  return dtype;
}

function describeKind(kind: string, size: string): string {
  const kinds: Record<string, string> = {
    i: 'signed integer', u: 'unsigned integer', b: 'boolean', c: 'complex', f: 'float',
    U: 'unicode string', S: 'byte string', O: 'Python object', M: 'datetime', m: 'timedelta', V: 'raw bytes',
  };
  const bytes = size ? `, ${size} bytes` : '';
  return `${kinds[kind] ?? `kind '${kind}'`}${bytes}`;
}

/** shape → rows × d; (N, d) or (docs, ctx, d) */
function rowsOf(shape: number[], fail: (p: string) => DataError): { rows: number; d: number } {
  const shown = `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
  if (shape.length !== 2 && shape.length !== 3) {
    throw fail(`array has shape ${shown} (${shape.length}-D); expected (rows, d) or (docs, ctx, d)`);
  }
  const d = shape[shape.length - 1];
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (rows === 0) throw fail(`array has shape ${shown}: zero rows`);
  if (d === 0) throw fail(`array has shape ${shown}: rows of width 0`);
  return { rows, d };
}

/** the data after the header must be exactly what the shape says */
function checkDataSize(src: ByteSource, header: NpyHeader, dataBytes: number): void {
  const have = src.size - header.dataOffset;
  const shape = `(${header.shape.join(', ')})`;
  if (have < dataBytes) {
    throw new DataError(
      src.name,
      `file is truncated: shape ${shape} needs ${dataBytes} data bytes but only ${have} follow the header`,
    );
  }
  if (have > dataBytes) {
    throw new DataError(
      src.name,
      `file is longer than its header says: shape ${shape} needs ${dataBytes} data bytes but ${have} follow the header`,
    );
  }
}

function makeRowSource(
  src: ByteSource,
  header: NpyHeader,
  dtype: NpyDtype,
  rows: number,
  d: number,
): NpyRowSource {
  const kind = KIND_OF[dtype];
  const rowBytes = d * FLOAT_BYTES[kind];
  return {
    name: src.name,
    rows,
    d,
    dtype,
    shape: header.shape.slice(),
    dataOffset: header.dataOffset,
    async readRows(start: number, count: number): Promise<Float32Array<ArrayBuffer>> {
      checkRowRange(src.name, rows, start, count);
      const bytes = await src.read(header.dataOffset + start * rowBytes, count * rowBytes);
      return toFloat32(bytes, kind);
    },
  };
}

/** rejects rows outside [0, rows) */
export function checkRowRange(name: string, rows: number, start: number, count: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > rows) {
    throw new DataError(name, `rows [${start}, ${start + count}) are outside the ${rows} rows of the file`);
  }
}

/** float32 data with `shape` → an .npy file (v1 header, '<f4', C order, header padded to 64 bytes) */
export function encodeNpy(data: Float32Array, shape: number[]): Uint8Array<ArrayBuffer> {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeNpy: shape (${shape.join(', ')}) holds ${count} values, data has ${data.length}`);
  const header = npyHeader(shape);
  const out = new Uint8Array(header.length + data.byteLength);
  out.set(header, 0);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), header.length);
  return out;
}

/** magic + version + length + dict, padded with spaces as np.save does (total a multiple of 64), ending in '\n' */
/**
 * The .npy v1 header for little-endian C-order data of `descr` ('<f4', '<f2'): magic, version, u16 length,
 * then the dict padded with spaces so the data starts on a 64-byte boundary, ending in '\n'. Like NumPy ≥ 1.23
 * it leaves room for the first axis to grow to 21 digits. Byte-identical to np.save's.
 */
export function npyHeader(shape: number[], descr: '<f4' | '<f2' = '<f4'): Uint8Array<ArrayBuffer> {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const growth = shape.length > 0 ? Math.max(0, 21 - String(shape[0]).length) : 0;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }` + ' '.repeat(growth);
  const preamble = 10; // magic 6 + version 2 + u16 length
  const pad = 64 - ((preamble + dict.length + 1) % 64);
  const text = dict + ' '.repeat(pad) + '\n'; // NumPy pads 1…64 spaces
  if (text.length > 65535) throw new Error('npyHeader: header too long for format v1');
  const out = new Uint8Array(preamble + text.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, text.length, true);
  for (let i = 0; i < text.length; i++) out[preamble + i] = text.charCodeAt(i);
  return out;
}
