// Little-endian float bytes (f16, bf16, f32, f64) → a fresh float32 array.
// Assumes a little-endian host (every platform with WebGPU is), so typed-array views read the bytes directly.

export type FloatKind = 'f16' | 'bf16' | 'f32' | 'f64';

export const FLOAT_BYTES: Record<FloatKind, number> = { f16: 2, bf16: 2, f32: 4, f64: 8 };

/** bytes (n · itemsize) → Float32Array (n); never aliases `bytes` */
export function toFloat32(bytes: Uint8Array, kind: FloatKind): Float32Array<ArrayBuffer> {
  // a fresh buffer at offset 0, aligned for every view (not bytes.slice(): a Node Buffer's slice is a view)
  const aligned = new Uint8Array(bytes);
  switch (kind) {
    case 'f32':
      return new Float32Array(aligned.buffer, 0, aligned.byteLength / 4);
    case 'f64':
      return Float32Array.from(new Float64Array(aligned.buffer, 0, aligned.byteLength / 8));
    case 'f16':
      return halfToFloat(new Uint16Array(aligned.buffer, 0, aligned.byteLength / 2));
    case 'bf16':
      return bfloatToFloat(new Uint16Array(aligned.buffer, 0, aligned.byteLength / 2));
  }
}

let halfTable: Float32Array | undefined;

/** all 65536 half-precision values as float32 (built once, 256 KiB) */
function getHalfTable(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) table[h] = decodeHalf(h);
  halfTable = table;
  return table;
}

/** one IEEE 754 binary16 bit pattern → its value */
export function decodeHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** half bits (n) → Float32Array (n) */
function halfToFloat(src: Uint16Array): Float32Array<ArrayBuffer> {
  const table = getHalfTable();
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
  return out;
}

/** bfloat16 bits (n) → Float32Array (n): the top 16 bits of a float32 */
function bfloatToFloat(src: Uint16Array): Float32Array<ArrayBuffer> {
  const bits = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return new Float32Array(bits.buffer);
}
