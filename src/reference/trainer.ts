// The float64 reference trainer: one training step of each SAE variant, written plainly, for the GPU
// trainer to be tested against (docs/RECIPE.md §1–2, §7).
//   standard: xs = s·x → λ_t → loss, grads → global norm → clip factor → Adam (ε 1e-8, lr_t)
//   topk:     xs = s·x → dead mask → loss, grads (AuxK if any dead) → project W_dec rows' grads
//             → Adam (ε 6.25e-10, no clipping) → renormalise W_dec rows to 1
//   jumprelu: xs = s·x → dead mask → c_t → loss, grads of the weights and log θ → Adam on both (ε 1e-8,
//             no clipping; the gradient norm reported is the weights')
//   batchtopk: as topk with each row's cap of entries kept first, then the k·B largest over the batch; the
//             batch threshold's moving average follows
//   matryoshka: as batchtopk, each inner width's reconstruction adding its loss
//   all:      fire statistics of the batch (f > 0) → t += 1
import { ADAM_EPS, batchK, keepsK, type DataStats, type TrainConfig } from '../engine/config.ts';
import type { StepMetrics } from '../engine/run-state.ts';
import { l0Coefficient } from '../engine/schedule.ts';
import { rowSlots } from '../engine/steps/topk.ts';
import { adamUpdate, adamUpdateParams } from './adam.ts';
import { jumpReluStep } from './jumprelu.ts';
import { cloneParams64, globalNorm, toParams32, toParams64, zeroParams64, type Params32, type Params64 } from './params.ts';
import { fireCounts, standardForwardBackward, topkForwardBackward, type SaeResult, type TopkResult } from './sae.ts';
import { clipScale, deadSteps, l1At, lrAt } from './schedule.ts';

/** The engine's per-step metrics (the same columns, so the two trainers compare field by field), plus the schedule. */
export interface ReferenceStepMetrics extends StepMetrics {
  lr: number;
  /** λ_t (0 for topk) */
  l1: number;
}

/** Everything one step computed, for tests that compare a GPU step piece by piece. */
export interface ReferenceStepDetail {
  metrics: ReferenceStepMetrics;
  /** (B, d) the scaled batch */
  xs: Float64Array;
  /** (F) dead mask used by the step */
  dead: Uint8Array;
  /** forward/backward of the step (TopkResult for topk) */
  result: SaeResult | TopkResult;
  /** ∂L/∂θ straight from the loss (before projection and clipping) */
  rawGrads: Params64;
  /** the gradient handed to Adam before the clip factor (topk: W_dec projected; standard: = rawGrads) */
  grads: Params64;
  /** parameters before and after the step (after: Adam and, for topk, renormalisation) */
  before: Params64;
  after: Params64;
}

export class ReferenceTrainer {
  readonly params: Params64;
  /** Adam first moment */
  readonly m: Params64;
  /** Adam second moment */
  readonly v: Params64;
  /** steps done so far (the next step's 0-based index) */
  t = 0;
  /** (F) step index + 1 of the last step in which each feature fired; 0 = never */
  readonly lastFired: Int32Array;
  /** (F) number of rows in which each feature fired, over the whole run */
  readonly fireCount: Float64Array;
  readonly history: ReferenceStepMetrics[] = [];
  /** batchtopk: the moving average of the batch threshold (SAELens's topk_threshold) */
  batchTheta = 0;
  /** jumprelu: log θ (F) and its Adam moments */
  readonly logTheta: Float64Array;
  readonly thetaM: Float64Array;
  readonly thetaV: Float64Array;

  constructor(readonly cfg: TrainConfig, readonly stats: DataStats, init: Params32 | Params64) {
    const { d, features: F } = cfg;
    this.params = toParams64(init);
    if (this.params.W_enc.length !== d * F || this.params.b_enc.length !== F || this.params.W_dec.length !== F * d
      || this.params.b_dec.length !== d) {
      throw new Error(`initial parameters do not have the shapes of d = ${d}, F = ${F}`);
    }
    this.m = zeroParams64(d, F);
    this.v = zeroParams64(d, F);
    this.lastFired = new Int32Array(F);
    this.fireCount = new Float64Array(F);
    this.logTheta = new Float64Array(F).fill(Math.log(cfg.thresholdInit));
    this.thetaM = new Float64Array(F);
    this.thetaV = new Float64Array(F);
  }

  /** (F) 1 where a latent is dead at the start of the next step: t − lastFired_i ≥ deadSteps. */
  deadMask(): Uint8Array {
    const window = deadSteps(this.cfg);
    return Uint8Array.from(this.lastFired, (last) => (this.t - last >= window ? 1 : 0));
  }

  /** The parameters rounded to float32 (what a GPU trainer with the same history would hold, roughly). */
  params32(): Params32 {
    return toParams32(this.params);
  }

  /** One step on a batch of raw rows (B × d). */
  step(xRaw: Float32Array | Float64Array): ReferenceStepMetrics {
    return this.stepWithGrads(xRaw).metrics;
  }

  /** One step, returning everything it computed. */
  stepWithGrads(xRaw: Float32Array | Float64Array): ReferenceStepDetail {
    const { cfg, stats } = this;
    const { batch: B, d, features: F } = cfg;
    if (xRaw.length !== B * d) throw new Error(`batch has ${xRaw.length} values, expected ${B}×${d}`);
    const t = this.t;
    const xs = Float64Array.from(xRaw, (x) => stats.scale * x);
    const dead = this.deadMask();
    let deadCount = 0;
    for (const x of dead) deadCount += x;
    const before = cloneParams64(this.params);
    const lr = lrAt(cfg, t);

    let result: SaeResult | TopkResult;
    let grads: Params64;
    let scale = 1;
    let l1 = 0;
    if (cfg.arch === 'standard') {
      l1 = l1At(cfg, t);
      result = standardForwardBackward(this.params, xs, l1);
      grads = result.grads;
    } else if (cfg.arch === 'jumprelu') {
      l1 = l0Coefficient(cfg, t);
      const r = jumpReluStep(this.params, this.logTheta, xs, {
        mode: cfg.jumpMode, bandwidth: cfg.bandwidth, l0: l1, tanhScale: cfg.tanhScale, dead, center: false,
        ...(cfg.preAct > 0 ? { preAct: cfg.preAct } : {}),
      });
      const { log_threshold, ...weights } = r.grads;
      grads = weights;
      const l0 = r.f.reduce((n, v) => n + (v > 0 ? 1 : 0), 0) / B;
      result = { loss: r.total, recon: r.losses.mse_loss!, sparsity: r.total - r.losses.mse_loss!, l0, grads, pre: r.pre, f: r.f, xhat: r.xhat, h: r.h };
      adamUpdate(this.logTheta, log_threshold, this.thetaM, this.thetaV, { t, lr, eps: ADAM_EPS.jumprelu });
    } else {
      const batch = batchK(cfg.arch);
      const r = topkForwardBackward(this.params, xs, {
        k: rowSlots(cfg), kAux: cfg.kAux, alpha: cfg.auxAlpha, variance: stats.variance, dead, ...(batch ? { batch: cfg.k * B } : {}),
        ...(cfg.arch === 'matryoshka' ? { inner: cfg.widths.slice(0, -1) } : {}),
      });
      result = r;
      if (batch) {
        let least = Infinity;
        for (const v of r.f) if (v > 0 && v < least) least = v;
        if (least < Infinity) this.batchTheta = (1 - cfg.thresholdLr) * this.batchTheta + cfg.thresholdLr * least;
      }
      grads = cloneParams64(result.grads);
      projectRowGrads(grads.W_dec, this.params.W_dec, F, d);
    }
    const gradNorm = globalNorm(grads);
    if (cfg.arch === 'standard') scale = clipScale(gradNorm);

    adamUpdateParams(this.params, grads, this.m, this.v, { t, lr, eps: ADAM_EPS[cfg.arch], gradScale: scale });
    if (keepsK(cfg.arch)) normaliseRows(this.params.W_dec, F, d);

    const counts = fireCounts(result.f, B, F);
    for (let i = 0; i < F; i++) {
      if (counts[i]! > 0) this.lastFired[i] = t + 1;
      this.fireCount[i]! += counts[i]!;
    }
    this.t = t + 1;

    const metrics: ReferenceStepMetrics = {
      step: t, loss: result.loss, recon: result.recon, sparsity: result.sparsity, l0: result.l0,
      gradNorm, dead: deadCount, clipScale: scale, lr, l1,
    };
    this.history.push(metrics);
    return { metrics, xs, dead, result, rawGrads: result.grads, grads, before, after: cloneParams64(this.params) };
  }
}

/** g_i ← g_i − (g_i·w_i) w_i for each (F, d) row: removes the gradient's component along unit rows w_i. */
export function projectRowGrads(gW_dec: Float64Array, W_dec: Float64Array, F: number, d: number): void {
  for (let i = 0; i < F; i++) {
    let dot = 0;
    for (let j = 0; j < d; j++) dot += gW_dec[i * d + j]! * W_dec[i * d + j]!;
    for (let j = 0; j < d; j++) gW_dec[i * d + j]! -= dot * W_dec[i * d + j]!;
  }
}

/** Each (F, d) row scaled to norm 1 (a zero row is left as it is). */
export function normaliseRows(W: Float64Array, F: number, d: number): void {
  for (let i = 0; i < F; i++) {
    let sq = 0;
    for (let j = 0; j < d; j++) sq += W[i * d + j]! ** 2;
    if (sq === 0) continue;
    const inv = 1 / Math.sqrt(sq);
    for (let j = 0; j < d; j++) W[i * d + j]! *= inv;
  }
}
