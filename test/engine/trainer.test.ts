// The GPU trainer against the float64 reference trainer, on odd shapes (d=37, F=101, B=19) and on widths
// divisible by 4 (d=36, F=100), which run the vec8x8 and vec4x8 GEMMs, and again with the tiled GEMMs the tuner
// may pick.
// - one step from identical state: every kernel's output (read from its buffer, poisoned with NaN before
//   the step), every gradient and the Adam update within 1e-4 relative error;
// - 50-step runs from the same initialisation on the same batches: loss curves within 1e-3 relative;
// - snapshot/restore continues bit for bit, and two runs are bit-identical (no float atomics).
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, type DataStats, type TrainConfig } from '../../src/engine/config.ts';
import { initParams } from '../../src/engine/init.ts';
import { PARAM_NAMES } from '../../src/engine/layout.ts';
import { Trainer } from '../../src/engine/trainer.ts';
import type { Params32 } from '../../src/engine/run-state.ts';
import type { GemmChoices } from '../../src/engine/tuner.ts';
import { toParams64 } from '../../src/reference/params.ts';
import { rowNorms, type TopkResult } from '../../src/reference/sae.ts';
import { ReferenceTrainer } from '../../src/reference/trainer.ts';
import { statsOf, toyData } from '../reference/helpers.ts';
import { expectClose, getDevice, noValidationErrors } from '../support/gpu.ts';
import { readFeatures } from '../support/features.ts';

// Every GEMM variant: odd widths run the scalar kernels by default, widths divisible by 4 vec8x8 (neither
// operand transposed: the encoder and decoder) and vec4x8 (the rest);
// the third shape runs tiled GEMMs of both sizes, as a tuner's choice would.
const TILED: GemmChoices = { encode: 'tiled64', decode: 'tiled32', backprop: 'tiled64', gradDec: 'tiled32', gradEnc: 'tiled64' };
// TopK's k and k_aux: 6 and 9 take the one-entry-per-invocation h; multiples of 4 with d % 4 == 0 take h_quads.
// The last two split their dictionaries into feature shards of 64 (engine/shards.ts): 64 + 64 + 22 and
// 64 + 64 + 64 + 8 features.
const SHAPES: readonly { d: number; F: number; gemm: string; gemms?: GemmChoices; k?: number; kAux?: number; perShard?: number }[] = [
  { d: 37, F: 101, gemm: 'scalar' },
  { d: 36, F: 100, gemm: 'vec8x8/vec4x8' },
  { d: 36, F: 100, gemm: 'vec8x8/vec4x8', k: 8, kAux: 12 },
  { d: 37, F: 101, gemm: 'tiled', gemms: TILED },
  { d: 37, F: 150, gemm: 'scalar', perShard: 64 },
  { d: 36, F: 200, gemm: 'vec8x8/vec4x8', k: 8, kAux: 12, perShard: 64 },
];
let d: number = SHAPES[0].d;
let F: number = SHAPES[0].F;
let topkSizes = { k: 6, kAux: 9 };
const B = 19;
const TOL_STEP = 1e-4;
const TOL_CURVE = 1e-3;

// The one-step test draws fresh data every run (its seed is in the test name, to replay: SAE_TEST_SEED=n).
const FRESH_SEED = Number(process.env.SAE_TEST_SEED ?? Math.floor(Math.random() * 1e6));

function setup(arch: 'standard' | 'topk', steps: number, dataSeed = 5): { cfg: TrainConfig; stats: DataStats; data: Float32Array; batch: (t: number) => Float32Array } {
  // A small dead window (3 steps) so that AuxK runs within a few steps.
  const cfg = defaultConfig({ arch, d, features: F, batch: B, steps, lr: 3e-3, l1: 2, ...topkSizes, deadWindowTokens: 3 * B, seed: dataSeed + 2 });
  const data = toyData(B * 64, d, 3 * d, dataSeed);
  const stats = statsOf(data, d);
  const batch = (t: number) => data.subarray(((t * B) % (B * 64)), ((t * B) % (B * 64)) + B * d);
  return { cfg, stats, data, batch };
}

const f32 = (buf: ArrayBuffer) => new Float32Array(buf);
const u32 = (buf: ArrayBuffer) => new Uint32Array(buf);

/** Bring the reference to the GPU trainer's exact state (float32 values are exact in float64). */
async function syncReference(ref: ReferenceTrainer, gpu: Trainer): Promise<void> {
  const p = await gpu.readParams();
  const { m, v } = await gpu.readAdam();
  const { lastFired, fireCount } = await gpu.readFireStats();
  for (const name of PARAM_NAMES) {
    ref.params[name].set(p[name]);
    ref.m[name].set(m[name]);
    ref.v[name].set(v[name]);
  }
  ref.lastFired.set(lastFired);
  ref.fireCount.set(fireCount);
  ref.t = gpu.stepCount;
}

function expectParams(gpu: Params32, ref: Record<string, Float64Array>, tol: number, what: string): void {
  for (const name of PARAM_NAMES) expectClose(gpu[name], ref[name]!, tol, `${what} ${name}`);
}

/** Parameter change of one step, per tensor. */
function delta(after: Params32 | Record<string, Float64Array>, before: Params32 | Record<string, Float64Array>): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  for (const name of PARAM_NAMES) out[name] = Float64Array.from(after[name as 'W_enc'], (a, i) => a - before[name as 'W_enc'][i]!);
  return out;
}

/** Poison every scratch buffer a step writes (not the state it carries: params, moments, fire stats). */
function poisonScratch(t: Trainer): void {
  const state = new Set(['params', 'grads', 'adamM', 'adamV', 'lastFired', 'fireCount', 'X', 'counts', 'cursor', 'ring']);
  // a feature shard's buffers are named like the first shard's, with '#s'
  for (const name of t.internalBuffers) if (!state.has(name.split('#')[0]!)) t.fillInternal(name, NaN);
  // The gradient buffers' padding between tensors is never written; only the tensors are poisoned.
  t.layouts.forEach((lay, s) => {
    const grads = s === 0 ? 'grads' : `grads#${s}`;
    for (const name of PARAM_NAMES) if (lay[name].length) t.fillInternal(grads, NaN, lay[name].offset, lay[name].length);
    const end = Math.max(...PARAM_NAMES.map((name) => lay[name].offset + lay[name].length));
    t.fillInternal(grads, 0, end);
  });
}


for (const shape of SHAPES) {
describe(`d=${shape.d}, F=${shape.F} (${shape.gemm} GEMMs${shape.k ? `, k=${shape.k}, k_aux=${shape.kAux}` : ''}${shape.perShard ? `, shards of ${shape.perShard}` : ''})`, () => {
  beforeAll(() => {
    d = shape.d;
    F = shape.F;
    topkSizes = { k: shape.k ?? 6, kAux: shape.kAux ?? 9 };
  });

  describe('one step against the reference (identical state, poisoned scratch)', () => {
    for (const arch of ['standard', 'topk'] as const) {
      it(`${arch} (data seed ${FRESH_SEED})`, async () => {
        const device = await getDevice();
        const { cfg, stats, batch } = setup(arch, 40, FRESH_SEED);
        const gpu = Trainer.create(device, cfg, stats, initParams(cfg, stats), { gemms: shape.gemms, featuresPerShard: shape.perShard });
        const ref = new ReferenceTrainer(cfg, stats, initParams(cfg, stats));
        const before = await noValidationErrors(device, async () => {
          for (let t = 0; t < 5; t++) await gpu.step(batch(t)); // past the dead window: AuxK is live
          await syncReference(ref, gpu);
          const start = await gpu.readParams();
          poisonScratch(gpu);
          await gpu.step(batch(5));
          return start;
        });
        const r = ref.stepWithGrads(batch(5));
        const res = r.result;
        const read = async (name: string) => f32(await gpu.readInternal(name));
        expectClose((await read('Xs')).subarray(0, B * d), r.xs, TOL_STEP, 'scaled input');
        expectClose((await read('Xhat')).subarray(0, B * d), res.xhat, TOL_STEP, 'reconstruction');
        expect(Array.from((await read('rowl0')).subarray(0, B)), 'l0 per row').toEqual(Array.from(rowSums(res.f, (x) => (x > 0 ? 1 : 0))));
        const deadGpu = u32(await gpu.readInternal('dead')).subarray(0, F);
        expect(Array.from(deadGpu)).toEqual(Array.from(r.dead));

        if (arch === 'standard') {
          expect(gpu.shards.length).toBe(shape.perShard ? Math.ceil(F / shape.perShard) : 1);
          expectClose(await readFeatures(gpu, 'f'), res.f, TOL_STEP, 'features f');
          expectClose((await read('norms')).subarray(0, F), rowNorms(r.before.W_dec, F, d), TOL_STEP, 'decoder norms');
          expectClose(await readFeatures(gpu, 'dF'), res.h, TOL_STEP, '∂L/∂pre');
          expectClose((await read('fsum')).subarray(0, F), colSums(res.f, B, F), TOL_STEP, 'Σ_b f');
        } else {
          const tk = res as TopkResult;
          expect(tk.auxActive).toBe(true);
          expect(tk.deadCount).toBeGreaterThan(0);
          expectClose((await read('Xc')).subarray(0, B * d), tk.xc, TOL_STEP, 'centred input');
          expectClose(await readFeatures(gpu, 'pre'), tk.pre, TOL_STEP, 'pre-activations');
          // each row's S slots: its TopK picks, then its AuxK picks
          const S = cfg.k + cfg.kAux;
          const picks = u32(await gpu.readInternal('picks')).subarray(0, B * S);
          const pvals = await read('pvals');
          for (let b = 0; b < B; b++) {
            expect(Array.from(picks.subarray(b * S, b * S + cfg.k)), `TopK picks of row ${b}`).toEqual(Array.from(tk.kept.subarray(b * cfg.k, (b + 1) * cfg.k)));
            for (let r2 = 0; r2 < cfg.kAux; r2++) {
              const want = r2 < tk.ka ? tk.auxKept[b * tk.ka + r2] : 0xffffffff;
              expect(picks[b * S + cfg.k + r2], `AuxK pick ${b},${r2}`).toBe(want);
            }
          }
          expectClose((await read('Ehat')).subarray(0, B * d), tk.ehat, TOL_STEP, 'ê');
          const st = await read('stats');
          expect(st[2]! / tk.ve - 1).toBeLessThan(TOL_STEP);
          expect(st[4]).toBe(tk.deadCount);
          // h per entry, summed per (row, feature), is the reference's dense ∂L/∂pre.
          const h = await read('h');
          const dense = new Float64Array(B * F);
          for (let e = 0; e < B * S; e++) {
            const i = picks[e]!;
            if (i !== 0xffffffff && pvals[e]! > 0) dense[Math.floor(e / S) * F + i]! += h[e]!;
          }
          expectClose(dense, tk.h, TOL_STEP, '∂L/∂pre from the entries');
          // entries are grouped by feature, each group in ascending entry order
          const offsets = u32(await gpu.readInternal('offsets')).subarray(0, F + 1);
          const lists = u32(await gpu.readInternal('lists'));
          for (let i = 0; i < F; i++) {
            for (let p = offsets[i]!; p < offsets[i + 1]!; p++) {
              const e = lists[p]!;
              expect(picks[e]).toBe(i);
              if (p > offsets[i]!) expect(lists[p - 1]!).toBeLessThan(e);
            }
          }
        }
        expectClose((await read('G')).subarray(0, B * d), Float64Array.from(res.xhat, (x, i) => (x - r.xs[i]!) * (arch === 'topk' ? 2 / (B * stats.variance) : 2 / B)), TOL_STEP, 'G');
        const grads = await gpu.readGrads();
        expectParams(grads, r.grads as unknown as Record<string, Float64Array>, TOL_STEP, 'gradient');
        const st = await read('stats');
        expect(Math.abs(st[0]! / r.metrics.gradNorm - 1), 'gradient norm').toBeLessThan(TOL_STEP);
        expect(Math.abs(st[1]! / r.metrics.clipScale - 1), 'clip factor').toBeLessThan(TOL_STEP);
        const after = await gpu.readParams();
        expectParams(after, r.after as unknown as Record<string, Float64Array>, TOL_STEP, 'parameters after');
        const upd = delta(after, before);
        const refUpd = delta(r.after as unknown as Record<string, Float64Array>, toParams64(before) as unknown as Record<string, Float64Array>);
        for (const name of PARAM_NAMES) expectClose(upd[name]!, refUpd[name]!, TOL_STEP, `update of ${name}`);
        const { m, v } = await gpu.readAdam();
        expectParams(m, ref.m as unknown as Record<string, Float64Array>, TOL_STEP, 'Adam m');
        expectParams(v, ref.v as unknown as Record<string, Float64Array>, TOL_STEP, 'Adam v');
        const fire = await gpu.readFireStats();
        expect(Array.from(fire.lastFired)).toEqual(Array.from(ref.lastFired));
        expect(Array.from(fire.fireCount)).toEqual(Array.from(ref.fireCount));
        const hist = await gpu.flushMetrics();
        const last = hist[hist.length - 1]!;
        expect(last.step).toBe(5);
        expect(Math.abs(last.loss / r.metrics.loss - 1), 'loss').toBeLessThan(TOL_STEP);
        expect(Math.abs(last.l0 / r.metrics.l0 - 1)).toBeLessThan(1e-6);
        expect(last.dead).toBe(r.metrics.dead);
        gpu.destroy();
      });
    }
  });

  describe('50-step runs against the reference trainer', () => {
    for (const arch of ['standard', 'topk'] as const) {
      it(`${arch}: loss curves within ${TOL_CURVE} relative`, async () => {
        const device = await getDevice();
        const steps = 50;
        const { cfg, stats, batch } = setup(arch, steps);
        const gpu = Trainer.create(device, cfg, stats, initParams(cfg, stats), { metricsEvery: 16, gemms: shape.gemms, featuresPerShard: shape.perShard });
        const ref = new ReferenceTrainer(cfg, stats, initParams(cfg, stats));
        for (let t = 0; t < steps; t++) {
          await gpu.step(batch(t));
          ref.step(batch(t));
        }
        const hist = await gpu.flushMetrics();
        expect(hist.map((h) => h.step)).toEqual([...Array(steps).keys()]);
        let worst = 0;
        for (let t = 0; t < steps; t++) worst = Math.max(worst, Math.abs(hist[t]!.loss / ref.history[t]!.loss - 1));
        expect(worst).toBeLessThan(TOL_CURVE);
        // AuxK was exercised (learning itself is checked on ground-truth data, over more steps)
        if (arch === 'topk') expect(ref.history.some((h) => h.sparsity > 0)).toBe(true);
        gpu.destroy();
      });
    }
  });

  describe('determinism and resume', () => {
    for (const arch of ['standard', 'topk'] as const) {
      it(`${arch}: a restored snapshot continues bit for bit; two runs are identical`, async () => {
        const device = await getDevice();
        const { cfg, stats, batch } = setup(arch, 12);
        // a metrics ring of 4 slots: the restore at step 5 makes the ring's reads wrap around its end
        const options = { metricsEvery: 4, gemms: shape.gemms, featuresPerShard: shape.perShard };
        const run = async (from?: Trainer) => {
          const t = from ?? Trainer.create(device, cfg, stats, initParams(cfg, stats), options);
          while (t.stepCount < 12) await t.step(batch(t.stepCount));
          const p = await t.readParams();
          const history = await t.flushMetrics();
          const snap = await t.snapshot();
          t.destroy();
          return { p, snap, history };
        };
        const a = await run();
        const b = await run();
        const half = Trainer.create(device, cfg, stats, initParams(cfg, stats), options);
        for (let t = 0; t < 5; t++) await half.step(batch(t));
        const snap = await half.snapshot();
        half.destroy();
        const c = await run(Trainer.restore(device, structuredClone(snap), options));
        // every step after the restore reports its own metrics, the same bits as the uninterrupted run's
        expect(c.history.map((h) => h.step)).toEqual([5, 6, 7, 8, 9, 10, 11]);
        expect(c.history.map((h) => h.loss)).toEqual(a.history.slice(5).map((h) => h.loss));
        expect(c.history.every((h) => h.loss > 0)).toBe(true);
        for (const name of PARAM_NAMES) {
          expect(bits(b.p[name]), `rerun ${name}`).toEqual(bits(a.p[name]));
          expect(bits(c.p[name]), `resumed ${name}`).toEqual(bits(a.p[name]));
        }
        expect(bits(c.snap.adamV)).toEqual(bits(a.snap.adamV));
        expect(Array.from(c.snap.lastFired)).toEqual(Array.from(a.snap.lastFired));
        expect(c.snap.step).toBe(12);
      });
    }

    it('profileStep times every dispatch and trains the same step as trainStep, bit for bit', async () => {
      const device = await getDevice();
      const { cfg, stats, batch } = setup('topk', 6);
      const init = initParams(cfg, stats);
      const a = Trainer.create(device, cfg, stats, init, { gemms: shape.gemms, featuresPerShard: shape.perShard });
      const b = Trainer.create(device, cfg, stats, init, { gemms: shape.gemms, featuresPerShard: shape.perShard });
      for (let t = 0; t < 3; t++) a.trainStep(batch(t));
      for (let t = 0; t < 2; t++) b.trainStep(batch(t));
      const times = await b.profileStep(batch(2));
      expect(times.length).toBeGreaterThan(10);
      expect(times.every((t) => t.kernel.length > 0 && t.ms >= 0)).toBe(true);
      expect(b.stepCount).toBe(3);
      const [pa, pb] = [await a.readParams(), await b.readParams()];
      for (const name of PARAM_NAMES) expect(bits(pb[name]), name).toEqual(bits(pa[name]));
      expect((await b.flushMetrics()).map((m) => m.loss)).toEqual((await a.flushMetrics()).map((m) => m.loss));
      a.destroy();
      b.destroy();
    });

    if (shape.perShard) {
      it('refuses a snapshot whose feature shards are not a split the trainer makes', async () => {
        const device = await getDevice();
        const { cfg, stats } = setup('standard', 4);
        const t = Trainer.create(device, cfg, stats, initParams(cfg, stats), { featuresPerShard: shape.perShard });
        const snap = await t.snapshot();
        t.destroy();
        expect(snap.shards!.length).toBeGreaterThan(1);
        expect(() => Trainer.restore(device, { ...snap, shards: [...snap.shards!].reverse() })).toThrow(/must all hold/);
      });
    }

    it('refuses a snapshot made with other kernels', async () => {
      const device = await getDevice();
      const { cfg, stats } = setup('standard', 4);
      const t = Trainer.create(device, cfg, stats, initParams(cfg, stats));
      const snap = await t.snapshot();
      t.destroy();
      expect(() => Trainer.restore(device, { ...snap, kernels: { matmul: { encode: 'other' as 'vec4' } } })).toThrow(/kernel matmul=other for encode/);
    });

    it('records each GEMM\'s variant in the snapshot, and reads the single variant of older snapshots', async () => {
      const device = await getDevice();
      const { cfg, stats } = setup('standard', 4);
      const t = Trainer.create(device, cfg, stats, initParams(cfg, stats), { gemms: shape.gemms, featuresPerShard: shape.perShard });
      const snap = await t.snapshot();
      t.destroy();
      expect(Object.keys(snap.kernels.matmul).sort()).toEqual(['backprop', 'decode', 'encode', 'gradDec', 'gradEnc']);
      if (shape.gemms) expect(snap.kernels.matmul).toEqual(shape.gemms);
      const restored = Trainer.restore(device, structuredClone(snap));
      expect(restored.variants).toEqual(snap.kernels);
      restored.destroy();
      const old = Trainer.restore(device, { ...snap, kernels: { matmul: 'scalar' } } as unknown as typeof snap);
      expect(Object.values(old.variants.matmul)).toEqual(['scalar', 'scalar', 'scalar', 'scalar', 'scalar']);
      old.destroy();
    });
  });
});
}

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

function rowSums(a: Float64Array, fn: (x: number) => number): Float64Array {
  const out = new Float64Array(B);
  for (let b = 0; b < B; b++) for (let i = 0; i < F; i++) out[b]! += fn(a[b * F + i]!);
  return out;
}

function colSums(a: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c]! += a[r * cols + c]!;
  return out;
}
