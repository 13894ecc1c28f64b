// The data worker's entry: exposes DataApi (src/worker/api.ts) over comlink.
import { expose, transfer } from 'comlink';
import { blobSource } from '../data/blob-source.ts';
import { openNpy } from '../data/formats/npy.ts';
import { openSafetensors } from '../data/formats/safetensors.ts';
import { DataError } from '../data/errors.ts';
import { openStore, type DatasetStore } from '../data/store.ts';
import type { DataApi, ImportProgress } from './api.ts';

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

const api: DataApi = {
  async start() {
    const removed = await (await getStore()).cleanupPending();
    return { removedPending: removed.length };
  },
  async importFile(file: File, onProgress: (p: ImportProgress) => void) {
    if (running) throw new DataError(file.name, 'another import is running; wait for it or cancel it');
    running = new AbortController();
    try {
      const rows = await openFile(file);
      const result = await (await getStore()).importRows(
        rows,
        { source: { kind: 'file', name: file.name, size: file.size, lastModified: file.lastModified } },
        { signal: running.signal, nonFinite: 'refuse', onProgress: (rowsDone, total) => onProgress({ rowsDone, rows: total }) },
      );
      return { dataset: result.dataset, notes: result.notes };
    } finally {
      running = undefined;
    }
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
