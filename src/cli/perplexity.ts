// sae-lab perplexity: a language model's next-token cross-entropy and perplexity over the built-in corpus's
// held-out documents (or a split of it, or a text file), on the sequences a harvest makes; prints JSON.
import { measurePerplexity } from '../model/perplexity.ts';
import { intOption, required, type Command } from './args.ts';
import { contextOption, openCorpus } from './lm-corpus.ts';
import { loadCliModel } from './model.ts';

export const perplexityCommand: Command = {
  name: 'perplexity',
  summary: "A language model's next-token cross-entropy and perplexity over text it did not train on; prints JSON.",
  usage: 'sae-lab perplexity --model DIR [--split heldout|train|all | --text FILE] [--context 128] [--tokens N] [--batch 8]',
  options: {
    model: { type: 'string', help: "Hugging Face model folder; 'builtin' for the lab's own model" },
    split: { type: 'string', help: "documents of the built-in corpus: held out from the built-in model's training, the others, or all", default: 'heldout' },
    text: { type: 'string', help: 'measure on this UTF-8 text file instead (one document per paragraph)' },
    context: { type: 'string', help: "tokens per sequence, BOS included (default 128, or the model's positions if fewer)" },
    tokens: { type: 'string', help: 'stop after this many predicted tokens (default: all of the text)' },
    batch: { type: 'string', help: 'sequences per forward pass', default: '8' },
  },
  async run(v) {
    const dir = required(v, 'model', 'perplexity');
    const batch = intOption(v, 'batch');
    const tokens = v.tokens !== undefined ? intOption(v, 'tokens') : undefined;
    const corpus = await openCorpus(v, 'perplexity', 'heldout');
    const { name, lm, plan } = await loadCliModel(dir, async (plan) => ({ input: undefined, batch, context: contextOption(v, plan.config) }));
    try {
      const r = await measurePerplexity(lm, plan.tokenizer, corpus.documents, {
        context: lm.capacity.context, batch, tokens,
        onProgress: (n, doc) => process.stderr.write(`perplexity: ${n} tokens, document ${doc}\n`),
      });
      const out = {
        model: name,
        tokens: r.tokens,
        cross_entropy: r.crossEntropy,
        perplexity: r.perplexity,
        by_kind: Object.fromEntries(Object.entries(r.byKind).map(([k, x]) => [k, { tokens: x.tokens, cross_entropy: x.crossEntropy, perplexity: x.perplexity }])),
        sequences: { context_size: r.context, prepend_bos: r.prependBos, count: r.sequences },
        corpus: corpus.describe(r.documents, tokens === undefined || r.tokens < tokens),
        seconds: r.seconds,
      };
      process.stdout.write(JSON.stringify(out) + '\n');
    } finally {
      lm.destroy();
    }
    return 0;
  },
};
