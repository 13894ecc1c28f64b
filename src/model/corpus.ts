// The text a language model reads: Brown documents written back as ordinary prose, and source files as
// they are. One function writes Brown's words as text (the built-in model was trained on exactly this text,
// scripts/lm/write-corpus.ts), and it records where each word landed, so a token of the text can carry the
// part-of-speech tag of the word it falls in. No file access here: the Node and browser sides supply text.
import type { BrownDocument, UniversalTag } from '../data/harvest/brown.ts';

/** one word of a document's text: characters [start, end) */
export interface TextWord {
  start: number;
  end: number;
  sentence: number;
  tag: string;
  upos: UniversalTag;
}

export interface LmDocument {
  name: string;
  /** 'prose' (Brown, typed text) or 'code' (source files) */
  kind: 'prose' | 'code';
  text: string;
  /** the words with their tags where the source has them (Brown); empty otherwise */
  words: TextWord[];
}

// Brown writes every word and punctuation mark apart ("election ." , "`` no evidence ''"). Written back:
// no space before closing punctuation, none after an opening quote or bracket, `` and '' as straight quotes.
const NO_SPACE_BEFORE = new Set([',', '.', ';', ':', '?', '!', ')', "''", "'", ']']);
const NO_SPACE_AFTER = new Set(['``', '(', '[', '$']);
const SPELLING: Record<string, string> = { '``': '"', "''": '"' };

/** Brown's sentences → one line of prose per document, with each word's span and tags. */
export function brownText(doc: BrownDocument): LmDocument {
  let text = '';
  const words: TextWord[] = [];
  let glue = true; // no space before the document's first word
  doc.sentences.forEach((sentence, s) => {
    for (const w of sentence) {
      if (!glue && !NO_SPACE_BEFORE.has(w.word)) text += ' ';
      const written = SPELLING[w.word] ?? w.word;
      words.push({ start: text.length, end: text.length + written.length, sentence: s, tag: w.tag, upos: w.upos });
      text += written;
      glue = NO_SPACE_AFTER.has(w.word);
    }
  });
  return { name: doc.name, kind: 'prose', text, words };
}

/** a source file as a document: its text unchanged but for line endings */
export function codeDocument(name: string, text: string): LmDocument {
  return { name, kind: 'code', text: text.replace(/\r\n?/g, '\n'), words: [] };
}

/** typed or dropped text as documents: one per paragraph (blank-line separated) */
export function plainDocuments(text: string, name = 'text'): LmDocument[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p, i) => ({ name: `${name} ¶${i + 1}`, kind: 'prose' as const, text: p, words: [] }));
}

/**
 * The source code the built-in model read and the lab's harvest offers beside Brown: files of two runtime
 * dependencies, so they ship with every install (package-relative paths; the versions are recorded by the
 * corpus writer). Apache Arrow's TypeScript sources (without the generated flatbuffers code) and lit-html's
 * commented development build: classes, generics, string literals, error messages and doc comments.
 */
export const CODE_SOURCES = [
  { package: 'apache-arrow', dir: 'src', pattern: /\.ts$/, exclude: /(^|\/)fb\/|\.d\.ts$/ },
  { package: 'lit-html', dir: 'development', pattern: /^[^/]+\.js$/, exclude: /\.map$/ },
] as const;

/**
 * The held-out documents: every 20th Brown document (ca20, cb07, …: index 19, 39, … in corpus order) and
 * every 10th code file (index 9, 19, … in its sorted list). The built-in model never trained on them; its
 * perplexity and the lab's fidelity measures use them.
 */
export function isHeldOut(kind: 'prose' | 'code', index: number): boolean {
  return kind === 'prose' ? index % 20 === 19 : index % 10 === 9;
}

export type CorpusSplit = 'train' | 'heldout' | 'all';
export const CORPUS_SPLITS: readonly CorpusSplit[] = ['train', 'heldout', 'all'];

/** reads the built-in corpus's documents one at a time (from node_modules, or from the page's origin) */
export interface CorpusReader {
  proseCount: number;
  codeCount: number;
  prose(index: number): Promise<LmDocument>;
  code(index: number): Promise<LmDocument>;
}

/**
 * The built-in corpus (Brown, then code) in harvest order: the two kinds interleaved in proportion, so any
 * prefix of the harvest has prose and code in about the corpus's ratio (5 Brown documents to 1 code file).
 * Documents are read only when reached.
 */
export async function* builtinDocuments(r: CorpusReader, split: CorpusSplit = 'train'): AsyncGenerator<LmDocument> {
  const keep = (kind: 'prose' | 'code', i: number) => split === 'all' || isHeldOut(kind, i) === (split === 'heldout');
  const prose = [...Array(r.proseCount).keys()].filter((i) => keep('prose', i));
  const code = [...Array(r.codeCount).keys()].filter((i) => keep('code', i));
  let p = 0;
  let c = 0;
  while (p < prose.length || c < code.length) {
    // the kind whose share of its list is behind goes next
    if (c >= code.length || (p < prose.length && p / prose.length <= c / code.length)) yield await r.prose(prose[p++]);
    else yield await r.code(code[c++]);
  }
}

/** characters a feature's reading takes from each document (a few sequences of 64 tokens) */
export const DOCUMENT_SAMPLE_CHARS = 600;

/**
 * `chars` characters of each document — prose from its start, code from the line after its middle (a
 * source file's start is its licence header) — with its words cut to match: a sample spread over many
 * documents, so that a reading of a few thousand tokens meets prose and code alike.
 */
export async function* documentSamples(docs: AsyncIterable<LmDocument> | Iterable<LmDocument>, chars: number): AsyncGenerator<LmDocument> {
  for await (const d of docs) {
    const start = d.kind === 'code' ? d.text.indexOf('\n', Math.floor(d.text.length / 2)) + 1 : 0;
    const end = start + chars;
    const words = d.words.filter((w) => w.start >= start && w.end <= end).map((w) => ({ ...w, start: w.start - start, end: w.end - start }));
    yield { ...d, text: d.text.slice(start, end), words };
  }
}
