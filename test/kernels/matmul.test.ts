// shaders/matmul.wgsl against its float64 reference: the scalar variant in every transpose/epilogue
// combination, the vec4 variant in each combination it offers, on shapes that are not multiples of the
// 32×32 tile (rows not even multiples of 4), with the output poisoned first.
import { describe, expect, it } from 'vitest';
import { gemm } from '../../src/engine/gemm.ts';
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
];

const vec4Cases = [
  { M: 19, N: 36, K: 40, transA: false, transB: false, bias: true, relu: true },
  { M: 19, N: 44, K: 36, transA: false, transB: true, bias: false, relu: false },
  { M: 36, N: 44, K: 19, transA: true, transB: false, bias: false, relu: false },
  { M: 5, N: 4, K: 4, transA: false, transB: false, bias: true, relu: false },
];

describe('matmul', () => {
  for (const [n, c] of [...cases.map((c) => ({ ...c, entry: 'main' })), ...vec4Cases.map((c) => ({ ...c, entry: 'main_vec4' }))].entries()) {
    it(`${c.entry}: M=${c.M} N=${c.N} K=${c.K} transA=${c.transA} transB=${c.transB} bias=${c.bias} relu=${c.relu}`, async () => {
      const device = await getDevice();
      const A = randomArray(c.M * c.K, 11 + n);
      const B = randomArray(c.K * c.N, 23 + n);
      const bias = randomArray(c.N, 31 + n);
      const expected = matmul64(A, B, c.M, c.N, c.K, { transA: c.transA, transB: c.transB, bias: c.bias ? bias : undefined, relu: c.relu });
      const C = poisoned(device, c.M * c.N + 8);
      const got = await noValidationErrors(device, async () => {
        const variant = c.entry === 'main' ? 'scalar' : 'vec4';
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
      expectClose(got.subarray(0, c.M * c.N), expected, 1e-5, 'C');
      // the kernel writes nothing past the end of C
      expect(Array.from(got.subarray(c.M * c.N)).every(Number.isNaN)).toBe(true);
    });
  }
});
