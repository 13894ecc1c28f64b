// Float32 → IEEE 754 binary16 bits, rounding to nearest even, for storing float16 datasets as f16 bytes.
// Every finite half value survives half → float32 → half bit for bit (±0 and subnormals included), so an
// f16 file read through a float32 RowSource is stored exactly as it was in the file.

/** one float32 bit pattern → half bits */
export function halfBitsOf(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // Inf, NaN (quiet)
  const e = exp - 112; // half exponent field: exp − 127 + 15
  if (e >= 31) return sign | 0x7c00; // overflow → Inf
  if (e > 0) return sign + roundShift((e << 23) | mant, 13); // a carry rolls into the exponent, as it should
  return sign | subnormalHalf(mant | 0x800000, 14 - e);
}

/** a half subnormal (or the smallest normal, after rounding up) from the 24-bit significand */
function subnormalHalf(significand: number, shift: number): number {
  if (shift > 24) return 0; // below half the smallest subnormal: ±0
  return roundShift(significand, shift);
}

/** x >> shift, rounded to nearest, ties to even */
function roundShift(x: number, shift: number): number {
  const kept = x >>> shift;
  const rest = x & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/** values[from, from + count) → half bits into out[at, at + count) */
export function writeHalves(values: Float32Array, from: number, count: number, out: Uint16Array, at: number): void {
  const bits = new Uint32Array(values.buffer, values.byteOffset + from * 4, count);
  for (let i = 0; i < count; i++) out[at + i] = halfBitsOf(bits[i]);
}
