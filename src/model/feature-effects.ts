// What one SAE feature does in the model on real text, measured rather than predicted: over sequences of a
// corpus, the tokens it fires on most (each with the token that follows), and its measured effect — the
// drop in the log-probability of the actual next token when the feature is ablated (its activation clamped
// to 0 at every position, the SAE's error term kept), averaged over the positions where it fired.
import { encodeCpu } from '../analysis/sae-cpu.ts';
import type { LanguageModel } from './lm.ts';
import type { SaeSplice } from './sae-splice.ts';
import { tokenCrossEntropy } from './log-probs.ts';
import type { SequenceBatch } from './sequences.ts';
import type { LmTokenizer } from './tokenizer.ts';

export interface FeatureExample {
  /** tokens around the strongest one (up to `before` before it, `after` after) */
  tokens: string[];
  acts: number[];
  /** index in tokens of the token it fired on */
  at: number;
  act: number;
  /** the token that came next in the text */
  next: string;
}

export interface FeatureOnText {
  /** next-token predictions read (from positions that are not special tokens) */
  tokens: number;
  /** positions where the feature fired */
  fires: number;
  examples: FeatureExample[];
  /** mean over firing positions of log p(next) clean − log p(next) with the feature ablated; null when it never fired */
  ablationDrop: number | null;
  /** mean ablation drop over the positions where it did not fire (a baseline: near 0) */
  ablationDropElsewhere: number | null;
}

export async function featureOnText(lm: LanguageModel, tokenizer: LmTokenizer, splice: SaeSplice, hook: string, feature: number, batches: SequenceBatch[], o: { examples?: number; before?: number; after?: number } = {}): Promise<FeatureOnText> {
  const { sae } = splice;
  const V = lm.config.vocab;
  const special = new Set(splice.specialIds);
  const ablate = new Map([[hook, splice.edit({ errorTerm: true, clamp: [{ feature, value: 0 }] })]]);
  const found: { act: number; ids: number[]; acts: number[]; t: number }[] = [];
  let tokens = 0;
  let fires = 0;
  let drop = 0;
  let elsewhere = 0;
  for (const b of batches) {
    const n = b.sequences.length;
    const clean = await lm.forward({ ids: b.ids, batch: n, read: [hook] });
    const ablated = (await lm.forward({ ids: b.ids, batch: n, edits: ablate })).logits!;
    const f = encodeCpu(sae, clean.hooks.get(hook)!);
    b.sequences.forEach((s, q) => {
      const acts = s.ids.map((_, t) => f[(q * b.T + t) * sae.features + feature]!);
      for (let t = 0; t + 1 < s.ids.length; t++) {
        if (special.has(s.ids[t]!)) continue; // the splice leaves special tokens alone: the SAE never reads them
        const at = (q * b.T + t) * V;
        const next = s.ids[t + 1]!;
        const d = tokenCrossEntropy(ablated, at, V, next) - tokenCrossEntropy(clean.logits!, at, V, next);
        tokens++;
        if (acts[t]! > 0) {
          fires++;
          drop += d;
          found.push({ act: acts[t]!, ids: s.ids, acts, t });
        } else elsewhere += d;
      }
    });
  }
  const before = o.before ?? 12;
  const after = o.after ?? 4;
  // the strongest firings, one per distinct window of text (documents can repeat a passage word for word)
  const examples: FeatureExample[] = [];
  const seen = new Set<string>();
  for (const { act, ids, acts, t } of found.sort((a, b) => b.act - a.act)) {
    if (examples.length >= (o.examples ?? 8)) break;
    const s = Math.max(0, t - before);
    const e = Math.min(ids.length, t + after + 1);
    const key = ids.slice(s, e).join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    examples.push({ tokens: tokenizer.pieces(ids.slice(s, e)), acts: acts.slice(s, e), at: t - s, act, next: tokenizer.pieces([ids[t + 1]!])[0]! });
  }
  return { tokens, fires, examples, ablationDrop: fires ? drop / fires : null, ablationDropElsewhere: tokens > fires ? elsewhere / (tokens - fires) : null };
}
