// shaders/topk.wgsl select_topk against the reference selection (src/reference/sae.ts) on values with many
// exact ties (ties must go to the lower index), with and without the dead-latent mask, outputs poisoned.
import { describe, expect, it } from 'vitest';
import { Kernel, dispatch, encodeDispatches, flatGrid } from '../../src/engine/kernel.ts';
import { selectRows } from '../../src/reference/sae.ts';
import { download, downloadU32, getDevice, noValidationErrors, poisoned, randomArray, upload } from '../support/gpu.ts';

const B = 19;
const F = 101;
const NONE = 0xffffffff;

async function select(pre: Float32Array, dead: Uint32Array, K: number, masked: boolean) {
  const device = await getDevice();
  const kernel = Kernel.get(device, 'topk', 'select_topk', { MASKED: masked });
  const idx = poisoned(device, B * K);
  const val = poisoned(device, B * K);
  return noValidationErrors(device, async () => {
    const su = kernel.uniform('su', { B, F, K });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, [dispatch(kernel, { su: su.buffer, pre: upload(device, pre), dead: upload(device, dead), idx, val }, flatGrid(B))]);
    pass.end();
    device.queue.submit([enc.finish()]);
    return { idx: await downloadU32(device, idx, B * K), val: await download(device, val, B * K) };
  });
}

describe('select_topk', () => {
  // values in {-2, -1, 0, 1, 2, 3}: most rows hold many equal values
  const pre = randomArray(B * F, 99, -2, 4).map(Math.floor);

  it('keeps the K largest, ties to the lower index, values ReLU-ed', async () => {
    const K = 7;
    const { idx, val } = await select(pre, new Uint32Array(F), K, false);
    expect(Array.from(idx)).toEqual(Array.from(selectRows(pre, B, F, K)));
    for (let r = 0; r < B * K; r++) expect(val[r]).toBe(Math.max(0, pre[Math.floor(r / K) * F + idx[r]!]!));
  });

  it('among dead latents only, padding rows that run out with NONE', async () => {
    const dead = Uint32Array.from(randomArray(F, 5), (x) => (x > 0.7 ? 1 : 0));
    const nDead = dead.reduce((a, b) => a + b, 0);
    expect(nDead).toBeGreaterThan(2);
    const K = nDead + 3;
    const { idx, val } = await select(pre, dead, K, true);
    const want = selectRows(pre, B, F, nDead, Uint8Array.from(dead));
    for (let b = 0; b < B; b++) {
      for (let r = 0; r < K; r++) {
        const got = idx[b * K + r];
        if (r < nDead) expect(got).toBe(want[b * nDead + r]);
        else {
          expect(got).toBe(NONE);
          expect(val[b * K + r]).toBe(0);
        }
      }
    }
  });
});
