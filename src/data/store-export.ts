// Exporting a stored dataset as .npy: a v1 header ('<f4' or '<f2', shape (rows, d), padded as np.save
// pads it, so an f32 export equals encodeNpy's bytes) followed by the chunks' raw bytes, unchanged:
// float16 data leaves the store bit for bit as it came in. Streamed chunk by chunk, or gathered whole.
import { npyHeader } from './formats/npy.ts';
import type { StoredRowSource } from './store-source.ts';
import type { StoredDtype } from './store-schema.ts';

const DESCR = { float32: '<f4', float16: '<f2' } as const satisfies Record<StoredDtype, string>;

/** total bytes of the exported .npy */
export function npySize(src: StoredRowSource): number {
  return npyHeader([src.rows, src.d], DESCR[src.dtype]).length + src.rows * src.d * (src.dtype === 'float16' ? 2 : 4);
}

/** The .npy file as a stream: the header, then each chunk's stored bytes in order. */
export async function* npyPieces(src: StoredRowSource): AsyncGenerator<Uint8Array> {
  yield npyHeader([src.rows, src.d], DESCR[src.dtype]);
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
