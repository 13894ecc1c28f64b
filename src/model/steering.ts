// The seed's steering experiment on a language model: a prompt continued twice from the same start — by the
// clean model and with one SAE feature edited at the SAE's hook (its decoder direction added with strength
// α, or its activation clamped to a value with the error term kept) — greedily or sampled with one seed, and
// the feature's activation on every token of both texts (read from the clean model, so the colours say
// where the feature is present in the text, not where it was forced; none on special tokens).
import type { SaeWeights } from '../engine/sae.ts';
import { encodeCpu } from '../analysis/sae-cpu.ts';
import { generate } from './generate.ts';
import type { HookEdit, LanguageModel } from './lm.ts';
import type { SaeSplice } from './sae-splice.ts';
import type { LmTokenizer } from './tokenizer.ts';

export interface SteerSpec {
  feature: number;
  /** 'add': α·W_dec,i at every position; 'clamp': the feature's activation set to the strength */
  mode: 'add' | 'clamp';
  /** one steered continuation per strength (several: a sweep that shows where the text turns) */
  strengths: number[];
}

export interface SteerOptions extends SteerSpec {
  /** new tokens at most */
  tokens: number;
  sample?: { seed: number; temperature: number };
}

export interface Continuation {
  /** prompt and continuation, one entry per token */
  ids: number[];
  tokens: string[];
  /** the feature's activation on each token (the clean model's, at the SAE's hook) */
  acts: number[];
  /** how many of the entries are the prompt */
  promptLength: number;
  text: string;
}

export interface SteerResult {
  spec: SteerSpec;
  baseline: Continuation;
  /** one per strength, in order */
  steered: Continuation[];
}

/**
 * The feature's activation on each token of `ids` (one clean pass up to the hook, the SAE on the CPU); 0 on
 * special tokens, which the SAE never reads.
 */
export async function featureActivations(lm: LanguageModel, sae: SaeWeights, hook: string, ids: readonly number[], feature: number, specialIds: readonly number[]): Promise<number[]> {
  const x = (await lm.forward({ ids, read: [hook], logits: 'none' })).hooks.get(hook)!;
  const f = encodeCpu(sae, x);
  return Array.from({ length: ids.length }, (_, t) => (specialIds.includes(ids[t]!) ? 0 : f[t * sae.features + feature]!));
}

async function continuation(lm: LanguageModel, tokenizer: LmTokenizer, splice: SaeSplice, hook: string, prompt: number[], fresh: number[], feature: number): Promise<Continuation> {
  const ids = [...prompt, ...fresh];
  const acts = await featureActivations(lm, splice.sae, hook, ids, feature, splice.specialIds);
  return { ids, tokens: tokenizer.pieces(ids), acts, promptLength: prompt.length, text: tokenizer.decode(fresh) };
}

export async function steerGeneration(lm: LanguageModel, tokenizer: LmTokenizer, splice: SaeSplice, hook: string, prompt: number[], o: SteerOptions, signal?: AbortSignal): Promise<SteerResult> {
  const run = (edits?: Map<string, HookEdit>) => {
    signal?.throwIfAborted();
    return generate(lm, prompt, { tokens: o.tokens, sample: o.sample, edits, onToken: () => !signal?.aborted });
  };
  const edit = (strength: number) =>
    splice.edit(o.mode === 'add' ? { errorTerm: true, steer: [{ feature: o.feature, alpha: strength }] } : { errorTerm: true, clamp: [{ feature: o.feature, value: strength }] });
  const baseline = await continuation(lm, tokenizer, splice, hook, prompt, await run(), o.feature);
  const steered: Continuation[] = [];
  for (const strength of o.strengths) steered.push(await continuation(lm, tokenizer, splice, hook, prompt, await run(new Map([[hook, edit(strength)]])), o.feature));
  signal?.throwIfAborted();
  return { spec: { feature: o.feature, mode: o.mode, strengths: [...o.strengths] }, baseline, steered };
}
