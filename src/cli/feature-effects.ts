// What an SAE's features do in its model, from the command line (JSON on stdout):
//   sae-lab effects   — a feature's logit effects (the tokens it promotes and suppresses), its strongest
//                       activations on held-out text with the next token, and its measured ablation effect;
//   sae-lab attribute — each (position, feature)'s exact contribution to a target next token;
//   sae-lab concept   — the features that separate texts for a concept from texts against it, beside a probe.
import { attributeNextToken } from '../model/attribution.ts';
import { conceptFeatures } from '../model/concept.ts';
import { featureOnText } from '../model/feature-effects.ts';
import { logitEffects } from '../model/logit-effects.ts';
import { SaeSplice, specialTokenIds } from '../model/sae-splice.ts';
import { collectBatches } from '../model/sequences.ts';
import { DOCUMENT_SAMPLE_CHARS, documentSamples } from '../model/corpus.ts';
import { CliError, intOption, required, type Command } from './args.ts';
import { contextOption, openCorpus } from './lm-corpus.ts';
import { loadModelWithSae } from './sae-edits.ts';

const MODEL_SAE = {
  model: { type: 'string', help: "Hugging Face model folder; 'builtin' for the lab's own" },
  sae: { type: 'string', help: 'SAELens SAE folder (cfg.json names the hook it reads)' },
  hook: { type: 'string', help: 'the hook the SAE reads, for an SAE whose cfg.json names none' },
} as const;

function featureList(arg: unknown, F: number): number[] {
  const list = String(arg).split(',').map((s) => Number(s.trim()));
  const bad = list.find((f) => !Number.isInteger(f) || f < 0 || f >= F);
  if (bad !== undefined) throw new CliError(`--feature: ${bad} is not one of the SAE's ${F} features (0 … ${F - 1})`, 2);
  return list;
}

export const effectsCommand: Command = {
  name: 'effects',
  summary: "What SAE features do in their model: logit effects, strongest activations on held-out text, measured ablation effect; prints JSON.",
  usage: 'sae-lab effects --model DIR --sae DIR --feature F[,F…] [--split heldout|train|all | --text FILE] [--tokens 4096] [--context 64]',
  options: {
    ...MODEL_SAE,
    feature: { type: 'string', help: 'feature indices, comma-separated' },
    split: { type: 'string', help: 'documents of the built-in corpus to read', default: 'heldout' },
    text: { type: 'string', help: 'read this UTF-8 text file instead (one document per paragraph)' },
    tokens: { type: 'string', help: 'tokens of text to read, 600 characters from each document', default: '4096' },
    context: { type: 'string', help: 'tokens per sequence, BOS included (default 64)', default: '64' },
  },
  async run(v) {
    required(v, 'feature', 'effects');
    const tokens = intOption(v, 'tokens');
    const batch = 8;
    const corpus = await openCorpus(v, 'effects', 'heldout');
    const { name, lm, plan, gpu, input, weights } = await loadModelWithSae(v, 'effects', batch, (plan) => contextOption(v, plan.config));
    const features = featureList(v.feature, input.sae.features);
    const splice = new SaeSplice(lm.device, input.sae, batch * lm.capacity.context, specialTokenIds(plan.config));
    try {
      const { batches } = await collectBatches(plan.tokenizer, plan.config, documentSamples(corpus.documents, DOCUMENT_SAMPLE_CHARS), { context: lm.capacity.context, batch, tokens });
      const text = (id: number) => plan.tokenizer.tokenLabel(id);
      const d = input.sae.d;
      const out = [];
      for (const feature of features) {
        process.stderr.write(`effects: feature ${feature}\n`);
        const logits = logitEffects(plan.config, weights, input.sae.W_dec.subarray(feature * d, (feature + 1) * d), text);
        out.push({ feature, logit_effects: logits, on_text: await featureOnText(lm, plan.tokenizer, splice, input.hook, feature, batches) });
      }
      process.stdout.write(JSON.stringify({ model: name, sae: input.dir, hook: input.hook, features: out, adapter: gpu.adapter }) + '\n');
    } finally {
      splice.destroy();
      lm.destroy();
    }
    return 0;
  },
};

export const attributeCommand: Command = {
  name: 'attribute',
  summary: "Each (position, feature)'s exact contribution to the log-probability of a next token; prints JSON.",
  usage: 'sae-lab attribute --model DIR --sae DIR --text "…" --target TOKEN [--per-position 8] [--top 20]',
  options: {
    ...MODEL_SAE,
    text: { type: 'string', help: 'the prompt' },
    target: { type: 'string', help: "the next token, as text (e.g. ' city'; it must be one token) or #id" },
    'per-position': { type: 'string', help: 'the strongest features tried at each position', default: '8' },
    top: { type: 'string', help: 'contributions printed, largest first', default: '20' },
  },
  async run(v) {
    const text = required(v, 'text', 'attribute');
    const targetArg = required(v, 'target', 'attribute');
    const { lm, plan, input } = await loadModelWithSae(v, 'attribute', 16, (plan) => Math.min(plan.config.maxPositions, plan.tokenizer.encode(text).length));
    try {
      const ids = plan.tokenizer.encode(text);
      const target = /^#\d+$/.test(targetArg) ? Number(targetArg.slice(1)) : onlyToken(plan.tokenizer.encodeRaw(targetArg), targetArg);
      const r = await attributeNextToken(lm, input.sae, input.hook, ids, target, { perPosition: intOption(v, 'per-position'), skip: specialTokenIds(plan.config) });
      const pieces = plan.tokenizer.pieces(ids);
      const top = r.contributions.slice(0, intOption(v, 'top')).map((c) => ({ ...c, token: pieces[c.position] }));
      process.stdout.write(JSON.stringify({ tokens: pieces, target: { id: target, token: plan.tokenizer.pieces([target])[0] }, log_prob: r.logProb, tried: r.contributions.length, contributions: top }) + '\n');
    } finally {
      lm.destroy();
    }
    return 0;
  },
};

function onlyToken(ids: number[], text: string): number {
  if (ids.length !== 1) throw new CliError(`--target '${text}' is ${ids.length} tokens for this model's tokenizer; give one token (or #id)`, 2);
  return ids[0]!;
}

export const conceptCommand: Command = {
  name: 'concept',
  summary: 'The SAE features that separate texts for a concept from texts against it, beside a linear probe; prints JSON.',
  usage: 'sae-lab concept --model DIR --sae DIR --for "…" [--for "…"] --against "…" [--against "…"] [--top 12]',
  options: {
    ...MODEL_SAE,
    for: { type: 'string', multiple: true, help: 'a text showing the concept (repeat the option for more)' },
    against: { type: 'string', multiple: true, help: 'a text without it (repeat the option for more)' },
    top: { type: 'string', help: 'features printed', default: '12' },
  },
  async run(v) {
    const texts = (k: 'for' | 'against') => ([] as string[]).concat((v[k] as unknown as string[] | string | undefined) ?? []);
    if (texts('for').length === 0 || texts('against').length === 0) throw new CliError('sae-lab concept: give at least one --for and one --against text', 2);
    const { lm, plan, input } = await loadModelWithSae(v, 'concept', 1, (plan) => Math.min(plan.config.maxPositions, Math.max(...[...texts('for'), ...texts('against')].map((t) => plan.tokenizer.encode(t).length))));
    try {
      const ids = (k: 'for' | 'against') => texts(k).map((t) => plan.tokenizer.encode(t));
      const r = await conceptFeatures(lm, input.sae, input.hook, { for: ids('for'), against: ids('against') }, intOption(v, 'top'));
      process.stdout.write(JSON.stringify(r) + '\n');
    } finally {
      lm.destroy();
    }
    return 0;
  },
};
