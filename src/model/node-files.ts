// A model folder on disk (Node: the CLI and the tests).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openFileSource, type FileSource } from '../data/node-file.ts';
import { DataError } from '../data/errors.ts';
import type { ModelFiles } from './folder.ts';

export interface NodeModelFiles extends ModelFiles {
  close(): Promise<void>;
}

export function nodeModelFiles(dir: string): NodeModelFiles {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DataError(dir, 'not a folder (a model is given as its Hugging Face folder)');
  const opened: FileSource[] = [];
  return {
    name: dir,
    async open(file: string) {
      const path = join(dir, file);
      if (!existsSync(path)) return undefined;
      const src = await openFileSource(path);
      opened.push(src);
      return src;
    },
    async close() {
      await Promise.all(opened.map((s) => s.close()));
    },
  };
}
