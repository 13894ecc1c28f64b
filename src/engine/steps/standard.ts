// The standard SAE's part of a step (docs/RECIPE.md §1): f = ReLU(x'W_enc + b_enc), x̂' = fW_dec + b_dec,
// L = (1/B)Σ‖x̂' − x'‖² + λ_t·(1/B)ΣΣ f_i‖W_dec,i‖; backward through the GEMMs and the penalty; clipped.
import { CLIP_NORM } from '../config.ts';
import { Kernel, dispatch, flatGrid } from '../kernel.ts';
import { l1Coefficient } from '../schedule.ts';
import type { ArchStep, StepContext } from './context.ts';

/** the dense step's GEMMs (shared with JumpReLU, whose encoder has no ReLU) */
export const denseGemms = (relu: boolean): ArchStep['gemms'] => (cfg, F, p) => {
  const { batch: B, d } = cfg;
  return [
    p('encode', B, F, d, { bias: true, relu }), // pre or f = ReLU(x'W_enc + b_enc)
    p('decode', B, d, F, { bias: true }), // x̂' = f W_dec + b_dec
    p('backprop', B, F, d, { transB: true }), // G W_decᵀ
    p('gradDec', F, d, B, { transA: true }), // fᵀ G
    p('gradEnc', d, F, B, { transA: true }), // x'ᵀ ∂pre
  ];
};

/** each shard's decoder row norms into `norms` */
export function rowNorms(ctx: StepContext): void {
  const normsK = Kernel.get(ctx.device, 'norms', 'row_norms');
  for (const v of ctx.views) {
    const u = normsK.uniform('u', { F: v.F, d: ctx.cfg.d });
    ctx.list.push(dispatch(normsK, { u: u.buffer, W_dec: v.W_dec, norms: v.feat('norms') }, flatGrid(v.F)));
  }
}

/** fire statistics from each shard's dense f */
export function fireDense(ctx: StepContext): void {
  for (const v of ctx.views) {
    const fired = { fireCount: v.feat('fireCount'), lastFired: v.feat('lastFired') };
    ctx.list.push(dispatch(Kernel.get(ctx.device, 'stats', 'fire_dense'), { u: ctx.stepUs[v.s]!.buffer, f: v.acts('f'), ...fired }, flatGrid(v.F)));
  }
}

export const standardStep: ArchStep = {
  label: 'standard (L1)',
  fields: ['l1'],
  flops: (cfg) => 10 * cfg.batch * cfg.d * cfg.features, // encode, decode; ∂f, ∂W_dec, ∂W_enc: 2·B·d·F each
  center: false,
  clip: CLIP_NORM,
  residualCoef: (cfg) => 2 / cfg.batch,
  lossTerms: (cfg, step) => ({ sparse: 0, lam: l1Coefficient(cfg, step) }),
  gemms: denseGemms(true),
  buffers: (cfg) => ({
    perShard: (Fs) => ({ f: ['f (B, F)', cfg.batch * Fs], dF: ['dF (B, F) ∂L/∂pre', cfg.batch * Fs] }),
    shared: { G: ['G (B, d) ∂L/∂x̂', cfg.batch * cfg.d], fsum: ['fsum (F)', cfg.features], norms: ['norms (F)', cfg.features] },
  }),
  memory: (cfg, Fs, shards) => ({
    [`features and their gradients (B×${Fs} each)`]: [cfg.batch * Fs * 4, 2 * shards],
    'batch rows (B×d)': [cfg.batch * cfg.d * 4, 6],
  }),

  record(ctx) {
    const { device, cfg, views, b, list, writers, b_dec, gb_dec, matmul, colsum } = ctx;
    const { d, batch: B } = cfg;
    rowNorms(ctx);
    for (const v of views) matmul('encode', B, v.F, d, b.Xs!, v.W_enc, v.acts('f'), { bias: v.b_enc, relu: true });
    for (const v of views) matmul('decode', B, d, v.F, v.acts('f'), v.W_dec, b.Xhat!, v.s === 0 ? { bias: b_dec } : { accumulate: true });
    ctx.residual();
    const rs = Kernel.get(device, 'stats', 'row_stats');
    for (const v of views) list.push(dispatch(rs, { u: ctx.stepUs[v.s]!.buffer, f: v.acts('f'), norms: v.feat('norms'), val: b.rowsq!, rowl0: b.rowl0!, rowterm: b.rowterm! }, flatGrid(B)));
    ctx.deadMask();
    // Backward (docs/RECIPE.md §1).
    const dpre = Kernel.get(device, 'standard', 'dpre');
    const penaltyUs = views.map((v) => {
      const u = dpre.uniform('u', { B, F: v.F, d, lam_over_B: 0 });
      writers.push((step) => u.write({ B, F: v.F, d, lam_over_B: l1Coefficient(cfg, step) / B }));
      return u;
    });
    const pen = Kernel.get(device, 'standard', 'dec_pen');
    for (const v of views) {
      const penaltyU = penaltyUs[v.s]!.buffer;
      matmul('backprop', B, v.F, d, b.G!, v.W_dec, v.acts('dF'), { transB: true });
      list.push(dispatch(dpre, { u: penaltyU, f: v.acts('f'), norms: v.feat('norms'), dF: v.acts('dF') }, flatGrid(B * v.F)));
      matmul('gradDec', v.F, d, B, v.acts('f'), b.G!, v.gW_dec, { transA: true });
      colsum(B, v.F, v.acts('f'), v.feat('fsum'));
      list.push(dispatch(pen, { u: penaltyU, W_dec: v.W_dec, fsum: v.feat('fsum'), norms: v.feat('norms'), gW_dec: v.gW_dec }, flatGrid(v.F * d)));
    }
    colsum(B, d, b.G!, gb_dec);
    for (const v of views) {
      matmul('gradEnc', d, v.F, B, b.Xs!, v.acts('dF'), v.gW_enc, { transA: true });
      colsum(B, v.F, v.acts('dF'), v.gb_enc);
    }
  },

  finish: fireDense,
  clears: () => [],
};
