// Test helpers for the data layer: hand-built .npy files (any header), a counting RowSource, small math.
import type { RowSource } from '../../src/data/sources.ts';

export interface NpyParts {
  descr?: string;
  fortran?: string;
  shape?: string;
  /** format major version (1, 2 or 3) */
  version?: number;
  /** the whole dict text, overriding descr/fortran/shape */
  dict?: string;
  data?: Uint8Array;
  magic?: number[];
}

/** An .npy file with any header, for feeding the parser bad input. */
export function rawNpy(parts: NpyParts): Uint8Array {
  const version = parts.version ?? 1;
  const dict = parts.dict ?? `{'descr': '${parts.descr ?? '<f4'}', 'fortran_order': ${parts.fortran ?? 'False'}, 'shape': ${parts.shape ?? '(2, 3)'}, }`;
  const lenBytes = version === 1 ? 2 : 4;
  const pre = 8 + lenBytes;
  const pad = 64 - ((pre + dict.length + 1) % 64);
  const text = new TextEncoder().encode(dict + ' '.repeat(pad) + '\n');
  const data = parts.data ?? new Uint8Array(0);
  const out = new Uint8Array(pre + text.length + data.length);
  out.set(parts.magic ?? [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59], 0);
  out[6] = version;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, text.length, true);
  else view.setUint32(8, text.length, true);
  out.set(text, pre);
  out.set(data, pre + text.length);
  return out;
}

export function bytesOf(a: Float32Array | Float64Array | Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** rows × d with value row·1000 + col, so any row is recognisable from its first value */
export function indexedRows(rows: number, d: number): Float32Array {
  const out = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) out[r * d + j] = r * 1000 + j;
  return out;
}

/** An in-memory RowSource that records every readRows call. */
export class CountingRows implements RowSource {
  readonly calls: [number, number][] = [];
  readonly d: number;
  readonly rows: number;

  constructor(
    private readonly data: Float32Array,
    d: number,
    readonly name = 'rows',
  ) {
    this.d = d;
    this.rows = data.length / d;
  }

  async readRows(start: number, count: number): Promise<Float32Array> {
    if (start < 0 || count < 0 || start + count > this.rows) throw new Error(`out of range ${start}+${count}`);
    this.calls.push([start, count]);
    return this.data.slice(start * this.d, (start + count) * this.d);
  }
}
