// The data worker's entry: exposes DataApi (src/worker/api.ts) over comlink.
import { expose, transfer } from 'comlink';
import { blobSource } from '../data/blob-source.ts';
import { encodeNpy, openNpy } from '../data/formats/npy.ts';
import { memorySource } from '../data/memory-source.ts';
import { generateSynthetic } from '../data/synth.ts';
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
