// Float32 → float16 bits for the store: every finite half survives half → float32 → half, and values between
// halves round to nearest even, overflow to Inf and underflow to ±0 as IEEE 754 says.
import { describe, expect, it } from 'vitest';
import { decodeHalf } from '../../src/data/convert.ts';
import { halfBitsOf, writeHalves } from '../../src/data/store-half.ts';

/** the float32 bit pattern of x */
function bitsOf(x: number): number {
  return new Uint32Array(Float32Array.of(x).buffer)[0];
}

const half = (x: number) => halfBitsOf(bitsOf(x));

describe('halfBitsOf', () => {
  it('round-trips every non-NaN half bit pattern, ±0, subnormals and ±Inf included', () => {
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (!isNaN) expect(half(decodeHalf(h)), `0x${h.toString(16)}`).toBe(h);
    }
  });

  it('rounds to nearest, ties to even, including into the next binade', () => {
    const ulp1 = 2 ** -10; // spacing of halves in [1, 2)
    expect(half(1 + ulp1 / 2)).toBe(0x3c00); // tie → even (1.0)
    expect(half(1 + (3 * ulp1) / 2)).toBe(0x3c02); // tie → even (1 + 2 ulp)
    expect(half(1 + ulp1 / 2 + 2 ** -20)).toBe(0x3c01); // just above the tie
    expect(half(2 - ulp1 / 4)).toBe(0x4000); // rounds up into 2.0
    expect(half(0.1)).toBe(0x2e66);
  });

  it('overflows to Inf and underflows to ±0 or the subnormals', () => {
    expect(half(65504)).toBe(0x7bff);
    expect(half(65519)).toBe(0x7bff);
    expect(half(65520)).toBe(0x7c00); // the tie above the largest finite half
    expect(half(-1e10)).toBe(0xfc00);
    expect(half(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal → 0
    expect(half(2 ** -25 * 1.5)).toBe(0x0001);
    expect(half(-(2 ** -26))).toBe(0x8000);
    expect(half(1e-45)).toBe(0x0000); // a float32 subnormal
    expect(half(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up to the smallest normal
    expect(half(NaN) & 0x7e00).toBe(0x7e00);
  });
});

describe('writeHalves', () => {
  it('converts a slice into place', () => {
    const out = new Uint16Array(5);
    writeHalves(Float32Array.of(9, 1, -2, 0.5, 9), 1, 3, out, 2);
    expect([...out]).toEqual([0, 0, 0x3c00, 0xc000, 0x3800]);
  });
});
