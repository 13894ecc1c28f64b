// .npy: header versions and dtypes, byte-range reads, np.save-identical writing, and one test per refusal.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { MemorySource } from '../../src/data/memory-source.ts';
import { encodeNpy, openNpy } from '../../src/data/formats/npy.ts';
import { DataError } from '../../src/data/errors.ts';
import type { ByteSource } from '../../src/data/sources.ts';
import { bytesOf, rawNpy } from './helpers.ts';

const six = Float32Array.from([1, 2, 3, 4, 5, 6]);
const open = (bytes: Uint8Array, name = 'data.npy') => openNpy(new MemorySource(bytes, name));

/** half-precision bits of small exact values */
const HALF: Record<number, number> = { 1: 0x3c00, 2: 0x4000, 3: 0x4200, 4: 0x4400, 5: 0x4500, 6: 0x4600 };

describe('openNpy reads', () => {
  it('a v1 <f4 (N, d) file', async () => {
    const src = await open(rawNpy({ data: bytesOf(six) }));
    expect([src.rows, src.d, src.dtype, src.shape]).toEqual([2, 3, 'float32', [2, 3]]);
    expect([...(await src.readRows(0, 2))]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...(await src.readRows(1, 1))]).toEqual([4, 5, 6]);
  });

  it('v2 and v3 headers', async () => {
    for (const version of [2, 3]) {
      const src = await open(rawNpy({ version, data: bytesOf(six) }));
      expect([...(await src.readRows(1, 1))]).toEqual([4, 5, 6]);
    }
  });

  it('<f2 and <f8, converted to float32', async () => {
    const half = Uint16Array.from([1, 2, 3, 4, 5, 6].map((v) => HALF[v]));
    const f2 = await open(rawNpy({ descr: '<f2', data: bytesOf(half) }));
    expect(f2.dtype).toBe('float16');
    expect([...(await f2.readRows(0, 2))]).toEqual([1, 2, 3, 4, 5, 6]);
    const f8 = await open(rawNpy({ descr: '<f8', data: bytesOf(Float64Array.from([1.5, 2, 3, 4, 5, -6])) }));
    expect(f8.dtype).toBe('float64');
    expect([...(await f8.readRows(1, 1))]).toEqual([4, 5, -6]);
  });

  it("native-order '=f4' and '|f4'", async () => {
    for (const descr of ['=f4', '|f4']) {
      const src = await open(rawNpy({ descr, data: bytesOf(six) }));
      expect(src.dtype).toBe('float32');
    }
  });

  it('(docs, ctx, d) flattened to rows', async () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i);
    const src = await open(rawNpy({ shape: '(2, 3, 4)', data: bytesOf(data) }));
    expect([src.rows, src.d, src.shape]).toEqual([6, 4, [2, 3, 4]]);
    expect([...(await src.readRows(4, 1))]).toEqual([16, 17, 18, 19]);
  });

  it('only the byte range a readRows needs', async () => {
    const data = Float32Array.from({ length: 4000 }, (_, i) => i);
    const inner = new MemorySource(rawNpy({ shape: '(1000, 4)', data: bytesOf(data) }), 'big.npy');
    const reads: [number, number][] = [];
    const spy: ByteSource = {
      size: inner.size,
      name: inner.name,
      read: (o, n) => (reads.push([o, n]), inner.read(o, n)),
    };
    const src = await openNpy(spy);
    const headerReads = reads.length;
    expect([...(await src.readRows(500, 2))]).toEqual([2000, 2001, 2002, 2003, 2004, 2005, 2006, 2007]);
    expect(reads.slice(headerReads)).toEqual([[src.dataOffset + 500 * 16, 32]]);
    expect(reads.every(([, n]) => n < 200)).toBe(true);
  });

  it('refuses rows outside the file', async () => {
    const src = await open(rawNpy({ data: bytesOf(six) }));
    await expect(src.readRows(1, 2)).rejects.toThrow('data.npy: rows [1, 3) are outside the 2 rows of the file');
  });

  it('the saelens fixture inputs.npy', async () => {
    const src = await open(readFileSync('/work/shared/fixtures/saelens/inputs.npy'), 'inputs.npy');
    expect([src.rows, src.d]).toEqual([256, 32]);
  });
});

describe('openNpy refuses', () => {
  const refuse = (parts: Parameters<typeof rawNpy>[0]) => open(rawNpy(parts));

  it('wrong magic', async () => {
    await expect(refuse({ magic: [0x50, 0x4b, 3, 4, 0, 0], data: bytesOf(six) })).rejects.toThrow(
      'data.npy: not an .npy file (wrong magic bytes)',
    );
  });

  it('a file too short for any header', async () => {
    await expect(open(new Uint8Array([0x93, 0x4e, 0x55]))).rejects.toThrow(
      'data.npy: file is truncated: 3 bytes is too short for an .npy header',
    );
  });

  it('a file cut inside the header', async () => {
    const whole = rawNpy({ data: bytesOf(six) });
    await expect(open(whole.subarray(0, 40))).rejects.toThrow(
      'data.npy: file is truncated: the header claims 118 bytes but the file has 40 bytes',
    );
  });

  it('data shorter than the shape says', async () => {
    await expect(refuse({ data: bytesOf(six).subarray(0, 20) })).rejects.toThrow(
      'data.npy: file is truncated: shape (2, 3) needs 24 data bytes but only 20 follow the header',
    );
  });

  it('data longer than the shape says', async () => {
    await expect(refuse({ shape: '(1, 3)', data: bytesOf(six) })).rejects.toThrow(
      'data.npy: file is longer than its header says: shape (1, 3) needs 12 data bytes but 24 follow the header',
    );
  });

  it('fortran_order True', async () => {
    await expect(refuse({ fortran: 'True', data: bytesOf(six) })).rejects.toThrow(
      'data.npy: Fortran-order (column-major) arrays are not supported; save it in C order (np.ascontiguousarray)',
    );
  });

  it('big-endian float32 and float16', async () => {
    await expect(refuse({ descr: '>f4', data: bytesOf(six) })).rejects.toThrow(
      "data.npy: big-endian float32 ('>f4') is not supported; save it little-endian",
    );
    await expect(refuse({ descr: '>f2', data: new Uint8Array(12) })).rejects.toThrow(
      "data.npy: big-endian float16 ('>f2') is not supported; save it little-endian",
    );
  });

  it('integer dtypes', async () => {
    await expect(refuse({ descr: '<i4', data: bytesOf(six) })).rejects.toThrow(
      "data.npy: unsupported dtype '<i4' (signed integer, 4 bytes); use float32 ('<f4'), float16 ('<f2') or float64 ('<f8')",
    );
    await expect(refuse({ descr: '|u1', data: new Uint8Array(6) })).rejects.toThrow(
      "data.npy: unsupported dtype '|u1' (unsigned integer, 1 bytes)",
    );
  });

  it('complex and long-double dtypes', async () => {
    await expect(refuse({ descr: '<c8', data: new Uint8Array(48) })).rejects.toThrow(
      "data.npy: unsupported dtype '<c8' (complex, 8 bytes)",
    );
    await expect(refuse({ descr: '<f16', data: new Uint8Array(96) })).rejects.toThrow(
      "data.npy: unsupported dtype '<f16' (float, 16 bytes)",
    );
  });

  it('structured dtypes', async () => {
    const dict = "{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': False, 'shape': (3,), }";
    await expect(refuse({ dict, data: new Uint8Array(24) })).rejects.toThrow(
      'data.npy: structured (record) dtypes are not supported; save a plain float array',
    );
  });

  it('a 1-D array', async () => {
    await expect(refuse({ shape: '(6,)', data: bytesOf(six) })).rejects.toThrow(
      'data.npy: array has shape (6,) (1-D); expected (rows, d) or (docs, ctx, d)',
    );
  });

  it('a 4-D array', async () => {
    await expect(refuse({ shape: '(1, 1, 2, 3)', data: bytesOf(six) })).rejects.toThrow(
      'data.npy: array has shape (1, 1, 2, 3) (4-D); expected (rows, d) or (docs, ctx, d)',
    );
  });

  it('a 0-D array', async () => {
    await expect(refuse({ shape: '()', data: new Uint8Array(4) })).rejects.toThrow('data.npy: array has shape () (0-D)');
  });

  it('zero rows', async () => {
    await expect(refuse({ shape: '(0, 3)' })).rejects.toThrow('data.npy: array has shape (0, 3): zero rows');
    await expect(refuse({ shape: '(4, 0, 3)' })).rejects.toThrow('data.npy: array has shape (4, 0, 3): zero rows');
  });

  it('zero-width rows', async () => {
    await expect(refuse({ shape: '(3, 0)' })).rejects.toThrow('data.npy: array has shape (3, 0): rows of width 0');
  });

  it('an unknown format version', async () => {
    await expect(refuse({ version: 4, data: bytesOf(six) })).rejects.toThrow('data.npy: unsupported .npy format version 4.0');
  });

  it('a header without a shape', async () => {
    await expect(refuse({ dict: "{'descr': '<f4', 'fortran_order': False, }" })).rejects.toThrow(
      "data.npy: malformed .npy header (no 'shape')",
    );
  });

  it('with DataError naming the source', async () => {
    const err = await open(rawNpy({ shape: '(6,)' }), 'acts.npy').catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.source).toBe('acts.npy');
  });
});

describe('encodeNpy', () => {
  it('writes the bytes np.save writes (fixture inputs.npy round trip)', async () => {
    const file = readFileSync('/work/shared/fixtures/saelens/inputs.npy');
    const src = await open(file);
    const data = await src.readRows(0, src.rows);
    expect(Buffer.from(encodeNpy(data, [256, 32])).equals(file)).toBe(true);
  });

  it('pads the header to a multiple of 64 and round-trips 1-D..3-D', async () => {
    for (const shape of [[6], [2, 3], [1, 2, 3], [123456789012, 0]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const bytes = encodeNpy(six.subarray(0, n), shape);
      const headerLen = bytes[8] | (bytes[9] << 8);
      expect((10 + headerLen) % 64).toBe(0);
      expect(bytes[10 + headerLen - 1]).toBe(0x0a);
    }
    const back = await open(encodeNpy(six, [1, 2, 3]));
    expect(back.shape).toEqual([1, 2, 3]);
    expect([...(await back.readRows(0, 2))]).toEqual([...six]);
  });

  it('refuses a shape that does not match the data', () => {
    expect(() => encodeNpy(six, [4, 2])).toThrow('encodeNpy: shape (4, 2) holds 8 values, data has 6');
  });
});
