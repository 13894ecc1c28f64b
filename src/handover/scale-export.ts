// One folder that continues a lab run at scale (docs/HANDOVER.md): the dataset as a SAELens activation cache,
// the run's current weights in SAELens's training form, the LanguageModelSAERunnerConfig that continues it,
// train_sae.py and a README; and, when the activations came from a language model the lab ran, the model,
// the text, a config that streams from the model at a larger budget and the sparsify command for many GPUs.
// DOM-free: the CLI writes it to disk, the page zips it.
import { writeActivationCache } from '../data/formats/arrow-cache-writer.ts';
import type { RowSource } from '../data/sources.ts';
import type { Family } from '../model/families/registry.ts';
import { hookModule } from '../model/hf-modules.ts';
import type { HookPoint } from '../model/hooks.ts';
import { runnerConfig, trainingSaeConfig, trainingSaeWeights, type HandoverRun } from './saelens-runner.ts';
import { scaleReadme, sparsifyCommand } from './scale-readme.ts';
import { TRAIN_SCRIPT } from './train-script.ts';

export interface ExportModel {
  /** the model's own name (config's model_name in cfg.json) */
  name: string;
  family: Family;
  hook: HookPoint;
  /** the model folder's files, copied as they are */
  files: { name: string; read(): Promise<Uint8Array> }[];
  /** tokens per sequence the activations were taken over, and whether a BOS began each */
  contextSize: number;
  prependBos: boolean;
}

export interface ScaleExport {
  run: HandoverRun;
  /** steps the run has trained */
  stepsDone: number;
  rows: RowSource;
  /** the cache's column: the hook, as SAELens names it */
  hook: string;
  /** token positions per cached row (1 where the rows have no fixed contexts) */
  contextSize: number;
  tokenIds?: (start: number, count: number) => Promise<Int32Array>;
  model?: ExportModel;
  /** the text the activations were taken from, one entry per document */
  documents?: string[];
  /** tokens the continuation on the cache trains on; streaming from the model takes ten times as many */
  trainingTokens: number;
  /** cfg.json metadata: model_name, hook_name, context_size, … */
  metadata: Record<string, unknown>;
}

export type Write = (path: string, bytes: Uint8Array) => Promise<void>;

/** each document's text (`documents`): the tokens of its rows joined in row order, documents in order of first row */
export function documentTexts(doc: ArrayLike<number>, token: ArrayLike<string>): string[] {
  const docs = new Map<number, string[]>();
  for (let r = 0; r < doc.length; r++) {
    const parts = docs.get(doc[r]!) ?? [];
    parts.push(token[r]!);
    docs.set(doc[r]!, parts);
  }
  return [...docs.values()].map((parts) => parts.join(''));
}

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n');
const text = (s: string) => new TextEncoder().encode(s);

export interface WriteOptions {
  /** the fraction of the cache written, as it goes */
  onProgress?(fraction: number): void;
  /** stops the export before its next file or cache batch (it then rejects with the signal's reason) */
  signal?: AbortSignal;
}

/** Writes every file through `write`, the cache first (the long part); returns the paths written. */
export async function writeScaleExport(e: ScaleExport, write: Write, { onProgress, signal }: WriteOptions = {}): Promise<string[]> {
  const written: string[] = [];
  const put = async (path: string, bytes: Uint8Array) => {
    signal?.throwIfAborted();
    await write(path, bytes);
    written.push(path);
  };
  await writeActivationCache({
    rows: e.rows, hook: e.hook, contextSize: e.contextSize, tokenIds: e.tokenIds,
    write: (name, bytes) => put(`cache/${name}`, bytes),
    onProgress: (done) => onProgress?.(done / e.rows.rows),
    signal,
  });
  const c = e.run.config;
  const sae = trainingSaeConfig(e.run, e.metadata);
  await put('sae/cfg.json', json(sae));
  await put('sae/sae_weights.safetensors', trainingSaeWeights(e.run));
  const runName = (tokens: number) => `${sae.architecture}-${c.features}-LR-${c.lr}-Tokens-${tokens.toExponential(3)}`;
  const common = { saePath: 'sae', sae };
  await put('runner-config.json', json(runnerConfig(e.run, {
    ...common, trainingTokens: e.trainingTokens, runName: runName(e.trainingTokens),
    source: { kind: 'cache', path: 'cache', hook: e.hook, contextSize: e.contextSize },
  })));
  const module = e.model ? hookModule(e.model.family, e.model.hook) : null;
  if (e.model && module && e.documents) {
    const m = e.model;
    for (const f of m.files) await put(`model/${f.name}`, await f.read());
    await put('corpus/corpus.jsonl', text(e.documents.map((t) => JSON.stringify({ text: t })).join('\n') + '\n'));
    const tokens = 10 * e.trainingTokens;
    await put('runner-config-model.json', json(runnerConfig(e.run, {
      ...common, trainingTokens: tokens, runName: runName(tokens),
      source: { kind: 'model', model: './model', textPath: './corpus', hookModule: module.full, contextSize: m.contextSize, prependBos: m.prependBos },
    })));
    const sparsify = sparsifyCommand(e.run, module.base, m.contextSize, tokens);
    if (sparsify) await put('sparsify.sh', text(sparsify));
  }
  await put('lab-run.json', json({
    input_scale: e.run.inputScale,
    steps_done: e.stepsDone,
    config: c,
    dataset: { name: e.rows.name, rows: e.rows.rows, d: e.rows.d, column: e.hook, context_size: e.contextSize },
    model: e.model ? { name: e.model.name, hook: e.hook, module: module?.full ?? null } : null,
  }));
  await put('train_sae.py', text(TRAIN_SCRIPT));
  await put('README.md', text(scaleReadme(e, module)));
  return written;
}
