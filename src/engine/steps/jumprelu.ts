// The JumpReLU SAE's part of a step (docs/RECIPE.md §7): pre = x'W_enc + b_enc, f = pre·1[pre > θ] with a learned
// θ = exp(logθ) per feature, x̂' = fW_dec + b_dec; L = (1/B)Σ‖x̂' − x'‖² + c_t·penalty (the step function's L0 or
// the tanh penalty) + the pre-activation loss on dead latents. The thresholds learn through the
// straight-through estimators (shaders/jumprelu.wgsl) with Adam of their own; unclipped, W_dec's rows free.
import { Kernel, dispatch, flatGrid } from '../kernel.ts';
import { l0Coefficient } from '../schedule.ts';
import type { ArchStep } from './context.ts';
import { denseGemms, fireDense, rowNorms } from './standard.ts';

/** the threshold buffers hold whole vec4s for Adam */
const padded = (F: number) => Math.ceil(F / 4) * 4;

export const jumpreluStep: ArchStep = {
  label: 'JumpReLU',
  fields: ['l0', 'jumpMode'],
  flops: (cfg) => 10 * cfg.batch * cfg.d * cfg.features, // encode, decode; ∂f, ∂W_dec, ∂W_enc: 2·B·d·F each
  center: false,
  clip: 0,
  residualCoef: (cfg) => 2 / cfg.batch,
  // the rows' penalty terms carry their coefficients (the pre-activation loss is not warmed up)
  lossTerms: () => ({ sparse: 0, lam: 1 }),
  gemms: denseGemms(false),
  buffers: (cfg) => {
    const { batch: B, d, features: F } = cfg;
    const F4 = padded(F);
    return {
      perShard: (Fs) => ({ pre: ['pre (B, F)', B * Fs], f: ['f (B, F)', B * Fs], dF: ['dF (B, F) ∂L/∂pre', B * Fs] }),
      shared: {
        G: ['G (B, d) ∂L/∂x̂', B * d],
        norms: ['norms (F)', F],
        dnorm: ['dnorm (F) ∂L/∂‖W_dec,i‖', F],
        theta: ['log θ (F)', F4],
        gTheta: ['∂L/∂log θ (F)', F4],
        thetaM: ['log θ: Adam m', F4],
        thetaV: ['log θ: Adam v', F4],
      },
    };
  },
  memory: (cfg, Fs, shards) => ({
    [`pre-activations, features and their gradients (B×${Fs} each)`]: [cfg.batch * Fs * 4, 3 * shards],
    'thresholds, their gradients and Adam moments (F)': [padded(cfg.features) * 4, 4],
    'batch rows (B×d)': [cfg.batch * cfg.d * 4, 6],
  }),
  state: {
    names: ['theta', 'thetaM', 'thetaV'],
    init: (cfg) => ({ theta: new Float32Array(padded(cfg.features)).fill(Math.log(cfg.thresholdInit), 0, cfg.features) }),
  },

  record(ctx) {
    const { device, cfg, views, b, list, writers, b_dec, gb_dec, matmul, colsum } = ctx;
    const { d, batch: B } = cfg;
    const constants = { MODE_TANH: cfg.jumpMode === 'tanh', PRE_ACT: cfg.preAct > 0 };
    const k = (entry: string) => Kernel.get(device, 'jumprelu', entry, constants);
    const jts = views.map((v) => {
      const values = (step: number) => ({
        B, F: v.F, c_B: l0Coefficient(cfg, step) / B, eps: cfg.bandwidth, s: cfg.tanhScale, a_B: cfg.preAct / B, acc: v.s > 0 ? 1 : 0,
      });
      const u = k('train_forward').uniform('jt', values(0));
      writers.push((step) => u.write(values(step)));
      return u.buffer;
    });
    const common = (v: (typeof views)[number]) => ({
      jt: jts[v.s]!, log_theta: v.feat('theta'), pre: v.acts('pre'), f_in: v.acts('f'), norms: v.feat('norms'), dead: v.feat('dead'),
    });
    rowNorms(ctx);
    for (const v of views) matmul('encode', B, v.F, d, b.Xs!, v.W_enc, v.acts('pre'), { bias: v.b_enc });
    for (const v of views) {
      list.push(dispatch(k('train_forward'), { jt: jts[v.s]!, log_theta: v.feat('theta'), pre: v.acts('pre'), f: v.acts('f') }, flatGrid(B * v.F)));
    }
    for (const v of views) matmul('decode', B, d, v.F, v.acts('f'), v.W_dec, b.Xhat!, v.s === 0 ? { bias: b_dec } : { accumulate: true });
    ctx.residual();
    ctx.deadMask();
    for (const v of views) list.push(dispatch(k('train_rows'), { ...common(v), rowl0: b.rowl0!, rowterm: b.rowterm! }, flatGrid(B)));
    // Backward: the decoder's ∂L/∂f, then the thresholds' and the norms' sums (reading it), then ∂L/∂pre in place.
    const pen = Kernel.get(device, 'standard', 'dec_pen');
    for (const v of views) {
      matmul('backprop', B, v.F, d, b.G!, v.W_dec, v.acts('dF'), { transB: true });
      list.push(dispatch(k('train_feature'), { ...common(v), dF: v.acts('dF'), g_log_theta: v.feat('gTheta'), dnorm: v.feat('dnorm') }, flatGrid(v.F)));
      list.push(dispatch(k('train_dpre'), { ...common(v), dF: v.acts('dF') }, flatGrid(B * v.F)));
      matmul('gradDec', v.F, d, B, v.acts('f'), b.G!, v.gW_dec, { transA: true });
      // ∂L/∂n_i reaches W_dec,i as ∂L/∂n_i · W_dec,i / n_i (the standard penalty's kernel, with factor 1)
      const penU = pen.uniform('u', { B, F: v.F, d, lam_over_B: 1 }).buffer;
      list.push(dispatch(pen, { u: penU, W_dec: v.W_dec, fsum: v.feat('dnorm'), norms: v.feat('norms'), gW_dec: v.gW_dec }, flatGrid(v.F * d)));
    }
    colsum(B, d, b.G!, gb_dec);
    for (const v of views) {
      matmul('gradEnc', d, v.F, B, b.Xs!, v.acts('dF'), v.gW_enc, { transA: true });
      colsum(B, v.F, v.acts('dF'), v.gb_enc);
    }
  },

  finish(ctx) {
    const { cfg, b } = ctx;
    // log θ: Adam as the weights have it, its own moments, after them
    ctx.adam(padded(cfg.features), { grads: b.gTheta!, params: b.theta!, m1: b.thetaM!, m2: b.thetaV! });
    fireDense(ctx);
  },

  clears: () => [],
};
