// Next-token cross-entropy of a language model over documents, on the same one-document sequences a harvest
// makes (src/model/sequences.ts): every position of a sequence predicts the next token of the same sequence
// (the BOS position predicts the document's first token of that piece), in float64 from the GPU's logits.
// Perplexity = exp(mean cross-entropy). Reported overall and by kind of text (prose, code).
import type { LmDocument } from './corpus.ts';
import type { LanguageModel } from './lm.ts';
import { tokenCrossEntropy } from './log-probs.ts';
import { sequenceBatches, sequenceShape } from './sequences.ts';
import type { LmTokenizer } from './tokenizer.ts';

export interface CrossEntropy {
  /** tokens predicted */
  tokens: number;
  /** mean −log p(next token), in nats */
  crossEntropy: number;
  perplexity: number;
}

export interface PerplexityResult extends CrossEntropy {
  byKind: Record<string, CrossEntropy>;
  /** the documents read, in order */
  documents: string[];
  sequences: number;
  context: number;
  prependBos: boolean;
  seconds: number;
}

export interface PerplexityOptions {
  context: number;
  batch: number;
  /** stop after this many predicted tokens (default: every document) */
  tokens?: number;
  signal?: AbortSignal;
  onProgress?: (tokens: number, document: string) => void;
}

export async function measurePerplexity(
  lm: LanguageModel,
  tokenizer: LmTokenizer,
  documents: AsyncIterable<LmDocument> | Iterable<LmDocument>,
  o: PerplexityOptions,
): Promise<PerplexityResult> {
  const c = lm.config;
  const skip = sequenceShape(c, o.context).bos !== null ? 1 : 0;
  const limit = o.tokens ?? Infinity;
  lm.reserve(o.batch, o.context);
  const start = performance.now();
  const sums = new Map<string, { tokens: number; nats: number }>();
  let total = 0;
  let nats = 0;
  let sequences = 0;
  const names: string[] = [];
  const batches = sequenceBatches(tokenizer, c, documents, {
    context: o.context, batch: o.batch, signal: o.signal,
    onDocument: (name) => void names.push(name),
  });
  for await (const { sequences: batch, ids, T } of batches) {
    const { logits } = await lm.forward({ ids, batch: batch.length, logits: 'all' });
    batch.forEach((s, b) => {
      for (let t = 0; t + 1 < s.ids.length && total < limit; t++) {
        const ce = tokenCrossEntropy(logits!, (b * T + t) * c.vocab, c.vocab, s.ids[t + 1]);
        const kind = s.rows[t + 1 - skip].kind;
        const k = sums.get(kind) ?? { tokens: 0, nats: 0 };
        k.tokens++;
        k.nats += ce;
        sums.set(kind, k);
        total++;
        nats += ce;
      }
    });
    sequences += batch.length;
    o.onProgress?.(total, names[names.length - 1]);
    if (total >= limit) break;
  }
  const summary = (tokens: number, sum: number): CrossEntropy => ({ tokens, crossEntropy: sum / tokens, perplexity: Math.exp(sum / tokens) });
  return {
    ...summary(total, nats),
    byKind: Object.fromEntries([...sums].map(([kind, k]) => [kind, summary(k.tokens, k.nats)])),
    documents: names,
    sequences,
    context: o.context,
    prependBos: skip === 1,
    seconds: (performance.now() - start) / 1000,
  };
}
