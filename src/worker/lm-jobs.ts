// The data worker's language-model work: adding a model folder the user picked (checked whole, then
// stored), and harvesting a hook of a model (the built-in one or a stored one) over the built-in corpus or
// the user's text into a dataset. The harvest runs on a WebGPU device of this worker's own.
import { requestBrowserDevice } from '../engine/device.ts';
import { DataError } from '../data/errors.ts';
import { encodeNpy, openNpy } from '../data/formats/npy.ts';
import { memorySource } from '../data/memory-source.ts';
import type { DatasetStore } from '../data/store.ts';
import { blobModelFiles, fetchedModelFiles, isModelFile, pickedModelFiles } from '../model/browser-files.ts';
import { browserCorpusReader } from '../model/browser-corpus.ts';
import { builtinDocuments, plainDocuments, type LmDocument } from '../model/corpus.ts';
import { openModel, readWeights, type ModelFiles, type ModelPlan } from '../model/folder.ts';
import { harvestModel, lmTokenContext, type LmHarvestSummary, type LmTokenRow } from '../model/harvest.ts';
import { hookNames, parseHook } from '../model/hooks.ts';
import { LanguageModel } from '../model/lm.ts';
import { checkLmFits } from '../model/memory.ts';
import { ModelStore, type ModelSummary } from '../model/model-store.ts';
import type { ImportProgress, ImportSummary, ModelHarvestRequest } from './api.ts';

/** the built-in model's id and folder under the page's base URL (public/models/builtin-lm) */
export const BUILTIN_MODEL = 'builtin';
const BUILTIN_DIR = 'models/builtin-lm/';
/** the built-in model's files, as its Hugging Face folder holds them (served over HTTP, the folder cannot be listed) */
const BUILTIN_FOLDER = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];
/** what a model must fit on the device to be added: the harvest's batch and context */
const HARVEST_BATCH = 8;
const DEFAULT_CONTEXT = 128;

let models: Promise<ModelStore> | undefined;
let device: Promise<{ device: GPUDevice; adapter: GPUAdapter }> | undefined;
const getModels = () => (models ??= ModelStore.open());

export async function getDevice(): Promise<{ device: GPUDevice; adapter: GPUAdapter }> {
  device ??= requestBrowserDevice().then((got) => {
    void got.device.lost.then(() => (device = undefined));
    return got;
  });
  return device;
}

function summaryOf(plan: ModelPlan, name: string): Omit<ModelSummary, 'id' | 'created' | 'bytes'> {
  const c = plan.config;
  return {
    name,
    family: plan.family.name,
    shape: `d ${c.d}, ${c.nLayers} layers, ${c.nHeads} heads (${c.nKvHeads} key/value), vocab ${c.vocab.toLocaleString('en-US')}, ${plan.dtypes.join('/')}`,
    hooks: hookNames(c),
  };
}

function builtinFiles(): ModelFiles {
  return fetchedModelFiles('builtin-lm', new URL(`${import.meta.env.BASE_URL}${BUILTIN_DIR}`, self.location.href).href);
}

// The built-in model never changes while the page is open: it is opened (its weights file fetched) once.
let builtin: Promise<ModelSummary[]> | undefined;

/** the built-in model first, then the stored ones */
export async function listModels(): Promise<ModelSummary[]> {
  builtin ??= openModel(builtinFiles()).then(
    (plan) => [{ ...summaryOf(plan, 'built-in (Brown + code)'), id: BUILTIN_MODEL, bytes: plan.storedBytes, created: 0, builtin: true }],
    () => [], // a build without the built-in model lists the user's models only
  );
  return [...(await builtin), ...(await storedModels())];
}

/** the models the user added, oldest first */
export async function storedModels(): Promise<ModelSummary[]> {
  return (await getModels()).list();
}

/**
 * A model folder the user picked: checked whole (config, tokenizer, every tensor) and against this device's
 * limits before anything is stored; then stored in one transaction.
 */
export async function addModel(files: File[]): Promise<ModelSummary> {
  const picked = pickedModelFiles(files);
  const plan = await openModel(picked);
  const { adapter } = await getDevice();
  const c = plan.config;
  checkLmFits(c, HARVEST_BATCH, Math.min(DEFAULT_CONTEXT, c.maxPositions), adapter.limits, picked.name);
  const keep = Object.fromEntries([...picked.files].filter(([name]) => isModelFile(name)));
  return (await getModels()).put(summaryOf(plan, picked.name), keep);
}

export async function removeModel(id: string): Promise<boolean> {
  return (await getModels()).remove(id);
}

export async function modelFiles(id: string): Promise<ModelFiles> {
  if (id === BUILTIN_MODEL) return builtinFiles();
  const { name, files } = await (await getModels()).files(id);
  return blobModelFiles(name, files);
}

/** a model's folder and the names of its files (what the hand-over copies) */
export async function modelFolder(id: string): Promise<{ files: ModelFiles; names: string[] }> {
  if (id === BUILTIN_MODEL) return { files: builtinFiles(), names: BUILTIN_FOLDER };
  const { name, files } = await (await getModels()).files(id);
  return { files: blobModelFiles(name, files), names: Object.keys(files).sort() };
}

/** Harvests the request's hook into a new dataset with its token context and provenance. */
export async function harvestToDataset(
  req: ModelHarvestRequest,
  store: DatasetStore,
  signal: AbortSignal,
  onProgress: (p: ImportProgress) => void,
): Promise<ImportSummary> {
  const files = await modelFiles(req.model);
  const plan = await openModel(files);
  const c = plan.config;
  parseHook(req.hook, c);
  const context = Math.min(req.context ?? DEFAULT_CONTEXT, c.maxPositions);
  const { device: dev } = await getDevice();
  checkLmFits(c, HARVEST_BATCH, context, dev.limits, files.name);
  onProgress({ rowsDone: 0, rows: req.tokens, stage: 'loading the model' });
  const lm = LanguageModel.create(dev, c, await readWeights(plan), files.name, HARVEST_BATCH, context);
  try {
    let docs: AsyncIterable<LmDocument> | LmDocument[];
    if (req.text !== undefined) {
      docs = plainDocuments(req.text, req.textName || 'my text');
      if (docs.length === 0) throw new DataError(req.textName || 'my text', 'the text is empty');
    } else docs = builtinDocuments(await browserCorpusReader(self.location.href, import.meta.env.BASE_URL), 'train');
    const rows: Float32Array[] = [];
    const tokens: LmTokenRow[] = [];
    let summary: LmHarvestSummary;
    try {
      summary = await harvestModel(
        lm, plan.tokenizer, docs,
        { hook: req.hook, tokens: req.tokens, context, batch: HARVEST_BATCH, signal, progressEveryMs: 500,
          onProgress: (p) => onProgress({ rowsDone: p.rows, rows: p.target, stage: `harvesting ${p.document} (${Math.round(p.tokensPerS).toLocaleString('en-US')} tokens/s)` }) },
        (chunk) => {
          rows.push(chunk.rows);
          for (const r of chunk.context) tokens.push(r);
        },
      );
    } catch (e) {
      if (signal.aborted) throw new DataError(files.name, `harvest cancelled after ${tokens.length.toLocaleString('en-US')} tokens; nothing was stored`);
      throw e;
    }
    signal.throwIfAborted();
    if (summary.rows === 0) throw new DataError(files.name, 'the text gave no tokens');
    const all = new Float32Array(summary.rows * c.d);
    rows.reduce((at, r) => (all.set(r, at), at + r.length), 0);
    const modelName = req.model === BUILTIN_MODEL ? 'builtin-lm' : files.name;
    const source = req.text !== undefined ? `${req.textName || 'my text'}` : 'Brown + code';
    const name = `${source}: ${modelName} ${req.hook} (${summary.rows.toLocaleString('en-US')} tokens)`;
    const bytes = encodeNpy(all, [summary.rows, c.d]);
    const result = await store.importRows(
      await openNpy(memorySource(bytes, name)),
      {
        name,
        source: {
          kind: 'harvest', name: `${source} via ${modelName} ${req.hook}`, size: bytes.length, model: req.model,
          provenance: { model_name: modelName, hook_name: req.hook, context_size: context, prepend_bos: summary.prependBos },
        },
      },
      { signal, nonFinite: 'refuse', context: lmTokenContext(tokens), onProgress: (rowsDone, total) => onProgress({ rowsDone, rows: total, stage: 'storing' }) },
    );
    const speed = `${Math.round(summary.tokensPerS).toLocaleString('en-US')} tokens/s`;
    const bos = summary.prependBos ? 'a BOS token first in every sequence (its row not kept)' : 'no BOS token';
    return {
      dataset: result.dataset,
      notes: [`Harvested ${summary.rows.toLocaleString('en-US')} tokens from ${summary.documents.length} document(s) at ${speed}: one document per sequence of up to ${context} tokens, ${bos}.`, ...result.notes],
    };
  } finally {
    lm.destroy();
  }
}
