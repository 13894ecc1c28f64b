// shaders/matmul.wgsl against its float64 reference, in every transpose/epilogue combination,
// on shapes that are not multiples of the 32×32 tile, with the output poisoned first.
import { describe, expect, it } from 'vitest';
import { Kernel, dispatch, encodeDispatches, matmulGrid } from '../../src/engine/kernel.ts';
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

describe('matmul', () => {
  for (const [n, c] of cases.entries()) {
    it(`M=${c.M} N=${c.N} K=${c.K} transA=${c.transA} transB=${c.transB} bias=${c.bias} relu=${c.relu}`, async () => {
      const device = await getDevice();
      const A = randomArray(c.M * c.K, 11 + n);
      const B = randomArray(c.K * c.N, 23 + n);
      const bias = randomArray(c.N, 31 + n);
      const expected = matmul64(A, B, c.M, c.N, c.K, { transA: c.transA, transB: c.transB, bias: c.bias ? bias : undefined, relu: c.relu });
      const C = poisoned(device, c.M * c.N + 8);
      const kernel = Kernel.get(device, 'matmul', 'main', { TRANS_A: c.transA, TRANS_B: c.transB, HAS_BIAS: c.bias, RELU: c.relu });
      const got = await noValidationErrors(device, async () => {
        const dims = kernel.uniform('dims', { M: c.M, N: c.N, K: c.K });
        const d = dispatch(kernel, { dims: dims.buffer, A: upload(device, A), B: upload(device, B), bias: upload(device, bias), C }, matmulGrid(c.M, c.N));
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
