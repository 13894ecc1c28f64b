// Exporting a stored dataset as .npy: a v1 header ('<f4' or '<f2', shape (rows, d), padded as np.save
// pads it, so an f32 export equals encodeNpy's bytes) followed by the chunks' raw bytes, unchanged:
// float16 data leaves the store bit for bit as it came in. Streamed chunk by chunk, or gathered whole.
import type { StoredRowSource } from './store-source.ts';
import type { StoredDtype } from './store-schema.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const DESCR: Record<StoredDtype, string> = { float32: '<f4', float16: '<f2' };

/** magic + version 1.0 + u16 length + dict padded with spaces to a multiple of 64 bytes, ending in '\n' */
export function npyHeader(dtype: StoredDtype, shape: number[]): Uint8Array<ArrayBuffer> {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  // NumPy ≥ 1.23 leaves room for the first axis to grow to 21 digits before aligning (as encodeNpy does)
  const growth = shape.length > 0 ? Math.max(0, 21 - String(shape[0]).length) : 0;
  const dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }` + ' '.repeat(growth);
  const preamble = 10;
  const pad = 64 - ((preamble + dict.length + 1) % 64);
  const text = dict + ' '.repeat(pad) + '\n';
  const out = new Uint8Array(preamble + text.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, text.length, true);
  for (let i = 0; i < text.length; i++) out[preamble + i] = text.charCodeAt(i);
  return out;
}

/** total bytes of the exported .npy */
export function npySize(src: StoredRowSource): number {
  return npyHeader(src.dtype, [src.rows, src.d]).length + src.rows * src.d * (src.dtype === 'float16' ? 2 : 4);
}

/** The .npy file as a stream: the header, then each chunk's stored bytes in order. */
export async function* npyPieces(src: StoredRowSource): AsyncGenerator<Uint8Array> {
  yield npyHeader(src.dtype, [src.rows, src.d]);
  for (let c = 0; c < src.chunks; c++) yield src.chunk(c);
}

/** Concatenates a stream of pieces whose total is known (or not: then pieces are gathered first). */
export async function gather(pieces: AsyncIterable<Uint8Array>, total?: number): Promise<Uint8Array<ArrayBuffer>> {
  if (total === undefined) {
    const all: Uint8Array[] = [];
    for await (const p of pieces) all.push(p);
    return concat(all);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for await (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  if (at !== total) throw new Error(`export produced ${at} bytes, expected ${total}`);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
