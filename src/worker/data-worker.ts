// The data worker's entry: exposes DataApi (src/worker/api.ts) over comlink.
import { expose, transfer } from 'comlink';
import { blobSource } from '../data/blob-source.ts';
import { encodeNpy, openNpy } from '../data/formats/npy.ts';
import { memorySource } from '../data/memory-source.ts';
import { generateSynthetic } from '../data/synth.ts';
import type { HarvestLayer } from '../data/harvest/model.ts';
import { openSafetensors } from '../data/formats/safetensors.ts';
import { DataError } from '../data/errors.ts';
import { openStore, type DatasetStore } from '../data/store.ts';
import type { DataApi, ImportProgress, ToyOptions } from './api.ts';

let store: Promise<DatasetStore> | undefined;
let running: AbortController | undefined;

function getStore(): Promise<DatasetStore> {
  return (store ??= openStore());
}

async function openFile(file: File) {
  const src = blobSource(file);
  const ext = file.name.toLowerCase().split('.').pop();
  if (ext === 'npy') return openNpy(src);
  if (ext === 'safetensors') return openSafetensors(src);
  throw new DataError(file.name, `unsupported file type '.${ext}'; expected .npy or .safetensors`);
}

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
  importFile(file: File, onProgress: (p: ImportProgress) => void) {
    return importing(file.name, async (signal) => {
      const rows = await openFile(file);
      const result = await (await getStore()).importRows(
        rows,
        { source: { kind: 'file', name: file.name, size: file.size, lastModified: file.lastModified } },
        { signal, nonFinite: 'refuse', onProgress: (rowsDone, total) => onProgress({ rowsDone, rows: total }) },
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
      const out = await harvester.harvestBrown({ layer: o.layer, tokens: o.tokens }, (p) =>
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
