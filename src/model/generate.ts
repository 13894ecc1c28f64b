// Continuing a prompt token by token on the key/value cache: the prompt in one pass, then one position per
// new token. Greedy (the highest logit, the lowest id on ties, as torch.argmax) or sampled at a temperature
// from the project's seeded generator, so a seed gives the same text on every run and adapter.
import { Rng } from '../engine/random.ts';
import type { HookEdit, LanguageModel } from './lm.ts';

export interface GenerateOptions {
  /** new tokens at most */
  tokens: number;
  /** sample instead of taking the most likely token */
  sample?: { seed: number; temperature: number };
  edits?: ReadonlyMap<string, HookEdit>;
  /** stop after an end-of-sequence token (default: the model's eos ids) */
  stopIds?: readonly number[];
  /** called with each new id; return false to stop */
  onToken?: (id: number) => boolean | void;
}

export function argmax(logits: ArrayLike<number>, from = 0, n = logits.length - from): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (logits[from + i] > logits[from + best]) best = i;
  return best;
}

/** index drawn with probability ∝ exp(logit / temperature) */
export function sampleLogits(logits: ArrayLike<number>, temperature: number, rng: Rng): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const p = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp((logits[i] - max) / temperature);
  let u = rng.float() * sum;
  for (let i = 0; i < p.length; i++) if ((u -= p[i]) < 0) return i;
  return p.length - 1;
}

export async function generate(lm: LanguageModel, prompt: readonly number[], o: GenerateOptions): Promise<number[]> {
  if (prompt.length === 0) throw new RangeError('generation needs a prompt of at least one token');
  const c = lm.config;
  if (prompt.length >= c.maxPositions) throw new RangeError(`the prompt's ${prompt.length} tokens leave no room in the model's ${c.maxPositions} positions`);
  lm.reserve(1, Math.min(prompt.length + o.tokens, c.maxPositions));
  const stop = new Set(o.stopIds ?? c.eosTokenIds);
  const rng = o.sample ? new Rng(o.sample.seed) : undefined;
  const out: number[] = [];
  let input = [...prompt];
  let pos0 = 0;
  while (out.length < o.tokens) {
    const { logits } = await lm.forward({ ids: input, pos0, logits: 'last', edits: o.edits });
    const id = rng ? sampleLogits(logits!, o.sample!.temperature, rng) : argmax(logits!);
    out.push(id);
    if (o.onToken?.(id) === false || stop.has(id)) break;
    pos0 += input.length;
    input = [id];
    if (pos0 + 1 > c.maxPositions) break;
  }
  return out;
}
