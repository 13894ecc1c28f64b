// Next-token cross-entropy (src/model/perplexity.ts, what `sae-lab perplexity` runs) against the float64
// reference run on each one-document sequence alone, overall and by kind of text; and the token limit.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { codeDocument, plainDocuments } from '../../src/model/corpus.ts';
import { LanguageModel } from '../../src/model/lm.ts';
import { measurePerplexity } from '../../src/model/perplexity.ts';
import { sequenceBatches } from '../../src/model/sequences.ts';
import { referenceForward } from '../../src/reference/transformer.ts';
import { getDevice } from '../support/gpu.ts';
import { loadLmFixture, SHARED_LM } from '../support/lm-fixtures.ts';

describe('perplexity', () => {
  for (const name of ['gpt2-tiny', 'llama-tiny']) {
    it(`matches the reference's cross-entropy over one-document sequences (${name})`, async () => {
      const f = await loadLmFixture(join(SHARED_LM, name));
      const c = f.plan.config;
      const docs = [
        ...plainDocuments('The cat sat on the mat, and the dog ran far away.\n\nShort.', 'typed'),
        codeDocument('a.ts', 'const x = [1, 2, 3].map((n) => n * 2);\n'),
      ];
      const lm = LanguageModel.create(await getDevice(), c, f.weights, name, 2, 10);
      const got = await measurePerplexity(lm, f.plan.tokenizer, docs, { context: 10, batch: 2 });
      // the reference: each sequence alone, every position predicting the next token of its sequence
      const sums: Record<string, { n: number; nats: number }> = {};
      for await (const batch of sequenceBatches(f.plan.tokenizer, c, docs, { context: 10, batch: 1 })) {
        const s = batch.sequences[0];
        const logits = referenceForward(c, f.weights, s.ids).logits;
        for (let t = 0; t + 1 < s.ids.length; t++) {
          const row = logits.subarray(t * c.vocab, (t + 1) * c.vocab);
          const max = Math.max(...row);
          const ce = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0)) - row[s.ids[t + 1]];
          const kind = s.rows[t + 1 - (c.bosTokenId !== null ? 1 : 0)].kind;
          (sums[kind] ??= { n: 0, nats: 0 }).n++;
          sums[kind].nats += ce;
        }
      }
      const n = Object.values(sums).reduce((a, k) => a + k.n, 0);
      const nats = Object.values(sums).reduce((a, k) => a + k.nats, 0);
      expect(got.tokens).toBe(n);
      expect(Math.abs(got.crossEntropy - nats / n)).toBeLessThan(1e-4);
      expect(Math.abs(got.perplexity - Math.exp(nats / n)) / got.perplexity).toBeLessThan(1e-4);
      for (const kind of ['prose', 'code']) {
        expect(got.byKind[kind].tokens).toBe(sums[kind].n);
        expect(Math.abs(got.byKind[kind].crossEntropy - sums[kind].nats / sums[kind].n)).toBeLessThan(1e-4);
      }
      expect(got.documents).toEqual(['typed ¶1', 'typed ¶2', 'a.ts']);
      // a token limit stops early, with the same mean over the tokens it read
      const some = await measurePerplexity(lm, f.plan.tokenizer, docs, { context: 10, batch: 2, tokens: 5 });
      expect(some.tokens).toBe(5);
      lm.destroy();
    });
  }
});
