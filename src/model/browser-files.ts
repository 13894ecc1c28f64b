// Model folders in the page: files the user picked (a folder or its files), files stored in IndexedDB, and
// the built-in model served from the page's own origin; each as ModelFiles for openModel.
import { blobSource } from '../data/blob-source.ts';
import { DataError } from '../data/errors.ts';
import type { ModelFiles } from './folder.ts';

/** the files of a model folder the page keeps: what openModel reads, and nothing else */
export function isModelFile(name: string): boolean {
  return /^(config|generation_config|tokenizer|tokenizer_config|special_tokens_map)\.json$|\.safetensors$|^model\.safetensors\.index\.json$/.test(name);
}

/** files by their own names; a folder's name comes from their webkitRelativePath */
export function pickedModelFiles(files: readonly File[]): ModelFiles & { files: Map<string, File> } {
  if (files.length === 0) throw new DataError('model', 'no file chosen');
  const folder = files[0].webkitRelativePath.split('/')[0] || '';
  const byName = new Map<string, File>();
  for (const f of files) {
    // a picked folder's sub-folders (e.g. onnx/, .cache/) hold nothing this loader reads
    const parts = f.webkitRelativePath ? f.webkitRelativePath.split('/') : [f.name];
    if (parts.length > 2) continue;
    if (byName.has(f.name)) throw new DataError(f.name, 'chosen twice; choose one model folder');
    byName.set(f.name, f);
  }
  // loose files carry no folder name
  const name = folder || 'my model';
  return { name, files: byName, open: async (file) => (byName.has(file) ? blobSource(byName.get(file)!, `${name}/${file}`) : undefined) };
}

/** blobs by file name (a stored model) */
export function blobModelFiles(name: string, blobs: Record<string, Blob>): ModelFiles {
  return { name, open: async (file) => (blobs[file] ? blobSource(blobs[file], `${name}/${file}`) : undefined) };
}

/** a folder served over HTTP (the built-in model under the page's base URL); a 404 is a missing file */
export function fetchedModelFiles(name: string, baseUrl: string): ModelFiles {
  const root = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return {
    name,
    async open(file) {
      const res = await fetch(new URL(file, root));
      if (res.status === 404) return undefined;
      if (!res.ok) throw new DataError(`${name}/${file}`, `HTTP ${res.status} ${res.statusText}`);
      return blobSource(await res.blob(), `${name}/${file}`);
    },
  };
}
