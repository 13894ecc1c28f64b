// The language model's kernels (shaders/embed, lmnorm, mlp, attention, residual) one by one against the
// float64 reference (src/reference/transformer.ts), on odd shapes (d not a multiple of 4 or of 64 lanes,
// head sizes that are not powers of two, groups of 3 query heads per key/value head, one key/value head),
// with every output poisoned first so that an unwritten value fails.
import { describe, expect, it } from 'vitest';
import { Kernel, dispatch, encodeDispatches, flatGrid, type Dispatch } from '../../src/engine/kernel.ts';
import type { LmConfig } from '../../src/model/config.ts';
import { rotaryTable } from '../../src/model/rotary.ts';
import { act64, attention64, norm64 } from '../../src/reference/transformer.ts';
import { download, getDevice, noValidationErrors, poisoned, randomArray, upload } from '../support/gpu.ts';
import { expectMatches } from '../support/lm-fixtures.ts';

async function run(device: GPUDevice, list: Dispatch[]): Promise<void> {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  encodeDispatches(pass, list);
  pass.end();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
}

function config(o: Partial<LmConfig>): LmConfig {
  return {
    family: 'test', architecture: 'test', nLayers: 1, d: 24, nHeads: 4, nKvHeads: 4, headDim: 6, dFf: 40, vocab: 50, maxPositions: 64,
    norm: 'layernorm', normEps: 1e-5, activation: 'gelu_tanh', gated: false, positions: { kind: 'learned' }, attnScale: [0.37],
    tied: true, bias: { qkv: true, o: true, mlp: true }, bosTokenId: null, eosTokenIds: [], ...o,
  };
}

describe('transformer kernels against the float64 reference', () => {
  for (const [rms, d, rows] of [[false, 37, 7], [true, 37, 7], [false, 130, 3], [true, 4, 5], [false, 9, 70]] as const) {
    it(`${rms ? 'rmsnorm' : 'layernorm'} d=${d} rows=${rows}`, async () => {
      const device = await getDevice();
      const c = config({ d, norm: rms ? 'rmsnorm' : 'layernorm', normEps: 1e-5 });
      const X = randomArray(rows * d, 3 + d, -3, 5);
      const w = randomArray(d, 5 + d);
      const b = randomArray(d, 7 + d);
      const Y = poisoned(device, rows * d + 4);
      const k = Kernel.get(device, 'lmnorm', 'norm', { RMS: rms });
      await noValidationErrors(device, () => run(device, [dispatch(k, { u: k.uniform('u', { rows, d, eps: 1e-5 }).buffer, X: upload(device, X), w: upload(device, w), b: upload(device, b), Y }, flatGrid(rows))]));
      const got = await download(device, Y, rows * d + 4);
      expectMatches(got.subarray(0, rows * d), norm64(c, Float64Array.from(X), w, rms ? undefined : b, rows), 'normed rows');
      expect(Number.isNaN(got[rows * d]), 'nothing written past the rows').toBe(true);
    });
  }

  for (const learned of [true, false]) {
    it(`embed (${learned ? 'learned positions' : 'no positions'}) from position 5`, async () => {
      const device = await getDevice();
      const [V, P, d, T, B, pos0] = [50, 20, 13, 3, 2, 5];
      const wte = randomArray(V * d, 1);
      const wpe = randomArray(P * d, 2);
      const ids = [4, 49, 0, 17, 17, 3];
      const X = poisoned(device, B * T * d);
      const k = Kernel.get(device, 'embed', 'embed', { LEARNED: learned });
      await noValidationErrors(device, () => run(device, [dispatch(k, { u: k.uniform('u', { rows: B * T, T, d, pos0 }).buffer, ids: upload(device, Uint32Array.from(ids)), wte: upload(device, wte), wpe: upload(device, wpe), X }, flatGrid(B * T * d))]));
      const want = new Float64Array(B * T * d);
      for (let r = 0; r < B * T; r++) for (let j = 0; j < d; j++) want[r * d + j] = wte[ids[r] * d + j] + (learned ? wpe[(pos0 + (r % T)) * d + j] : 0);
      expectMatches(await download(device, X, B * T * d), want, 'embedded rows');
    });
  }

  const acts = ['gelu_tanh', 'gelu_erf', 'relu', 'silu'] as const;
  for (const [code, act] of acts.entries()) {
    for (const gated of [false, true]) {
      it(`mlp activation ${act}${gated ? ', gated' : ''}`, async () => {
        const device = await getDevice();
        const [rows, dFf] = [5, 19];
        const width = gated ? 2 * dFf : dFf;
        const U = randomArray(rows * width, 11 + code, -12, 12);
        const H = poisoned(device, rows * dFf);
        const k = Kernel.get(device, 'mlp', 'activate', { ACT: code, GATED: gated });
        await noValidationErrors(device, () => run(device, [dispatch(k, { u: k.uniform('u', { rows, dFf }).buffer, U: upload(device, U), H }, flatGrid(rows * dFf))]));
        const want = new Float64Array(rows * dFf);
        for (let r = 0; r < rows; r++) {
          for (let j = 0; j < dFf; j++) want[r * dFf + j] = act64(act, U[r * width + j]) * (gated ? U[r * width + dFf + j] : 1);
        }
        expectMatches(await download(device, H, rows * dFf), want, act);
      });
    }
  }

  const attnCases = [
    { nHeads: 6, nKvHeads: 2, headDim: 10, rotary: true },
    { nHeads: 3, nKvHeads: 1, headDim: 6, rotary: true },
    { nHeads: 4, nKvHeads: 4, headDim: 5, rotary: false },
    // more (row, head) pairs than one workgroup of 64 invocations
    { nHeads: 8, nKvHeads: 2, headDim: 4, rotary: true },
  ];
  for (const a of attnCases) {
    it(`attention, ${a.nHeads} heads on ${a.nKvHeads} key/value heads of ${a.headDim}${a.rotary ? ', rotary' : ''}: prompt, then more positions from the cache`, async () => {
      const device = await getDevice();
      const invFreq = Array.from({ length: a.headDim / 2 }, (_, i) => Math.fround(1 / 500 ** ((2 * i) / a.headDim)));
      const c = config({ ...a, positions: a.rotary ? { kind: 'rotary', invFreq } : { kind: 'learned' } });
      const W = (a.nHeads + 2 * a.nKvHeads) * a.headDim;
      const [B, T1, T2, ctx] = [2, 5, 3, 9];
      const full = [0, 1].map((b) => randomArray((T1 + T2) * W, 40 + b, -2, 2));
      const table = rotaryTable(invFreq, ctx);
      const cosT = upload(device, table.cos);
      const sinT = upload(device, table.sin);
      const Kc = poisoned(device, B * a.nKvHeads * ctx * a.headDim);
      const Vc = poisoned(device, B * a.nKvHeads * ctx * a.headDim);
      const rk = Kernel.get(device, 'attention', 'rope_store', { ROTARY: a.rotary });
      const ak = Kernel.get(device, 'attention', 'attend');
      // two chunks: positions [0, T1) then [T1, T1 + T2) with T1 already cached
      for (const [pos0, T] of [[0, T1], [T1, T2]]) {
        const rows = B * T;
        const chunk = new Float32Array(rows * W);
        for (let b = 0; b < B; b++) chunk.set(full[b].subarray(pos0 * W, (pos0 + T) * W), b * T * W);
        const QKV = upload(device, chunk);
        const O = poisoned(device, rows * a.nHeads * a.headDim);
        const u = { rows, T, pos0, nH: a.nHeads, nKv: a.nKvHeads, hd: a.headDim, ctx, scale: 0.37 };
        await noValidationErrors(device, () => run(device, [
          dispatch(rk, { u: rk.uniform('u', u).buffer, QKV, cosT, sinT, Kc, Vc }, flatGrid(rows * (a.nHeads + a.nKvHeads))),
          dispatch(ak, { u: ak.uniform('u', u).buffer, Q: QKV, Kr: Kc, Vr: Vc, O }, flatGrid(rows * a.nHeads)),
        ]));
        const got = await download(device, O, rows * a.nHeads * a.headDim);
        const width = a.nHeads * a.headDim;
        for (let b = 0; b < B; b++) {
          const want = attention64(c, Float64Array.from(full[b]), T1 + T2, 0).subarray(pos0 * width, (pos0 + T) * width);
          expectMatches(got.subarray(b * T * width, (b + 1) * T * width), want, `sequence ${b}, positions ${pos0}…${pos0 + T - 1}`);
        }
      }
    });
  }

  it('residual: add, add_vector, copy and take_last', async () => {
    const device = await getDevice();
    const [rows, d, T] = [6, 7, 3];
    const X = randomArray(rows * d, 1);
    const Y = randomArray(rows * d, 2);
    const v = randomArray(d, 3);
    const k = (e: string) => Kernel.get(device, 'residual', e);
    const u = (e: string, n: number) => k(e).uniform('u', { rows: n, d, T }).buffer;
    const Xb = upload(device, X);
    const copyDst = poisoned(device, rows * d);
    const lastDst = poisoned(device, 2 * d);
    await noValidationErrors(device, () => run(device, [
      dispatch(k('add'), { u: u('add', rows), X: Xb, Y: upload(device, Y) }, flatGrid(rows * d)),
      dispatch(k('add_vector'), { u: u('add_vector', rows), X: Xb, v: upload(device, v) }, flatGrid(rows * d)),
      dispatch(k('copy'), { u: u('copy', rows), src: Xb, dst: copyDst }, flatGrid(rows * d)),
      dispatch(k('take_last'), { u: u('take_last', 2), src: Xb, dst: lastDst }, flatGrid(2 * d)),
    ]));
    const want = X.map((x, i) => x + Y[i] + v[i % d]);
    expectMatches(await download(device, copyDst, rows * d), want, 'X + Y + v');
    expectMatches(await download(device, lastDst, 2 * d), [...want.subarray((T - 1) * d, T * d), ...want.subarray((2 * T - 1) * d, 2 * T * d)], 'last rows');
  });
});
