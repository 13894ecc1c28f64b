// sae-lab harvest --model DIR --hook NAME: one hook of a Hugging Face language model over the built-in
// corpus (Brown as prose and the code files, interleaved; docs/LANGUAGE-MODELS.md) or a text file →
// DIR/activations.npy (float32, rows × d, document order), DIR/tokens.jsonl (doc, sentence = sequence, pos,
// token, id, kind, and the Brown tags of prose) and DIR/harvest.json (what, from which model, how; the
// SAELens provenance keys an SAE trained on it records in its cfg.json).
import { UNIVERSAL_TAGS } from '../data/harvest/brown.ts';
import { HarvestFolderWriter } from '../data/harvest/node-writer.ts';
import { harvestModel, type LmHarvestProgress, type LmHarvestSummary } from '../model/harvest.ts';
import { HookError, parseHook } from '../model/hooks.ts';
import { CliError, intOption, required, type CliValues } from './args.ts';
import { contextOption, openCorpus } from './lm-corpus.ts';
import { loadCliModel } from './model.ts';
import { checkOutDir } from './output.ts';

/** the LM form of `sae-lab harvest` (the command dispatches here when --model is given) */
export async function runLmHarvest(v: CliValues, log: (line: string) => void): Promise<LmHarvestSummary> {
  const dir = required(v, 'model', 'harvest');
  const hook = required(v, 'hook', 'harvest');
  required(v, 'tokens', 'harvest');
  const tokens = intOption(v, 'tokens');
  const out = required(v, 'out', 'harvest');
  const batch = intOption(v, 'batch');
  if (v.layer !== undefined) throw new CliError('sae-lab harvest: --layer is for USE-lite; with --model give --hook', 2);
  const corpus = await openCorpus(v, 'harvest', 'train');
  checkOutDir(out, v.force === true);

  const { name: modelName, path, plan, lm } = await loadCliModel(dir, async (plan) => {
    try {
      parseHook(hook, plan.config);
    } catch (e) {
      if (e instanceof HookError) throw new CliError(`--hook: ${e.message}`, 2);
      throw e;
    }
    return { input: undefined, batch, context: contextOption(v, plan.config) };
  });
  const context = lm.capacity.context;
  const writer = await HarvestFolderWriter.open(out, plan.config.d, tokens);
  try {
    const summary = await harvestModel(lm, plan.tokenizer, corpus.documents, { hook, tokens, context, batch, onProgress: (p) => log(progressLine(hook, p)) }, (chunk) =>
      writer.append(chunk.rows, chunk.context),
    );
    if (summary.exhausted) log(`harvest: the text ended after ${summary.rows} tokens (asked for ${tokens})`);
    const info = {
      kind: 'language-model',
      hook: summary.hook,
      rows: summary.rows,
      d: summary.d,
      dtype: 'float32',
      tokens_per_s: summary.tokensPerS,
      seconds: summary.seconds,
      batch_sequences: batch,
      files: { activations: 'activations.npy', tokens: 'tokens.jsonl' },
      token_columns: {
        doc: 'index into corpus.documents', sentence: 'sequence index (one document per sequence)', pos: 'position in the sequence (BOS = 0)',
        token: "the token's text", id: 'token id', kind: 'prose or code', tag: 'Brown tag of its word (Brown only)', upos: 'universal tag of its word (Brown only)',
      },
      universal_tags: UNIVERSAL_TAGS,
      model: { name: modelName, path, family: plan.family.name, stored_dtypes: plan.dtypes, parameters_bytes: plan.storedBytes },
      sequences: { context_size: summary.context, prepend_bos: summary.prependBos, bos_token_id: plan.config.bosTokenId, count: summary.sequences, bos_rows: 'not kept', padding: 'at the end of a document\'s last sequence; its rows dropped' },
      corpus: corpus.describe(summary.documents, summary.exhausted),
      // what an SAE trained on these rows records in cfg.json's metadata, as SAELens does
      saelens: { model_name: modelName, hook_name: summary.hook, context_size: summary.context, prepend_bos: summary.prependBos },
      date: new Date().toISOString(),
    };
    await writer.commit({ 'harvest.json': JSON.stringify(info, null, 2) + '\n' });
    return summary;
  } catch (e) {
    await writer.abort();
    throw e;
  } finally {
    lm.destroy();
  }
}

function progressLine(hook: string, p: LmHarvestProgress): string {
  const pct = ((100 * p.rows) / p.target).toFixed(1);
  return `harvest ${hook}: ${p.rows}/${p.target} tokens (${pct}%), ${Math.round(p.tokensPerS)} tokens/s, ${p.seconds.toFixed(1)} s, document ${p.document}`;
}
