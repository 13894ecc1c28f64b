// shaders/topk.wgsl select_topk against the reference selection (src/reference/sae.ts) on values with many
// exact ties (ties must go to the lower index), with and without the dead-latent mask, outputs poisoned and
// written into rows of wider slots (as the trainer keeps TopK and AuxK picks side by side). F = 101 takes
// the one-at-a-time path, F = 104 the four-at-a-time one.
import { describe, expect, it } from 'vitest';
import { Kernel, dispatch, encodeDispatches, flatGrid } from '../../src/engine/kernel.ts';
import { selectRows } from '../../src/reference/sae.ts';
import { download, downloadU32, getDevice, noValidationErrors, poisoned, randomArray, upload } from '../support/gpu.ts';

const B = 19;
const NONE = 0xffffffff;
// picks land in slots OFFSET..OFFSET+K-1 of rows of K + PAD slots; the others must keep their poison
const OFFSET = 2;
const PAD = 3;

async function select(pre: Float32Array, F: number, dead: Uint32Array, K: number, masked: boolean) {
  const device = await getDevice();
  const kernel = Kernel.get(device, 'topk', 'select_topk', { MASKED: masked, QUADS: F % 4 === 0 });
  const stride = K + PAD;
  const idx = poisoned(device, B * stride);
  const val = poisoned(device, B * stride);
  return noValidationErrors(device, async () => {
    const su = kernel.uniform('su', { B, F, K, stride, offset: OFFSET });
    const preBuf = upload(device, pre);
    const deadBuf = upload(device, dead);
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, [dispatch(kernel, { su: su.buffer, pre: preBuf, pre4: preBuf, dead: deadBuf, dead4: deadBuf, idx, val }, flatGrid(B))]);
    pass.end();
    device.queue.submit([enc.finish()]);
    const allIdx = await downloadU32(device, idx, B * stride);
    const allVal = await download(device, val, B * stride);
    const outIdx = new Uint32Array(B * K);
    const outVal = new Float32Array(B * K);
    for (let b = 0; b < B; b++) {
      for (let r = 0; r < stride; r++) {
        const o = b * stride + r;
        if (r >= OFFSET && r < OFFSET + K) {
          outIdx[b * K + r - OFFSET] = allIdx[o]!;
          outVal[b * K + r - OFFSET] = allVal[o]!;
        } else expect(Number.isNaN(allVal[o]), `slot ${r} of row ${b} left alone`).toBe(true);
      }
    }
    return { idx: outIdx, val: outVal };
  });
}

for (const F of [101, 104]) {
  describe(`select_topk, F = ${F}`, () => {
    // values in {-2, -1, 0, 1, 2, 3}: most rows hold many equal values
    const pre = randomArray(B * F, 99, -2, 4).map(Math.floor);

    it('keeps the K largest, ties to the lower index, values ReLU-ed', async () => {
      const K = 7;
      const { idx, val } = await select(pre, F, new Uint32Array(F), K, false);
      expect(Array.from(idx)).toEqual(Array.from(selectRows(pre, B, F, K)));
      for (let r = 0; r < B * K; r++) expect(val[r]).toBe(Math.max(0, pre[Math.floor(r / K) * F + idx[r]!]!));
    });

    it('among dead latents only, padding rows that run out with NONE', async () => {
      const dead = Uint32Array.from(randomArray(F, 5), (x) => (x > 0.7 ? 1 : 0));
      const nDead = dead.reduce((a, b) => a + b, 0);
      expect(nDead).toBeGreaterThan(2);
      for (const K of [nDead + 3, Math.floor(nDead / 2)]) {
        const { idx, val } = await select(pre, F, dead, K, true);
        const kept = Math.min(K, nDead);
        const want = selectRows(pre, B, F, kept, Uint8Array.from(dead));
        for (let b = 0; b < B; b++) {
          for (let r = 0; r < K; r++) {
            const got = idx[b * K + r];
            if (r < kept) expect(got, `K=${K} row ${b} rank ${r}`).toBe(want[b * kept + r]);
            else {
              expect(got).toBe(NONE);
              expect(val[b * K + r]).toBe(0);
            }
          }
        }
      }
    });
  });
}

// A dictionary split into feature shards selects per shard (indices from the shard's first feature, raw
// values) and merge_topk keeps each row's best of all candidates: the same picks as one selection over the
// row. Shards of 64, 64 and 22 features; K = 30 leaves the last shard's candidates padded with NONE.
describe('select_topk per feature shard, then merge_topk', () => {
  const F = 150;
  const shards = [{ f0: 0, F: 64 }, { f0: 64, F: 64 }, { f0: 128, F: 22 }];
  const pre = randomArray(B * F, 7, -2, 4).map(Math.floor);

  async function shardedSelect(K: number, dead: Uint32Array, masked: boolean) {
    const device = await getDevice();
    const C = shards.length * K;
    const candIdx = poisoned(device, B * C);
    const candVal = poisoned(device, B * C);
    const idx = poisoned(device, B * K);
    const val = poisoned(device, B * K);
    return noValidationErrors(device, async () => {
      const list = shards.map((sh, s) => {
        const kernel = Kernel.get(device, 'topk', 'select_topk', { MASKED: masked, QUADS: false });
        const part = new Float32Array(B * sh.F);
        for (let b = 0; b < B; b++) part.set(pre.subarray(b * F + sh.f0, b * F + sh.f0 + sh.F), b * sh.F);
        const su = kernel.uniform('su', { B, F: sh.F, K, stride: C, offset: s * K, base: sh.f0, raw: 1 });
        const deadBuf = upload(device, dead.slice(sh.f0, sh.f0 + sh.F));
        const preBuf = upload(device, part);
        return dispatch(kernel, { su: su.buffer, pre: preBuf, pre4: preBuf, dead: deadBuf, dead4: deadBuf, idx: candIdx, val: candVal }, flatGrid(B));
      });
      const merge = Kernel.get(device, 'topk', 'merge_topk');
      const mu = merge.uniform('su', { B, F: C, K, stride: K, offset: 0 });
      list.push(dispatch(merge, { su: mu.buffer, cand_idx: candIdx, cand_val: candVal, idx, val }, flatGrid(B)));
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      encodeDispatches(pass, list);
      pass.end();
      device.queue.submit([enc.finish()]);
      return { idx: await downloadU32(device, idx, B * K), val: await download(device, val, B * K) };
    });
  }

  it('gives the picks and ReLU-ed values of one selection over the whole row', async () => {
    const K = 30;
    const { idx, val } = await shardedSelect(K, new Uint32Array(F), false);
    expect(Array.from(idx)).toEqual(Array.from(selectRows(pre, B, F, K)));
    for (let r = 0; r < B * K; r++) expect(val[r]).toBe(Math.max(0, pre[Math.floor(r / K) * F + idx[r]!]!));
  });

  it('among dead latents only (AuxK), padding with NONE when the shards run out', async () => {
    const dead = Uint32Array.from(randomArray(F, 3), (x) => (x > 0.75 ? 1 : 0));
    const nDead = dead.reduce((a, b) => a + b, 0);
    const K = nDead + 2;
    const { idx } = await shardedSelect(K, dead, true);
    const want = selectRows(pre, B, F, nDead, Uint8Array.from(dead));
    for (let b = 0; b < B; b++) {
      expect(Array.from(idx.subarray(b * K, b * K + nDead)), `row ${b}`).toEqual(Array.from(want.subarray(b * nDead, (b + 1) * nDead)));
      expect(Array.from(idx.subarray(b * K + nDead, (b + 1) * K))).toEqual([NONE, NONE]);
    }
  });
});
