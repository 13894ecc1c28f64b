// Opening an activation file for the CLI by its extension, streamed through a Node file handle.
import { extname } from 'node:path';
import { openNpy } from '../data/formats/npy.ts';
import { openSafetensors } from '../data/formats/safetensors.ts';
import { openFileSource, type FileSource } from '../data/node-file.ts';
import type { RowSource } from '../data/sources.ts';
import { CliError } from './args.ts';

export interface OpenedData {
  rows: RowSource;
  close(): Promise<void>;
}

export async function openActivations(path: string, tensor?: string): Promise<OpenedData> {
  const ext = extname(path).toLowerCase();
  if (ext !== '.npy' && ext !== '.safetensors') {
    throw new CliError(`${path}: unsupported file type '${ext || '(none)'}'; expected .npy or .safetensors`);
  }
  let file: FileSource;
  try {
    file = await openFileSource(path);
  } catch (e) {
    throw new CliError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const rows = ext === '.npy' ? await openNpy(file) : await openSafetensors(file, tensor);
    return { rows, close: () => file.close() };
  } catch (e) {
    await file.close();
    throw e;
  }
}
