// The data worker's entry: exposes DataApi (src/worker/api.ts) over comlink.
import { expose, transfer } from 'comlink';
import { blobSource } from '../data/blob-source.ts';
import { encodeNpy, openNpy } from '../data/formats/npy.ts';
import { memorySource } from '../data/memory-source.ts';
import { generateSynthetic } from '../data/synth.ts';
import type { HarvestLayer } from '../data/harvest/model.ts';
import { openSafetensors } from '../data/formats/safetensors.ts';
import { DataError } from '../data/errors.ts';
import { openStore, type DatasetOrigin, type DatasetStore, type ImportSource } from '../data/store.ts';
import { openArrowShards } from '../data/formats/arrow.ts';
import { arrowContext } from '../data/arrow-context.ts';
import { parseSidecar } from '../data/formats/sidecar.ts';
import type { TokenContext } from '../data/context.ts';
import type { DataApi, ImportProgress, ModelHarvestRequest, ToyOptions } from './api.ts';
import { addModel, harvestToDataset, listModels, removeModel } from './lm-jobs.ts';

let store: Promise<DatasetStore> | undefined;
let running: AbortController | undefined;
/** set by failStorageAt: the chunk index at which imports meet a full disk */
let quotaAtChunk: number | null = null;

function getStore(): Promise<DatasetStore> {
  return (store ??= openStore({
    faults: {
      beforeChunkWrite(index) {
        if (quotaAtChunk !== null && index >= quotaAtChunk) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      },
    },
  }));
}

/** What a set of chosen files is: one .npy/.safetensors (with a .jsonl token sidecar or not), or Arrow shards. */
async function openFiles(files: File[]): Promise<{ name: string; rows: ImportSource; context?: TokenContext; origin: DatasetOrigin }> {
  if (files.length === 0) throw new DataError('import', 'no file chosen');
  const origin = (name: string): DatasetOrigin => ({
    kind: 'file', name, size: files.reduce((n, f) => n + f.size, 0), lastModified: Math.max(...files.map((f) => f.lastModified)),
  });
  const ext = (f: File) => f.name.toLowerCase().split('.').pop();
  if (files.some((f) => ext(f) === 'arrow')) {
    const other = files.find((f) => ext(f) !== 'arrow' && !ARROW_JSON.includes(f.name));
    if (other) throw new DataError(other.name, 'an Arrow cache is read from its .arrow shards, dataset_info.json and state.json; choose only those');
    const rows = await openArrowShards(files.map((f) => ({ name: f.name, source: blobSource(f) })));
    const folder = files[0]!.webkitRelativePath.split('/')[0] || `${rows.column} (${rows.shards.length} shard${rows.shards.length === 1 ? '' : 's'})`;
    // SAELens names a cache's column after the hook: an SAE trained on it records where it reads
    return { name: folder, rows, context: await arrowContext(rows), origin: { ...origin(folder), provenance: { hook_name: rows.column } } };
  }
  const sidecars = files.filter((f) => ext(f) === 'jsonl');
  const main = files.filter((f) => ext(f) !== 'jsonl');
  if (main.length !== 1 || sidecars.length > 1) {
    throw new DataError(files.map((f) => f.name).join(', '), 'choose one .npy or .safetensors file, optionally with its .jsonl token sidecar, or the .arrow shards of one cache');
  }
  const file = main[0]!;
  const src = blobSource(file);
  let rows: ImportSource;
  if (ext(file) === 'npy') rows = await openNpy(src);
  else if (ext(file) === 'safetensors') rows = await openSafetensors(src);
  else throw new DataError(file.name, `unsupported file type '.${ext(file)}'; expected .npy, .safetensors or .arrow shards`);
  const context = sidecars[0] ? await parseSidecar(blobSource(sidecars[0]), rows.rows) : undefined;
  return { name: file.name, rows, context, origin: origin(file.name) };
}

const ARROW_JSON = ['dataset_info.json', 'state.json'];

/** One import at a time: the running one can be cancelled. */
async function importing<T>(name: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  if (running) throw new DataError(name, 'another import is running; wait for it or cancel it');
  running = new AbortController();
  try {
    return await work(running.signal);
  } finally {
    running = undefined;
  }
}

const api: DataApi = {
  async start() {
    const removed = await (await getStore()).cleanupPending();
    return { removedPending: removed.length };
  },
  importFiles(files: File[], onProgress: (p: ImportProgress) => void) {
    return importing(files[0]?.name ?? 'import', async (signal) => {
      const { name, rows, context, origin } = await openFiles(files);
      const result = await (await getStore()).importRows(
        rows,
        { name, source: origin },
        { signal, context, nonFinite: 'refuse', onProgress: (rowsDone, total) => onProgress({ rowsDone, rows: total }) },
      );
      return { dataset: result.dataset, notes: result.notes };
    });
  },
  createToyDataset(o: ToyOptions, onProgress: (p: ImportProgress) => void) {
    const name = `toy superposition (d=${o.d}, ${o.features} true directions)`;
    return importing(name, async (signal) => {
      const { data } = generateSynthetic(o);
      const bytes = encodeNpy(data, [o.rows, o.d]);
      const rows = await openNpy(memorySource(bytes, name));
      const result = await (await getStore()).importRows(
        rows,
        { name, source: { kind: 'synthetic', name, size: bytes.length } },
        { signal, nonFinite: 'refuse', onProgress: (rowsDone, total) => onProgress({ rowsDone, rows: total }) },
      );
      return { dataset: result.dataset, notes: result.notes };
    });
  },
  createBrownDataset(o: { layer: HarvestLayer; tokens: number }, onProgress: (p: ImportProgress) => void) {
    const name = `Brown corpus: USE-lite ${o.layer} (${o.tokens.toLocaleString('en-US')} tokens)`;
    return importing(name, async (signal) => {
      // TF.js and the model load only when asked for: most sessions never harvest.
      const { BrowserHarvester } = await import('../data/harvest/browser-harvest.ts');
      const harvester = new BrowserHarvester(self.location.href, import.meta.env.BASE_URL);
      const out = await harvester.harvestBrown({ layer: o.layer, tokens: o.tokens, signal }, (p) =>
        onProgress({ rowsDone: p.rows, rows: p.target, stage: `harvesting ${p.document} (${Math.round(p.tokensPerS).toLocaleString('en-US')} tokens/s)` }),
      );
      signal.throwIfAborted();
      const d = out.rows.length / out.summary.rows;
      const bytes = encodeNpy(out.rows, [out.summary.rows, d]);
      const rows = await openNpy(memorySource(bytes, name));
      const result = await (await getStore()).importRows(
        rows,
        { name, source: { kind: 'harvest', name: `${out.corpus} via USE-lite ${o.layer}`, size: bytes.length } },
        { signal, nonFinite: 'refuse', context: out.context, onProgress: (rowsDone, total) => onProgress({ rowsDone, rows: total, stage: 'storing' }) },
      );
      const speed = `${Math.round(out.summary.tokensPerS).toLocaleString('en-US')} tokens/s`;
      return { dataset: result.dataset, notes: [`Harvested at ${speed} from ${out.documentsFetched} Brown documents.`, ...result.notes] };
    });
  },
  createTextDataset(o: { text: string; name: string; layer: HarvestLayer }, onProgress: (p: ImportProgress) => void) {
    const name = `${o.name.trim() || 'my text'}: USE-lite ${o.layer}`;
    return importing(name, async (signal) => {
      const { BrowserHarvester } = await import('../data/harvest/browser-harvest.ts');
      const harvester = new BrowserHarvester(self.location.href, import.meta.env.BASE_URL);
      const out = await harvester.harvestText(o.text, o.name.trim() || 'my text', o.layer, {
        signal,
        onProgress: (p) => onProgress({ rowsDone: p.rows, rows: 0, stage: `harvesting (${Math.round(p.tokensPerS).toLocaleString('en-US')} tokens/s)` }),
      });
      const bytes = encodeNpy(out.rows, [out.summary.rows, out.summary.d]);
      const result = await (await getStore()).importRows(
        await openNpy(memorySource(bytes, name)),
        { name, source: { kind: 'harvest', name: `typed text via USE-lite ${o.layer}`, size: bytes.length } },
        { signal, nonFinite: 'refuse', context: out.context, onProgress: (rowsDone, total) => onProgress({ rowsDone, rows: total, stage: 'storing' }) },
      );
      const speed = `${Math.round(out.summary.tokensPerS).toLocaleString('en-US')} tokens/s`;
      const cut = out.summary.truncatedTokens ? ` ${out.summary.truncatedTokens} tokens past the model's 128 per sentence were left out.` : '';
      return { dataset: result.dataset, notes: [`Harvested ${out.summary.rows.toLocaleString('en-US')} tokens from ${out.summary.documents.length} paragraph(s) at ${speed}.${cut}`, ...result.notes] };
    });
  },
  listModels: () => listModels(),
  addModel: (files: File[]) => addModel(files),
  removeModel: (id: string) => removeModel(id),
  createModelDataset(req: ModelHarvestRequest, onProgress: (p: ImportProgress) => void) {
    return importing(req.model, async (signal) => harvestToDataset(req, await getStore(), signal, onProgress));
  },
  failStorageAt(chunk: number | null) {
    quotaAtChunk = chunk;
  },
  cancelImport() {
    running?.abort();
  },
  async list() {
    return (await getStore()).list();
  },
  async rename(id, name) {
    return (await getStore()).rename(id, name);
  },
  async remove(id) {
    return (await getStore()).delete(id);
  },
  async exportNpy(id) {
    const out = await (await getStore()).exportNpy(id);
    return transfer(out, [out.npy.buffer, ...(out.sidecar ? [out.sidecar.buffer] : [])] as ArrayBuffer[]);
  },
};

expose(api);
