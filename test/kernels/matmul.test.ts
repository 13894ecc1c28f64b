// shaders/matmul.wgsl against its float64 reference: the scalar and both tiled variants in every
// transpose/epilogue combination, the vec4, vec4x8 and vec8x8 variants in each combination they offer, on
// shapes that are not multiples of any tile (rows not even multiples of 4) and K longer than a tile's slice,
// with the output poisoned first. The tiled variants must also equal the scalar one bit for bit (same sums,
// same order), and the subgroup and vec8x8 variants the vec4 one.
import { describe, expect, it } from 'vitest';
import { gemm, type GemmVariant } from '../../src/engine/gemm.ts';
import { encodeDispatches } from '../../src/engine/kernel.ts';
import { matmul64 } from '../../src/reference/matmul.ts';
import { download, expectClose, getDevice, noValidationErrors, poisoned, randomArray, upload } from '../support/gpu.ts';

const cases = [
  { M: 19, N: 101, K: 37, transA: false, transB: false, bias: true, relu: true },
  { M: 19, N: 37, K: 101, transA: false, transB: false, bias: true, relu: false },
  { M: 19, N: 101, K: 37, transA: false, transB: true, bias: false, relu: false },
  { M: 101, N: 37, K: 19, transA: true, transB: false, bias: false, relu: false },
  { M: 37, N: 101, K: 19, transA: true, transB: true, bias: true, relu: true },
  { M: 1, N: 1, K: 1, transA: false, transB: false, bias: false, relu: false },
  { M: 67, N: 70, K: 45, transA: false, transB: false, bias: true, relu: false },
];

const vec4Cases = [
  { M: 19, N: 36, K: 40, transA: false, transB: false, bias: true, relu: true },
  { M: 19, N: 44, K: 36, transA: false, transB: true, bias: false, relu: false },
  { M: 36, N: 44, K: 19, transA: true, transB: false, bias: false, relu: false },
  { M: 5, N: 4, K: 4, transA: false, transB: false, bias: true, relu: false },
  { M: 21, N: 40, K: 12, transA: false, transB: false, bias: true, relu: false },
];
// vec8x8 offers neither operand transposed (N = 36 and 4 end on half an 8-column block, N = 40 does not)
const plainCases = vec4Cases.filter((c) => !c.transA && !c.transB);

interface Case { M: number; N: number; K: number; transA: boolean; transB: boolean; bias: boolean; relu: boolean }

async function run(variant: GemmVariant, c: Case, n: number) {
  const device = await getDevice();
  const A = randomArray(c.M * c.K, 11 + n);
  const B = randomArray(c.K * c.N, 23 + n);
  const bias = randomArray(c.N, 31 + n);
  const expected = matmul64(A, B, c.M, c.N, c.K, { transA: c.transA, transB: c.transB, bias: c.bias ? bias : undefined, relu: c.relu });
  const C = poisoned(device, c.M * c.N + 8);
  const got = await noValidationErrors(device, async () => {
    const d = gemm(device, variant, c.M, c.N, c.K, upload(device, A), upload(device, B), C, {
      transA: c.transA, transB: c.transB, bias: c.bias ? upload(device, bias) : undefined, relu: c.relu,
    }, upload(device, bias));
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, [d]);
    pass.end();
    device.queue.submit([enc.finish()]);
    return download(device, C, c.M * c.N + 8);
  });
  return { got, expected };
}

const label = (c: Case) => `M=${c.M} N=${c.N} K=${c.K} transA=${c.transA} transB=${c.transB} bias=${c.bias} relu=${c.relu}`;

describe('matmul', () => {
  const runs: [GemmVariant, Case][] = [
    ...cases.flatMap((c) => (['scalar', 'tiled32', 'tiled64'] as const).map((v): [GemmVariant, Case] => [v, c])),
    ...vec4Cases.flatMap((c) => (['vec4', 'vec4x8'] as const).map((v): [GemmVariant, Case] => [v, c])),
    ...plainCases.map((c): [GemmVariant, Case] => ['vec8x8', c]),
  ];
  for (const [n, [variant, c]] of runs.entries()) {
    it(`${variant}: ${label(c)}`, async () => {
      const { got, expected } = await run(variant, c, n);
      expectClose(got.subarray(0, c.M * c.N), expected, 1e-5, 'C');
      // the kernel writes nothing past the end of C
      expect(Array.from(got.subarray(c.M * c.N)).every(Number.isNaN)).toBe(true);
    });
  }

  for (const c of cases) {
    it(`tiled32 and tiled64 equal scalar bit for bit: ${label(c)}`, async () => {
      const scalar = (await run('scalar', c, 0)).got;
      for (const variant of ['tiled32', 'tiled64'] as const) {
        expect(Array.from((await run(variant, c, 0)).got)).toEqual(Array.from(scalar));
      }
    });
  }

  for (const c of plainCases) {
    it(`vec8x8 equals vec4 bit for bit (same sums, same order): ${label(c)}`, async () => {
      expect(Array.from((await run('vec8x8', c, 2)).got)).toEqual(Array.from((await run('vec4', c, 2)).got));
    });
  }

  // The subgroup variant, where the device has subgroups (Dawn's SwiftShader does): main_vec4's sums in its
  // order, so its output equals vec4's bit for bit.
  for (const c of vec4Cases.filter((c) => !c.transA)) {
    it(`subgroup equals vec4 bit for bit, where the device has subgroups: ${label(c)}`, async () => {
      const device = await getDevice();
      if (!device.features.has('subgroups')) return;
      const { got, expected } = await run('subgroup', c, 3);
      expectClose(got.subarray(0, c.M * c.N), expected, 1e-5, 'C');
      expect(Array.from(got)).toEqual(Array.from((await run('vec4', c, 3)).got));
    });
  }

  it('refuses a variant that cannot compute the shape', async () => {
    const device = await getDevice();
    const buf = poisoned(device, 64);
    expect(() => gemm(device, 'vec4', 4, 5, 4, buf, buf, buf, {}, buf)).toThrow(/vec4 cannot compute 4×5×4/);
    expect(() => gemm(device, 'subgroup', 4, 4, 4, buf, buf, buf, { transA: true }, buf)).toThrow(/subgroup cannot compute/);
  });
});
