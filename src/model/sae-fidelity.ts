// How much of the model an SAE keeps when spliced in at its hook, as SAELens's evaluation and Anthropic measure
// it, over the one-document sequences a harvest makes (src/model/sequences.ts):
//   CE: mean next-token cross-entropy of the clean model, with x̂ in place of x (no error term), with the hook
//       zeroed, and with the hook set to its mean over the evaluation tokens;
//   ce_loss_score = (CE_zero − CE_sae) / (CE_zero − CE_clean)   (1: as good as the model; 0: as bad as zeroing)
//   KL: mean over positions of KL(p_clean ‖ p_edited) of the next-token distributions;
//   kl_div_score  = (KL_zero − KL_sae) / KL_zero
// and the same two scores against the mean ablation. Every position that predicts a next token of its own
// sequence counts (the BOS position predicts the first token); padding does not. The splice leaves special
// tokens' positions alone; the ablations replace every position, as SAELens's zero ablation does.
import type { LmDocument } from './corpus.ts';
import type { HookEdit, LanguageModel } from './lm.ts';
import { fillEdit, specialTokenIds, type SaeSplice } from './sae-splice.ts';
import { klDivergence, logSoftmax } from './log-probs.ts';
import { collectBatches } from './sequences.ts';
import type { LmTokenizer } from './tokenizer.ts';

export interface SpliceFidelity {
  hook: string;
  /** next-token predictions measured */
  tokens: number;
  sequences: number;
  context_size: number;
  ce_loss_without_sae: number;
  ce_loss_with_sae: number;
  ce_loss_with_ablation: number;
  ce_loss_with_mean_ablation: number;
  ce_loss_score: number;
  ce_loss_score_mean_ablation: number;
  kl_div_with_sae: number;
  kl_div_with_ablation: number;
  kl_div_with_mean_ablation: number;
  kl_div_score: number;
  kl_div_score_mean_ablation: number;
  /** the documents read, in order */
  documents: string[];
  seconds: number;
}

export interface FidelityOptions {
  hook: string;
  context: number;
  batch: number;
  /** stop after this many predicted tokens (default: every document) */
  tokens?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export async function measureSpliceFidelity(lm: LanguageModel, tokenizer: LmTokenizer, splice: SaeSplice, documents: AsyncIterable<LmDocument> | Iterable<LmDocument>, o: FidelityOptions): Promise<SpliceFidelity> {
  const c = lm.config;
  const start = performance.now();
  const batch = Math.min(o.batch, Math.max(1, Math.floor(splice.rows / o.context)));
  lm.reserve(batch, o.context);
  // kept in memory (a few MB at most) so that the mean is taken before the ablated passes
  const { batches, documents: documentsRead } = await collectBatches(tokenizer, c, documents, { context: o.context, batch, signal: o.signal, tokens: o.tokens ?? Infinity });
  if (batches.length === 0) throw new RangeError('no text to measure on: the documents give no tokens');
  const special = new Set(specialTokenIds(c));
  // the hook's mean over the evaluation tokens (special tokens left out, as the SAE never reads them)
  const mean = new Float64Array(c.d);
  let meanRows = 0;
  for (const b of batches) {
    o.signal?.throwIfAborted();
    const x = (await lm.forward({ ids: b.ids, batch: b.sequences.length, read: [o.hook], logits: 'none' })).hooks.get(o.hook)!;
    b.sequences.forEach((s, q) => {
      s.ids.forEach((id, t) => {
        if (special.has(id)) return;
        for (let j = 0; j < c.d; j++) mean[j]! += x[(q * b.T + t) * c.d + j]!;
        meanRows++;
      });
    });
  }
  if (meanRows > 0) for (let j = 0; j < c.d; j++) mean[j]! /= meanRows;
  const conditions: [string, HookEdit][] = [
    ['sae', splice.edit({ errorTerm: false })],
    ['ablation', fillEdit(lm.device, new Float32Array(c.d))],
    ['mean_ablation', fillEdit(lm.device, Float32Array.from(mean))],
  ];
  const ce = { clean: 0, sae: 0, ablation: 0, mean_ablation: 0 } as Record<string, number>;
  const kl = { sae: 0, ablation: 0, mean_ablation: 0 } as Record<string, number>;
  let tokens = 0;
  const limit = o.tokens ?? Infinity;
  let done = 0;
  for (const b of batches) {
    o.signal?.throwIfAborted();
    const n = b.sequences.length;
    const clean = (await lm.forward({ ids: b.ids, batch: n })).logits!;
    const edited = new Map<string, Float32Array>();
    for (const [name, edit] of conditions) edited.set(name, (await lm.forward({ ids: b.ids, batch: n, edits: new Map([[o.hook, edit]]) })).logits!);
    b.sequences.forEach((s, q) => {
      for (let t = 0; t + 1 < s.ids.length && tokens < limit; t++) {
        const at = (q * b.T + t) * c.vocab;
        const next = s.ids[t + 1]!;
        const lp = logSoftmax(clean, at, c.vocab);
        ce.clean! += -lp[next]!;
        for (const [name, logits] of edited) {
          const lq = logSoftmax(logits, at, c.vocab);
          ce[name]! += -lq[next]!;
          kl[name]! += klDivergence(lp, lq);
        }
        tokens++;
      }
    });
    o.onProgress?.(++done, batches.length);
  }
  const m = (v: number) => v / tokens;
  const ceScore = (ablated: string) => (m(ce[ablated]!) - m(ce.sae!)) / (m(ce[ablated]!) - m(ce.clean!));
  const klScore = (ablated: string) => (m(kl[ablated]!) - m(kl.sae!)) / m(kl[ablated]!);
  return {
    hook: o.hook,
    tokens,
    sequences: batches.reduce((s, b) => s + b.sequences.length, 0),
    context_size: o.context,
    ce_loss_without_sae: m(ce.clean!),
    ce_loss_with_sae: m(ce.sae!),
    ce_loss_with_ablation: m(ce.ablation!),
    ce_loss_with_mean_ablation: m(ce.mean_ablation!),
    ce_loss_score: ceScore('ablation'),
    ce_loss_score_mean_ablation: ceScore('mean_ablation'),
    kl_div_with_sae: m(kl.sae!),
    kl_div_with_ablation: m(kl.ablation!),
    kl_div_with_mean_ablation: m(kl.mean_ablation!),
    kl_div_score: klScore('ablation'),
    kl_div_score_mean_ablation: klScore('mean_ablation'),
    documents: documentsRead,
    seconds: (performance.now() - start) / 1000,
  };
}
