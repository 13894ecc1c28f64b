// Opening activations for the CLI: a .npy or .safetensors file, or a folder of `datasets` Arrow shards
// (as SAELens caches activations), streamed through Node file handles; plus document ids from a token
// sidecar (or, for Arrow caches, one document per cached context) so held-out rows are split by document.
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { openArrowShards } from '../data/formats/arrow.ts';
import { openNpy } from '../data/formats/npy.ts';
import { parseSidecar } from '../data/formats/sidecar.ts';
import { openSafetensors } from '../data/formats/safetensors.ts';
import { openFileSource, type FileSource } from '../data/node-file.ts';
import type { RowSource } from '../data/sources.ts';
import { CliError } from './args.ts';

export interface OpenedData {
  rows: RowSource;
  /** (rows) document id per row, when the data has documents */
  docs?: Int32Array;
  /** the hook the rows came from where the data names it (an Arrow cache's column, as SAELens names it) */
  hookName?: string;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** tensor name inside a .safetensors file */
  tensor?: string;
  /** column of an Arrow cache */
  column?: string;
  /** JSON-Lines token sidecar, one line per row */
  sidecar?: string;
}

async function open(path: string): Promise<FileSource> {
  try {
    return await openFileSource(path);
  } catch (e) {
    throw new CliError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

async function openRows(path: string, o: OpenOptions, files: FileSource[]): Promise<{ rows: RowSource; docs?: Int32Array; hookName?: string }> {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    // a missing path is reported by open() below with its error code
  }
  if (isDir) {
    for (const name of readdirSync(path).sort()) {
      if (/\.arrow$|^dataset_info\.json$|^state\.json$/.test(name)) files.push(await open(join(path, name)));
    }
    if (!files.some((f) => f.name.endsWith('.arrow'))) throw new CliError(`${path}: folder holds no .arrow shards`);
    const rows = await openArrowShards(files.map((source) => ({ name: source.name, source })), { column: o.column });
    return { rows, docs: Int32Array.from({ length: rows.rows }, (_, r) => Math.floor(r / rows.contextSize)), hookName: rows.column };
  }
  const ext = extname(path).toLowerCase();
  if (ext !== '.npy' && ext !== '.safetensors') {
    throw new CliError(`${path}: unsupported file type '${ext || '(none)'}'; expected .npy, .safetensors or a folder of .arrow shards`);
  }
  const file = await open(path);
  files.push(file);
  return { rows: ext === '.npy' ? await openNpy(file) : await openSafetensors(file, o.tensor) };
}

export async function openActivations(path: string, o: OpenOptions = {}): Promise<OpenedData> {
  const files: FileSource[] = [];
  const close = async () => {
    for (const f of files) await f.close();
  };
  try {
    const opened = await openRows(path, o, files);
    if (o.sidecar) {
      const side = await open(o.sidecar);
      files.push(side);
      opened.docs = (await parseSidecar(side, opened.rows.rows)).doc;
    }
    return { ...opened, close };
  } catch (e) {
    await close();
    throw e;
  }
}
