// shaders/neighbours.wgsl against the float64 reference (src/reference/neighbours.ts) on odd shapes (partial
// row blocks, column tiles and neighbour tiles), with exact duplicate rows (ties must go to the lower index),
// a row scaled by 3 (rounded to float32, a near-tie that float32 may order either way), a zero row, outputs
// poisoned.
import { describe, expect, it } from 'vitest';
import { NEIGHBOURS_MAX_K, NEIGHBOUR_NONE, decoderNeighbours, submitNeighbours, type Neighbours } from '../../src/engine/neighbours.ts';
import { readBuffer, storage, writeArray } from '../../src/engine/kernel.ts';
import { neighbours64 } from '../../src/reference/neighbours.ts';
import { download, downloadU32, getDevice, noValidationErrors, poisoned, randomArray, upload } from '../support/gpu.ts';

const F = 101;
const d = 37;
const DUPS = [12, 40, 70, 99]; // rows 40, 70, 99 are exact copies of row 12
const PAIR = [5, 88]; // row 5 is an exact copy of row 88
const SCALED = [60, 61]; // row 61 = 3 · row 60, rounded
const ZERO = 33;

function decoder(): Float32Array {
  const W = randomArray(F * d, 2024);
  const row = (i: number) => W.subarray(i * d, (i + 1) * d);
  for (const i of DUPS.slice(1)) row(i).set(row(DUPS[0]!));
  row(PAIR[0]!).set(row(PAIR[1]!));
  row(SCALED[1]!).set(row(SCALED[0]!).map((x) => 3 * x));
  row(ZERO).fill(0);
  return W;
}

/** The kernel on buffers poisoned beforehand, so any slot it fails to write shows up. */
async function run(W: Float32Array, nF: number, nd: number, K: number, chunkRows?: number): Promise<Neighbours> {
  const device = await getDevice();
  // The index output is poisoned with NaN's bits rather than NONE, which is a legitimate (padding) output.
  const bufs = { W_dec: upload(device, W), inv_norm: poisoned(device, nF), nbr_idx: poisoned(device, nF * K), nbr_sim: poisoned(device, nF * K) };
  return noValidationErrors(device, async () => {
    const uniform = submitNeighbours(device, bufs, nF, nd, K, { chunkRows });
    const out = { idx: await downloadU32(device, bufs.nbr_idx, nF * K), sim: await download(device, bufs.nbr_sim, nF * K) };
    for (const b of [uniform, ...Object.values(bufs)]) b.destroy();
    return out;
  });
}

/**
 * Compares with the reference: cosines within 1e-5 rank by rank, and indices equal except where float32
 * rounding may legitimately reorder near-ties — there the GPU's pick must have a float64 cosine within 1e-6
 * of the reference's at that rank. Returns the swaps as [GPU's index, reference's index].
 */
function expectMatchesReference(got: Neighbours, W: Float32Array, nF: number, nd: number, K: number): [number, number][] {
  const ref = neighbours64(W, nF, nd, K);
  const swaps: [number, number][] = [];
  for (let i = 0; i < nF; i++) {
    const seen = new Set<number>();
    for (let r = 0; r < K; r++) {
      const o = i * K + r;
      const j = got.idx[o]!;
      expect(Math.abs(got.sim[o]! - ref.sim[o]!), `row ${i} rank ${r}: cosine ${got.sim[o]} vs ${ref.sim[o]}`).toBeLessThanOrEqual(1e-5);
      if (ref.idx[o] === NEIGHBOUR_NONE) {
        expect(j, `row ${i} rank ${r}: padding`).toBe(NEIGHBOUR_NONE);
        expect(got.sim[o]).toBe(0);
        continue;
      }
      expect(j < nF && j !== i && !seen.has(j), `row ${i} rank ${r}: index ${j}`).toBe(true);
      seen.add(j);
      if (j !== ref.idx[o]) {
        swaps.push([j, ref.idx[o]!]);
        expect(Math.abs(ref.cos[i * nF + j]! - ref.sim[o]!), `row ${i} rank ${r}: ${j} instead of ${ref.idx[o]} is no near-tie`).toBeLessThanOrEqual(1e-6);
      }
    }
  }
  return swaps;
}

describe('decoder neighbours', () => {
  const W = decoder();

  it('matches the reference: nearest first, ties to the lower index, self excluded', async () => {
    for (const K of [7, NEIGHBOURS_MAX_K]) {
      const got = await run(W, F, d, K);
      // Random rows of d = 37 have no near-ties but the scaled pair: only its two members may trade places.
      for (const pair of expectMatchesReference(got, W, F, d, K)) expect([...pair].sort((a, b) => a - b)).toEqual(SCALED);

      // Exact duplicates get bit-identical cosines everywhere, so their order is the index order exactly.
      const at = (i: number, r: number) => got.idx[i * K + r]!;
      for (const group of [DUPS, PAIR]) {
        for (const i of group) {
          const others = group.filter((j) => j !== i);
          expect(others.map((_, r) => at(i, r))).toEqual(others);
          for (let r = 0; r < others.length; r++) expect(got.sim[i * K + r]).toBeCloseTo(1, 5);
        }
        for (let i = 0; i < F; i++) {
          const ranks = group.map((j) => Array.from({ length: K }, (_, r) => at(i, r)).indexOf(j)).filter((r) => r >= 0);
          expect(ranks, `row ${i}: duplicates in index order`).toEqual([...ranks].sort((a, b) => a - b));
          for (const r of ranks) expect(got.sim[i * K + r]).toBe(got.sim[i * K + ranks[0]!]);
        }
      }
      // The zero row has cosine 0 with everything: its neighbours are the lowest other indices.
      for (let r = 0; r < K; r++) {
        expect(at(ZERO, r)).toBe(r < ZERO ? r : r + 1);
        expect(Math.abs(got.sim[ZERO * K + r]!)).toBe(0);
      }
    }
  });

  it('pads features with fewer than K others with NONE', async () => {
    const small = randomArray(5 * 3, 7);
    const got = await run(small, 5, 3, 7);
    expectMatchesReference(got, small, 5, 3, 7);
    for (let i = 0; i < 5; i++) expect(Array.from(got.idx.subarray(i * 7 + 4, i * 7 + 7))).toEqual([NEIGHBOUR_NONE, NEIGHBOUR_NONE, NEIGHBOUR_NONE]);
  });

  it('gives the same bits in row chunks, run after run, and through decoderNeighbours', async () => {
    const device = await getDevice();
    const K = 7;
    const whole = await run(W, F, d, K);
    const chunked = await run(W, F, d, K, 64);
    expect(chunked.idx).toEqual(whole.idx);
    expect(new Uint32Array(chunked.sim.buffer)).toEqual(new Uint32Array(whole.sim.buffer));

    const fromArray = await noValidationErrors(device, () => decoderNeighbours(device, W, F, d, K));
    // W_dec as one segment of a larger buffer, as it lives in the trainer's flat parameter buffer.
    const flat = storage(device, 'flat', 256 + W.byteLength + 64);
    writeArray(device, flat, 256, W);
    const fromBinding = await noValidationErrors(device, () => decoderNeighbours(device, { buffer: flat, offset: 256, size: W.byteLength }, F, d, K));
    const alone = upload(device, W);
    const fromBuffer = await noValidationErrors(device, () => decoderNeighbours(device, alone, F, d, K));
    for (const out of [fromArray, fromBinding, fromBuffer]) {
      expect(out.idx).toEqual(whole.idx);
      expect(new Uint32Array(out.sim.buffer)).toEqual(new Uint32Array(whole.sim.buffer));
    }
    // The caller's buffers are left alone.
    expect(new Float32Array(await readBuffer(device, alone))).toEqual(W);
    flat.destroy();
    alone.destroy();
  });

  it('refuses K above the cap, and bad shapes, with a clear message', async () => {
    const device = await getDevice();
    await expect(decoderNeighbours(device, W, F, d, NEIGHBOURS_MAX_K + 1)).rejects.toThrow(`K = ${NEIGHBOURS_MAX_K + 1} is above the cap of ${NEIGHBOURS_MAX_K}`);
    await expect(decoderNeighbours(device, W, F, d, 0)).rejects.toThrow('K must be a positive integer');
    await expect(decoderNeighbours(device, W, F, d + 1, 7)).rejects.toThrow(`W_dec has ${F * d} values, expected ${F}×${d + 1}`);
  });
});
