// sae-lab eval --model: the SAE spliced into the language model at its hook, and how much of the model it
// keeps (src/model/sae-fidelity.ts: CE loss score and KL score against zero and mean ablation) on text the
// harvest did not read — the built-in corpus's held-out documents by default, or a text file. The result is
// printed and recorded under "model_fidelity" in the SAE folder's metrics.json.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { measureSpliceFidelity, type SpliceFidelity } from '../model/sae-fidelity.ts';
import { SaeSplice, specialTokenIds } from '../model/sae-splice.ts';
import { CliError, intOption, type CliValues } from './args.ts';
import { loadModelWithSae } from './sae-edits.ts';
import { contextOption, openCorpus } from './lm-corpus.ts';
import { writeFiles } from './output.ts';

export const MODEL_EVAL_OPTIONS = {
  model: { type: 'string', help: "with --model: splice the SAE into this Hugging Face model ('builtin': the lab's own) and measure CE loss and KL scores" },
  hook: { type: 'string', help: "with --model: the hook the SAE reads, for an SAE whose cfg.json names none" },
  split: { type: 'string', help: 'with --model: documents of the built-in corpus to measure on (heldout, train, all)', default: 'heldout' },
  text: { type: 'string', help: 'with --model: measure on this UTF-8 text file instead (one document per paragraph)' },
  context: { type: 'string', help: 'with --model: tokens per sequence, BOS included (default 128)' },
  tokens: { type: 'string', help: 'with --model: next-token predictions to measure (default 4096)', default: '4096' },
  batch: { type: 'string', help: 'with --model: sequences per forward pass', default: '4' },
} as const;

export async function evalOnModel(v: CliValues, dir: string): Promise<SpliceFidelity & { model: string; adapter: string; corpus: Record<string, unknown> }> {
  const tokens = intOption(v, 'tokens');
  const batch = intOption(v, 'batch');
  const corpus = await openCorpus(v, 'eval', 'heldout');
  const { name, lm, plan, gpu, input } = await loadModelWithSae(v, 'eval', batch, (plan) => contextOption(v, plan.config));
  const { hook, sae } = input;
  const { context } = lm.capacity;
  const splice = new SaeSplice(lm.device, sae, batch * context, specialTokenIds(plan.config));
  try {
    const f = await measureSpliceFidelity(lm, plan.tokenizer, splice, corpus.documents, {
      hook, context, batch, tokens,
      onProgress: (done, total) => process.stderr.write(`eval: batch ${done} of ${total}\n`),
    });
    const report = { model: name, ...f, corpus: corpus.describe(f.documents, f.tokens < tokens), adapter: gpu.adapter };
    await recordFidelity(dir, report);
    return report;
  } finally {
    splice.destroy();
    lm.destroy();
  }
}

/** the result under "model_fidelity" in the SAE folder's metrics.json (created when the folder has none) */
async function recordFidelity(dir: string, report: Record<string, unknown>): Promise<void> {
  const path = join(dir, 'metrics.json');
  let metrics: Record<string, unknown> = {};
  if (existsSync(path)) {
    try {
      metrics = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new CliError(`${path}: not valid JSON (${(e as Error).message})`);
    }
  }
  const { documents, ...kept } = report as { documents?: unknown };
  void documents;
  await writeFiles({ [path]: JSON.stringify({ ...metrics, model_fidelity: kept }, null, 2) + '\n' });
}
