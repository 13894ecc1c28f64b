// .safetensors: the tensor row source, the whole-file reader, the writer, and one test per refusal.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { MemorySource } from '../../src/data/memory-source.ts';
import {
  encodeSafetensors,
  openSafetensors,
  readSafetensorsTensors,
} from '../../src/data/formats/safetensors.ts';
import { bytesOf } from './helpers.ts';

/** A safetensors file from a header object and data bytes (header padded to 8 bytes). */
function rawSafetensors(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  let text = headerText ?? JSON.stringify(header);
  while (text.length % 8) text += ' ';
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const six = Float32Array.from([1, 2, 3, 4, 5, 6]);
const open = (bytes: Uint8Array, tensor?: string) => openSafetensors(new MemorySource(bytes, 'acts.safetensors'), tensor);
const entry = (dtype: string, shape: number[], begin: number, end: number) => ({ dtype, shape, data_offsets: [begin, end] });

describe('openSafetensors reads', () => {
  it('the only 2-D tensor, skipping 1-D ones', async () => {
    const bytes = encodeSafetensors({ bias: { shape: [3], data: six.subarray(0, 3) }, acts: { shape: [2, 3], data: six } });
    const src = await open(bytes);
    expect([src.tensorName, src.rows, src.d, src.dtype]).toEqual(['acts', 2, 3, 'F32']);
    expect([...(await src.readRows(1, 1))]).toEqual([4, 5, 6]);
  });

  it('a named 3-D tensor as rows', async () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i);
    const bytes = encodeSafetensors({ a: { shape: [2, 3, 4], data }, b: { shape: [6, 4], data } });
    const src = await open(bytes, 'a');
    expect([src.rows, src.d, src.shape]).toEqual([6, 4, [2, 3, 4]]);
    expect([...(await src.readRows(5, 1))]).toEqual([20, 21, 22, 23]);
  });

  it('F16, BF16 and F64 converted to float32', async () => {
    const half = Uint16Array.from([0x3c00, 0xc000, 0x3800, 0x7c00]); // 1, -2, 0.5, inf
    const bf = Uint16Array.from([0x3f80, 0xc000, 0x3f00, 0x4040]); // 1, -2, 0.5, 3
    const f64 = Float64Array.from([1, -2, 0.5, 3]);
    const cases: [string, Uint8Array, number[]][] = [
      ['F16', bytesOf(half), [1, -2, 0.5, Infinity]],
      ['BF16', bytesOf(bf), [1, -2, 0.5, 3]],
      ['F64', bytesOf(f64), [1, -2, 0.5, 3]],
    ];
    for (const [dtype, data, want] of cases) {
      const src = await open(rawSafetensors({ x: entry(dtype, [2, 2], 0, data.length) }, data));
      expect([...(await src.readRows(0, 2))]).toEqual(want);
    }
  });

  it('rows outside the tensor are refused', async () => {
    const src = await open(encodeSafetensors({ acts: { shape: [2, 3], data: six } }));
    await expect(src.readRows(2, 1)).rejects.toThrow('acts.safetensors: rows [2, 3) are outside the 2 rows of the file');
  });
});

describe('openSafetensors refuses', () => {
  it('an ambiguous file, listing the tensors', async () => {
    const bytes = encodeSafetensors({ a: { shape: [2, 3], data: six }, b: { shape: [3, 2], data: six } });
    await expect(open(bytes)).rejects.toThrow(
      'acts.safetensors: several 2-D/3-D tensors (a [2, 3] F32; b [3, 2] F32); name the one to use',
    );
  });

  it('a file without a 2-D or 3-D tensor', async () => {
    await expect(open(encodeSafetensors({ v: { shape: [6], data: six } }))).rejects.toThrow(
      'acts.safetensors: no 2-D or 3-D tensor in the file; tensors: v [6] F32',
    );
  });

  it('a missing named tensor', async () => {
    await expect(open(encodeSafetensors({ a: { shape: [2, 3], data: six } }), 'b')).rejects.toThrow(
      "acts.safetensors: no tensor named 'b'; tensors in the file: a [2, 3] F32",
    );
  });

  it('a named tensor that is 1-D', async () => {
    await expect(open(encodeSafetensors({ v: { shape: [6], data: six } }), 'v')).rejects.toThrow(
      "acts.safetensors: tensor 'v' has shape [6]; expected (rows, d) or (docs, ctx, d)",
    );
  });

  it('an integer tensor', async () => {
    const bytes = rawSafetensors({ ids: entry('I32', [2, 3], 0, 24) }, new Uint8Array(24));
    await expect(open(bytes)).rejects.toThrow("acts.safetensors: tensor 'ids' has dtype I32; supported: F32, F16, BF16, F64");
  });

  it('an unknown dtype', async () => {
    const bytes = rawSafetensors({ x: entry('F128', [2, 3], 0, 24) }, new Uint8Array(24));
    await expect(open(bytes)).rejects.toThrow(`acts.safetensors: tensor 'x': unknown dtype "F128"`);
  });

  it('a file shorter than the length prefix', async () => {
    await expect(open(new Uint8Array(5))).rejects.toThrow(
      'acts.safetensors: file is truncated: 5 bytes is too short for a safetensors header',
    );
  });

  it('a header length beyond the file', async () => {
    const bytes = encodeSafetensors({ a: { shape: [2, 3], data: six } });
    await expect(open(bytes.subarray(0, 20))).rejects.toThrow(
      /^acts.safetensors: file is truncated: the header claims \d+ bytes but the file has only 12 after the length$/,
    );
  });

  it('an implausible header length', async () => {
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setUint32(4, 1, true);
    await expect(open(bytes)).rejects.toThrow('acts.safetensors: header length 4294967296 is implausible');
  });

  it('a header that is not JSON', async () => {
    await expect(open(rawSafetensors(null, new Uint8Array(0), '{"a": [1, 2'))).rejects.toThrow(
      /^acts.safetensors: safetensors header is not valid JSON \(/,
    );
  });

  it('a header that is a JSON array', async () => {
    await expect(open(rawSafetensors([1, 2], new Uint8Array(0)))).rejects.toThrow(
      'acts.safetensors: safetensors header is not a JSON object',
    );
  });

  it('data_offsets past the end of the file', async () => {
    const bytes = rawSafetensors({ a: entry('F32', [2, 3], 0, 24) }, new Uint8Array(20));
    await expect(open(bytes)).rejects.toThrow(
      "acts.safetensors: tensor 'a': data_offsets [0, 24] lie outside the data (20 bytes); the file is truncated or corrupt",
    );
  });

  it('data_offsets inconsistent with shape × dtype', async () => {
    const bytes = rawSafetensors({ a: entry('F32', [2, 3], 0, 20) }, new Uint8Array(24));
    await expect(open(bytes)).rejects.toThrow(
      "acts.safetensors: tensor 'a': data_offsets [0, 20] span 20 bytes but shape [2, 3] of F32 needs 24",
    );
  });

  it('reversed data_offsets', async () => {
    const bytes = rawSafetensors({ a: entry('F32', [2, 3], 24, 0) }, new Uint8Array(24));
    await expect(open(bytes)).rejects.toThrow("acts.safetensors: tensor 'a': data_offsets [24,0] are not [begin, end]");
  });

  it('a malformed shape', async () => {
    const bytes = rawSafetensors({ a: { dtype: 'F32', shape: [2, -3], data_offsets: [0, 24] } }, new Uint8Array(24));
    await expect(open(bytes)).rejects.toThrow("acts.safetensors: tensor 'a': shape [2,-3] is not a list of sizes");
  });

  it('non-string metadata', async () => {
    const bytes = rawSafetensors({ __metadata__: { n: 3 }, a: entry('F32', [2, 3], 0, 24) }, new Uint8Array(24));
    await expect(open(bytes)).rejects.toThrow('acts.safetensors: __metadata__ must map strings to strings');
  });
});

describe('readSafetensorsTensors and encodeSafetensors', () => {
  it('round-trip tensors and metadata; header padded with spaces to 8 bytes', () => {
    const bytes = encodeSafetensors(
      { w: { shape: [2, 3], data: six }, b: { shape: [1], data: Float32Array.of(7) } },
      { format: 'pt' },
    );
    const n = new DataView(bytes.buffer).getUint32(0, true);
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd().length).toBeLessThanOrEqual(n);
    expect(JSON.parse(text).__metadata__).toEqual({ format: 'pt' });
    const map = readSafetensorsTensors(bytes);
    expect([...map.keys()]).toEqual(['w', 'b']);
    expect(map.get('w')).toEqual({ dtype: 'F32', shape: [2, 3], data: six });
    expect([...map.get('b')!.data]).toEqual([7]);
  });

  it('reads the independently written fixture weights', () => {
    const bytes = readFileSync('/work/shared/fixtures/saelens/v6-standard/sae_weights.safetensors');
    const map = readSafetensorsTensors(bytes, 'sae_weights.safetensors');
    expect([...map].map(([k, v]) => [k, v.shape])).toEqual([
      ['W_enc', [32, 64]], ['b_enc', [64]], ['W_dec', [64, 32]], ['b_dec', [32]],
    ]);
  });

  it('refuses a non-float tensor by name', () => {
    const bytes = rawSafetensors({ ids: entry('I64', [2], 0, 16) }, new Uint8Array(16));
    expect(() => readSafetensorsTensors(bytes, 'w.safetensors')).toThrow(
      "w.safetensors: tensor 'ids' has dtype I64; supported: F32, F16, BF16, F64",
    );
  });

  it('refuses a shape that does not match the data when writing', () => {
    expect(() => encodeSafetensors({ w: { shape: [4], data: six } })).toThrow(
      "encodeSafetensors: 'w' shape [4] holds 4 values, data has 6",
    );
  });
});
