// The TopK SAE's part of a step (docs/RECIPE.md §2): pre = (x' − b_dec)W_enc + b_enc, the k largest of each row
// kept (ReLU), x̂' decoded from them; L = ‖x̂' − x'‖²/(B·v) + α·AuxK (the dead latents' top k_aux reconstruct the
// residual). Sparse backward: the kept entries grouped by feature, summed in order; W_dec's rows stay unit.
// BatchTopK (§8) is the same step with each row's cap of entries selected first, then only the k·B largest of
// the batch's kept (shaders/batchtopk.wgsl), and the threshold it is saved with tracked as it trains.
// Matryoshka BatchTopK adds ‖x̂'_w − x'‖²/(B·v) for each inner width w of its nesting (x̂'_w decodes features
// [0, w) alone): each feature's entries then take the sum of the gradients of the reconstructions it is in
// (shaders/matryoshka.wgsl), read by the sparse backward through the feature's gradient block.
import { Kernel, dispatch, flatGrid, type Constants, type Uniform } from '../kernel.ts';
import { alignFloats } from '../layout.ts';
import { sparseDecode } from '../sparse-decode.ts';
import { batchK, type TrainConfig } from '../config.ts';
import type { ArchStep } from './context.ts';

/** TopK's selection keeps its candidates in private memory (shaders/topk.wgsl MAX_K). */
export const MAX_TOPK = 512;

/** BatchTopK: the most entries one row may keep, a multiple of the average k (rows rarely need more) */
export const BATCH_ROW_CAP = 4;

/** the main entries each row keeps in its slots: k, or BatchTopK's cap */
export function rowSlots(cfg: TrainConfig): number {
  return batchK(cfg.arch) ? Math.min(cfg.features, BATCH_ROW_CAP * cfg.k, MAX_TOPK) : cfg.k;
}

/** Matryoshka's gradient blocks (1 elsewhere): one per group of features between two widths */
function blocks(cfg: TrainConfig): number {
  return cfg.arch === 'matryoshka' ? cfg.widths.length : 1;
}

/** Where Gaux starts in the TopK trainer's G buffer (floats): after G's blocks, on a bindable boundary. */
function auxGradOffset(cfg: TrainConfig): number {
  return blocks(cfg) * alignFloats(cfg.batch * cfg.d);
}

type Kind = 'topk' | 'batchtopk' | 'matryoshka';

function topkLike(kind: Kind): ArchStep {
  const batch = kind !== 'topk';
  const nested = kind === 'matryoshka';
  return {
    label: { topk: 'TopK', batchtopk: 'BatchTopK', matryoshka: 'Matryoshka BatchTopK' }[kind],
    fields: nested ? ['k', 'widths'] : ['k'],
    // the dense encode, then 2·d per kept entry (main and AuxK) for each of decode, h, ∂W_dec and ∂W_enc;
    // Matryoshka decodes the main entries again for each inner width (at most k per row)
    flops: (cfg) => {
      const { batch: B, d, features: F, k, kAux } = cfg;
      return 2 * B * d * F + 8 * B * (k + kAux) * d + (nested ? 2 * B * k * d * (cfg.widths.length - 1) : 0);
    },
    center: true,
    clip: 0,
    residualCoef: (cfg, stats) => 2 / (cfg.batch * stats.variance),
    lossTerms: () => ({ sparse: 1, lam: 0 }),
    gemms: (cfg, F, p) => [p('encode', cfg.batch, F, cfg.d, { bias: true })],
    slots: (cfg) => ({ k: rowSlots(cfg), S: rowSlots(cfg) + cfg.kAux }),
    buffers(cfg, Fs) {
      const { batch: B, d, features: F } = cfg;
      const S = rowSlots(cfg) + cfg.kAux;
      const blk = alignFloats(B * d);
      const shared: Record<string, [string, number]> = {
        // each row's TopK picks in slots 0..k-1, its AuxK picks in k..S-1: slot = the sparse backward's entry
        picks: ['picks (B, S)', B * S],
        pvals: ['pvals (B, S)', B * S],
        // ∂L/∂x̂ (B, d) (Matryoshka: one block per group) and, bindable after it, AuxK's Gaux (B, d): the
        // sparse backward reads both as one
        G: [nested ? 'G (groups × (B, d)), then Gaux (B, d)' : 'G (B, d), then Gaux (B, d)', auxGradOffset(cfg) + B * d],
        // each feature's gradient block in G (floats from its start): Matryoshka's group, else 0 (unread)
        gblock: ['gblock (F)', F],
        Ehat: ['Ehat (B, d) ê', B * d],
        emean: ['emean (d)', d],
        rowvar: ['rowvar (B)', B],
        h: ['h (B·S)', B * S],
        counts: ['counts (F)', F],
        cursor: ['cursor (F)', F],
        offsets: ['offsets (F+1)', F + 1],
        lists: ['lists (B·S)', B * S],
        benc: ['benc (F) ∂b_enc', F],
      };
      if (Fs.length > 1) {
        // every shard's best max(k, k_aux) of each row, merged into the picks (topk.merge_topk)
        const C = Fs.length * Math.max(rowSlots(cfg), cfg.kAux);
        shared.candIdx = ['shard candidates (B, shards·K)', B * C];
        shared.candVal = ['shard candidate values (B, shards·K)', B * C];
      }
      if (batch) shared.bstate = ['BatchTopK: threshold (moving average), this batch\'s', 4];
      if (nested) shared.Xin = ['Matryoshka: x̂\' of each inner width ((groups − 1) × (B, d))', (blocks(cfg) - 1) * blk];
      return { perShard: (n) => ({ pre: ['pre (B, F)', B * n] }), shared };
    },
    memory: (cfg, Fs, shards) => ({
      [`pre-activations (B×${Fs})`]: [cfg.batch * Fs * 4, shards],
      'TopK entries (B×(k + k_aux): picks, values, h, lists)': [cfg.batch * (rowSlots(cfg) + cfg.kAux) * 4, 4],
      // the merge of the shards' picks reads each shard's best max(k, k_aux) of every row
      ...(shards > 1 ? { 'shard candidates (values and indices)': [cfg.batch * shards * Math.max(rowSlots(cfg), cfg.kAux) * 4, 2] } : {}),
      'batch rows (B×d)': [cfg.batch * cfg.d * 4, 8],
      ...(nested ? { 'Matryoshka: inner reconstructions and gradient blocks (B×d)': [cfg.batch * cfg.d * 4, 2 * blocks(cfg) - 2] } : {}),
    }),

    record(ctx) {
      const { device, cfg, shards, views, b, list, b_dec, gb_dec, quads } = ctx;
      const { d, features: F, batch: B, kAux: KA } = cfg;
      const K = rowSlots(cfg);
      const S = K + KA;
      const split = shards.length > 1;
      const matmul = ctx.matmul;
      for (const v of views) matmul('encode', B, v.F, d, b.Xc!, v.W_enc, v.acts('pre'), { bias: v.b_enc });
      ctx.deadMask();
      // The main picks fill slots 0..K-1 of each row, AuxK's slots K..S-1. A split dictionary selects per
      // shard (raw values, indices from the shard's first feature), then merges the shards' candidates.
      const select = (masked: boolean, count: number, offset: number) => {
        const k = Kernel.get(device, 'topk', 'select_topk', { MASKED: masked, QUADS: F % 4 === 0 });
        const C = shards.length * count; // candidates per row: each shard's best `count`
        for (const v of views) {
          const su = k.uniform('su', split
            ? { B, F: v.F, K: count, stride: C, offset: v.s * count, base: v.f0, raw: 1 }
            : { B, F, K: count, stride: S, offset });
          const out = split ? { idx: b.candIdx!, val: b.candVal! } : { idx: b.picks!, val: b.pvals! };
          const dead = v.feat('dead');
          list.push(dispatch(k, { su: su.buffer, pre: v.acts('pre'), pre4: v.acts('pre'), dead, dead4: dead, ...out }, flatGrid(B)));
        }
        if (split) {
          const m = Kernel.get(device, 'topk', 'merge_topk');
          const su = m.uniform('su', { B, F: C, K: count, stride: S, offset });
          list.push(dispatch(m, { su: su.buffer, cand_idx: b.candIdx!, cand_val: b.candVal!, idx: b.picks!, val: b.pvals! }, flatGrid(B)));
        }
      };
      select(false, K, 0);
      if (batch) {
        const bt = Kernel.get(device, 'batchtopk', 'batch_threshold');
        const bu = bt.uniform('bu', { B, S, K, total: cfg.k * B, lr: cfg.thresholdLr }).buffer;
        list.push(dispatch(bt, { bu, pvals: b.pvals!, bstate: b.bstate! }, [1]));
      }
      select(true, KA, K);
      const decode = (bias: boolean, count: number, offset: number, out: GPUBuffer) => {
        for (const v of views) {
          const shard = split ? { f0: v.f0, F: v.F, accumulate: v.s > 0 } : undefined;
          const o = { rows: B, d, K: count, stride: S, offset, bias: bias && v.s === 0, ...(shard ? { shard } : {}) };
          list.push(sparseDecode(device, o, { sidx: b.picks!, sval: b.pvals!, W_dec: v.W_dec, b_dec, Xhat: out }).dispatch);
        }
      };
      decode(true, K, 0, b.Xhat!);
      ctx.residual();
      if (nested) {
        const blk = alignFloats(B * d);
        // x̂'_w of each inner width: the picks of features below w, shard by shard
        cfg.widths.slice(0, -1).forEach((w, g) => {
          const Xw = { buffer: b.Xin!, offset: g * blk * 4, size: B * d * 4 };
          for (const v of views.filter((v) => v.f0 < w)) {
            const shard = { f0: v.f0, F: Math.min(v.F, w - v.f0), accumulate: v.s > 0 };
            const o = { rows: B, d, K, stride: S, offset: 0, bias: v.s === 0, shard };
            list.push(sparseDecode(device, o, { sidx: b.picks!, sval: b.pvals!, W_dec: v.W_dec, b_dec, Xhat: Xw }).dispatch);
          }
        });
        const nk = Kernel.get(device, 'matryoshka', 'nested_grads');
        const nu = nk.uniform('nu', { B, d, n: blocks(cfg), blk, coef: 2 / (B * ctx.stats.variance) });
        list.push(dispatch(nk, { nu: nu.buffer, Xs: b.Xs!, Xin: b.Xin!, G: b.G!, rowinner: b.rowinner! }, flatGrid(B)));
        const gblock = new Uint32Array(F);
        cfg.widths.forEach((w, g) => gblock.fill(g * blk, g === 0 ? 0 : cfg.widths[g - 1]!, w));
        device.queue.writeBuffer(b.gblock!, 0, gblock);
      }
      const rs = Kernel.get(device, 'stats', 'row_stats');
      list.push(dispatch(rs, { u: ctx.stepUs[0]!.buffer, f: views[0]!.acts('pre'), norms: b.rowsq!, val: b.pvals!, rowl0: b.rowl0!, rowterm: b.rowterm! }, flatGrid(B)));
      // AuxK (RECIPE §2): reconstruct the main residual from the dead latents.
      decode(false, KA, K, b.Ehat!);
      const auxMean = Kernel.get(device, 'topk', 'aux_mean');
      const au = auxMean.uniform('au', { B, d, F, alpha: cfg.auxAlpha });
      const aux = { au: au.buffer, Xs: b.Xs!, Xh: b.Xhat!, Eh: b.Ehat! };
      list.push(dispatch(auxMean, { ...aux, emean: b.emean! }, flatGrid(d)));
      list.push(dispatch(Kernel.get(device, 'topk', 'aux_rows'), { ...aux, emean_in: b.emean!, rowvar: b.rowvar!, rowaux: b.rowterm! }, flatGrid(B)));
      list.push(dispatch(Kernel.get(device, 'topk', 'aux_scale'), { au: au.buffer, rowvar_in: b.rowvar!, dead_in: b.dead!, stats: b.stats! }, [1]));
      const auxG = auxGradOffset(cfg);
      const Gaux = { buffer: b.G!, offset: auxG * 4, size: B * d * 4 };
      list.push(dispatch(Kernel.get(device, 'topk', 'aux_grad'), { ...aux, stats_in: b.stats!, Gaux }, flatGrid(B * d)));
      // Backward, sparse: group the kept entries by feature, then sum each group in order.
      const sp = (entry: string, constants: Constants = {}) => Kernel.get(device, 'sparse', entry, { ...constants, ...(nested ? { NESTED: true } : {}) });
      // the whole dictionary's uniform (grouping), and each shard's (its features from f0)
      const spU = sp('count').uniform('u', { B, d, F, K, KA, aux_g: auxG, f0: 0 });
      const shardUs = split ? views.map((v) => sp('count').uniform('u', { B, d, F: v.F, K, KA, aux_g: auxG, f0: v.f0 })) : [spU];
      const picksOf = (u: Uniform) => ({ u: u.buffer, picks: b.picks!, pvals: b.pvals!, gvec: b.G!, gvec4: b.G!, gblock: b.gblock! });
      const groupsOf = (v: (typeof views)[number]) => ({ u: shardUs[v.s]!.buffer, offsets_in: v.feat('offsets', 1), lists_in: b.lists! });
      for (const v of views) {
        const picks = picksOf(shardUs[v.s]!);
        // h_quads gives four entries of a row one gradient vector: not Matryoshka's, where each has its group's
        if (quads && K % 4 === 0 && KA % 4 === 0 && !nested) {
          list.push(dispatch(sp('h_quads'), { ...picks, W_dec4: v.W_dec, h: b.h! }, flatGrid(B * S / 4, 256)));
        } else {
          list.push(dispatch(sp('h_entries', { QUADS: quads }), { ...picks, W_dec: v.W_dec, W_dec4: v.W_dec, h: b.h! }, flatGrid(B * S, 256)));
        }
      }
      const picks = picksOf(spU);
      list.push(dispatch(sp('count'), { ...picks, counts: b.counts! }, flatGrid(B * S)));
      list.push(dispatch(sp('scan'), { u: spU.buffer, counts_in: b.counts!, offsets: b.offsets! }, [1]));
      list.push(dispatch(sp('scatter'), { ...picks, offsets_in: b.offsets!, cursor: b.cursor!, lists: b.lists! }, flatGrid(B * S)));
      list.push(dispatch(sp('sort_lists'), { u: spU.buffer, offsets_in: b.offsets!, lists: b.lists! }, flatGrid(F)));
      const project = Kernel.get(device, 'norms', quads ? 'project4' : 'project');
      for (const v of views) {
        // Per-feature sums: where QUADS, 32 columns per invocation (the lanes run together then read 512
        // contiguous bytes of each entry's row), else 8.
        const featureRuns = (cols: number) => v.F * Math.ceil(d / cols);
        const groups = groupsOf(v);
        const own = picksOf(shardUs[v.s]!);
        list.push(quads
          ? dispatch(sp('dwdec_wide'), { ...own, ...groups, gW_dec: v.gW_dec }, flatGrid(featureRuns(32)))
          : dispatch(sp('dwdec'), { ...own, ...groups, gW_dec: v.gW_dec }, flatGrid(featureRuns(8), 256)));
        const shapeU = project.uniform('u', { F: v.F, d });
        list.push(dispatch(project, quads ? { u: shapeU.buffer, W_dec4: v.W_dec, gW_dec4: v.gW_dec } : { u: shapeU.buffer, W_dec: v.W_dec, gW_dec: v.gW_dec }, flatGrid(v.F)));
        list.push(quads
          // dwenc_wide's lane groups of 4 runs: a whole number of them per feature
          ? dispatch(sp('dwenc_wide'), { ...groups, h_in: b.h!, Xc4: b.Xc!, gW_enc: v.gW_enc }, flatGrid(featureRuns(128) * 4))
          : dispatch(sp('dwenc'), { ...groups, h_in: b.h!, Xc: b.Xc!, gW_enc: v.gW_enc }, flatGrid(featureRuns(8), 256)));
        list.push(dispatch(sp('dbenc'), { ...groups, h_in: b.h!, gb_enc: v.gb_enc, benc: v.feat('benc') }, flatGrid(v.F)));
      }
      for (const v of views) {
        const k = sp('dbdec', { F_QUADS: v.F % 4 === 0, ...(v.s > 0 ? { ACCUMULATE: true } : {}) });
        const benc = v.feat('benc');
        list.push(dispatch(k, { u: shardUs[v.s]!.buffer, gvec: b.G!, W_enc: v.W_enc, W_enc4: v.W_enc, benc_in: benc, benc4: benc, gb_dec }, flatGrid(d)));
      }
    },

    finish(ctx) {
      const { device, cfg, views, b, list, quads } = ctx;
      for (const v of views) {
        const renorm = Kernel.get(device, 'norms', quads ? 'renorm4' : 'renorm');
        list.push(dispatch(renorm, { u: renorm.uniform('u', { F: v.F, d: cfg.d }).buffer, W: v.W_dec, W4: v.W_dec }, flatGrid(v.F)));
        const fired = { fireCount: v.feat('fireCount'), lastFired: v.feat('lastFired') };
        list.push(dispatch(Kernel.get(device, 'stats', 'fire_sparse'), { u: ctx.stepUs[v.s]!.buffer, offsets: v.feat('offsets', 1), lists: b.lists!, ...fired }, flatGrid(v.F)));
      }
    },

    clears: (b) => [b.counts!, b.cursor!],
    ...(batch ? { state: { names: ['bstate'], init: () => ({ bstate: new Float32Array(4) }) } } : {}),
  };
}

export const topkStep = topkLike('topk');
export const batchtopkStep = topkLike('batchtopk');
export const matryoshkaStep = topkLike('matryoshka');
