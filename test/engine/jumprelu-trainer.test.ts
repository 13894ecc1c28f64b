// The GPU trainer's JumpReLU step against the float64 reference trainer (src/reference/jumprelu.ts, itself
// held to SAELens's autograd in test/reference/saelens-train.test.ts), on an odd shape and on a dictionary
// split into feature shards, for both sparsity penalties:
// - one step from identical state (log thresholds and their Adam moments included), scratch poisoned with
//   NaN: pre-activations, features, reconstruction, ∂L/∂pre, ∂L/∂log θ, every gradient and update within 1e-4;
// - 50-step runs on the same batches: loss curves within 1e-3 relative; the thresholds move;
// - a restored snapshot continues bit for bit, and the exported SAE is the reference's, as SAELens saves JumpReLU.
import { describe, expect, it } from 'vitest';
import { defaultConfig, type JumpMode, type TrainConfig } from '../../src/engine/config.ts';
import { initParams } from '../../src/engine/init.ts';
import { PARAM_NAMES } from '../../src/engine/layout.ts';
import { Trainer } from '../../src/engine/trainer.ts';
import { ReferenceTrainer } from '../../src/reference/trainer.ts';
import { saeActivations64 } from '../../src/reference/sae-forward.ts';
import { statsOf, toyData } from '../reference/helpers.ts';
import { expectClose, getDevice, noValidationErrors } from '../support/gpu.ts';
import { readFeatures } from '../support/features.ts';

const B = 19;
const TOL_STEP = 1e-4;
const TOL_CURVE = 1e-3;
const FRESH_SEED = Number(process.env.SAE_TEST_SEED ?? Math.floor(Math.random() * 1e6));
const SHAPES = [
  { d: 37, F: 101 },
  { d: 36, F: 150, perShard: 64 },
];
const MODES: { mode: JumpMode; preAct: number }[] = [
  { mode: 'step', preAct: 0 },
  { mode: 'tanh', preAct: 0.5 },
];

function setup(shape: { d: number; F: number }, m: (typeof MODES)[number], steps: number, seed = 5) {
  const { d, F } = shape;
  // a wide bandwidth and a short dead window, so that the estimators and the pre-activation loss act within a few steps
  const cfg: TrainConfig = defaultConfig({
    arch: 'jumprelu', d, features: F, batch: B, steps, lr: 3e-3, l0: 0.5, jumpMode: m.mode, preAct: m.preAct,
    bandwidth: 0.5, thresholdInit: 0.2, deadWindowTokens: 3 * B, seed: seed + 2,
  });
  const data = toyData(B * 64, d, 3 * d, seed);
  const stats = statsOf(data, d);
  const batch = (t: number) => data.subarray((t * B) % (B * 64), ((t * B) % (B * 64)) + B * d);
  return { cfg, stats, batch };
}

const f32 = (buf: ArrayBuffer) => new Float32Array(buf);


for (const shape of SHAPES) {
  describe(`JumpReLU, d=${shape.d}, F=${shape.F}${shape.perShard ? `, shards of ${shape.perShard}` : ''}`, () => {
    for (const m of MODES) {
      const name = `${m.mode}${m.preAct ? ', pre-activation loss' : ''}`;
      it(`one step against the reference (${name}; data seed ${FRESH_SEED})`, async () => {
        const device = await getDevice();
        const { cfg, stats, batch } = setup(shape, m, 40, FRESH_SEED);
        const F = cfg.features;
        const gpu = Trainer.create(device, cfg, stats, initParams(cfg, stats), { featuresPerShard: shape.perShard });
        const ref = new ReferenceTrainer(cfg, stats, initParams(cfg, stats));
        await noValidationErrors(device, async () => {
          for (let t = 0; t < 5; t++) await gpu.step(batch(t)); // past the dead window
          const p = await gpu.readParams();
          const { m: am, v: av } = await gpu.readAdam();
          for (const n of PARAM_NAMES) (ref.params[n].set(p[n]), ref.m[n].set(am[n]), ref.v[n].set(av[n]));
          const st = await gpu.readState();
          ref.logTheta.set(st.theta!.subarray(0, F));
          ref.thetaM.set(st.thetaM!.subarray(0, F));
          ref.thetaV.set(st.thetaV!.subarray(0, F));
          const fire = await gpu.readFireStats();
          ref.lastFired.set(fire.lastFired);
          ref.fireCount.set(fire.fireCount);
          ref.t = gpu.stepCount;
          const keep = new Set(['params', 'grads', 'adamM', 'adamV', 'lastFired', 'fireCount', 'X', 'ring', 'theta', 'thetaM', 'thetaV']);
          for (const n of gpu.internalBuffers) if (!keep.has(n.split('#')[0]!)) gpu.fillInternal(n, NaN);
          await gpu.step(batch(5));
        });
        const r = ref.stepWithGrads(batch(5));
        const res = r.result;
        if (m.preAct) expect(r.dead.some((v) => v), 'dead latents for the pre-activation loss').toBe(true);
        const read = async (n: string) => f32(await gpu.readInternal(n));
        expectClose(await readFeatures(gpu, 'pre'), res.pre, TOL_STEP, 'pre');
        expectClose(await readFeatures(gpu, 'f'), res.f, TOL_STEP, 'f');
        expect(res.f.some((v) => v > 0) && res.f.some((v, k) => v === 0 && res.pre[k]! > 0), 'some features under their threshold').toBe(true);
        expectClose((await read('Xhat')).subarray(0, B * cfg.d), res.xhat, TOL_STEP, 'x̂');
        expectClose(await readFeatures(gpu, 'dF'), res.h, TOL_STEP, '∂L/∂pre');
        const grads = await gpu.readGrads();
        for (const n of PARAM_NAMES) expectClose(grads[n], r.grads[n], TOL_STEP, `∂${n}`);
        const after = await gpu.readParams();
        for (const n of PARAM_NAMES) expectClose(after[n], r.after[n], TOL_STEP, `${n} after`);
        const st = await gpu.readState();
        expectClose(st.theta!.subarray(0, F), ref.logTheta, TOL_STEP, 'log θ after');
        const hist = await gpu.flushMetrics();
        const last = hist[hist.length - 1]!;
        expect(Math.abs(last.loss / r.metrics.loss - 1), 'loss').toBeLessThan(TOL_STEP);
        expect(Math.abs(last.sparsity / r.metrics.sparsity - 1), 'penalty').toBeLessThan(TOL_STEP);
        expect(Math.abs(last.l0 / r.metrics.l0 - 1)).toBeLessThan(1e-6);
        gpu.destroy();
      });

      it(`50-step run against the reference trainer (${name})`, async () => {
        const device = await getDevice();
        const steps = 50;
        const { cfg, stats, batch } = setup(shape, m, steps);
        const gpu = Trainer.create(device, cfg, stats, initParams(cfg, stats), { metricsEvery: 16, featuresPerShard: shape.perShard });
        const ref = new ReferenceTrainer(cfg, stats, initParams(cfg, stats));
        for (let t = 0; t < steps; t++) {
          await gpu.step(batch(t));
          ref.step(batch(t));
        }
        const hist = await gpu.flushMetrics();
        let worst = 0;
        for (let t = 0; t < steps; t++) worst = Math.max(worst, Math.abs(hist[t]!.loss / ref.history[t]!.loss - 1));
        expect(worst).toBeLessThan(TOL_CURVE);
        expect(hist[steps - 1]!.recon, "the reconstruction improves").toBeLessThan(hist[0]!.recon);
        const theta = (await gpu.readState()).theta!.subarray(0, cfg.features);
        expect(theta.some((v) => Math.abs(v - Math.log(cfg.thresholdInit)) > 1e-3), 'the thresholds learn').toBe(true);
        gpu.destroy();
      });
    }

    it('a restored snapshot continues bit for bit; the exported SAE is a JumpReLU SAE in raw units', async () => {
      const device = await getDevice();
      const { cfg, stats, batch } = setup(shape, MODES[1]!, 12);
      const options = { metricsEvery: 4, featuresPerShard: shape.perShard };
      const full = Trainer.create(device, cfg, stats, initParams(cfg, stats), options);
      for (let t = 0; t < 12; t++) await full.step(batch(t));
      const half = Trainer.create(device, cfg, stats, initParams(cfg, stats), options);
      for (let t = 0; t < 5; t++) await half.step(batch(t));
      const snap = await half.snapshot();
      half.destroy();
      expect(Object.keys(snap.state ?? {}).sort()).toEqual(['theta', 'thetaM', 'thetaV']);
      const resumed = Trainer.restore(device, snap, options);
      while (resumed.stepCount < 12) await resumed.step(batch(resumed.stepCount));
      const [a, b] = [await full.readParams(), await resumed.readParams()];
      for (const n of PARAM_NAMES) expect(Array.from(b[n]), n).toEqual(Array.from(a[n]));
      expect(Array.from((await resumed.readState()).theta!)).toEqual(Array.from((await full.readState()).theta!));
      const sae = await full.exportSae();
      expect([sae.arch, sae.applyBDecToInput, sae.threshold!.length]).toEqual(['jumprelu', false, cfg.features]);
      // the folded SAE on raw rows computes what the trainer computes on scaled rows
      const x = batch(3);
      const xs = x.map((v) => v * stats.scale);
      const p = await full.readParams();
      const theta = (await full.readState()).theta!;
      const pre = new Float64Array(B * cfg.features);
      for (let r = 0; r < B; r++) for (let i = 0; i < cfg.features; i++) {
        let s = p.b_enc[i]!;
        for (let j = 0; j < cfg.d; j++) s += xs[r * cfg.d + j]! * p.W_enc[j * cfg.features + i]!;
        pre[r * cfg.features + i] = s > Math.exp(theta[i]!) ? s : 0;
      }
      expectClose(Float32Array.from(saeActivations64(sae, x)), pre, 1e-4, 'folded activations');
      full.destroy();
      resumed.destroy();
    });
  });
}
