// The text a language-model command reads: the built-in corpus (a split of it) or a UTF-8 text file (one
// document per paragraph). Shared by `harvest --model` and `perplexity`.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { builtinDocuments, CORPUS_SPLITS, plainDocuments, type CorpusSplit, type LmDocument } from '../model/corpus.ts';
import { corpusPackages, nodeCorpusReader } from '../model/node-corpus.ts';
import type { LmConfig } from '../model/config.ts';
import { CliError, intOption, type CliValues } from './args.ts';

export interface CliCorpus {
  documents: AsyncIterable<LmDocument> | LmDocument[];
  /** for the output's JSON */
  describe(documents: string[], exhausted: boolean): Record<string, unknown>;
}

/** --split or --text, checked; the text file is read (and refused) before any model is loaded */
export async function openCorpus(v: CliValues, cmd: string, defaultSplit: CorpusSplit): Promise<CliCorpus> {
  const split = String(v.split ?? defaultSplit) as CorpusSplit;
  if (!CORPUS_SPLITS.includes(split)) throw new CliError(`sae-lab ${cmd}: --split must be one of ${CORPUS_SPLITS.join(', ')}, got '${split}'`, 2);
  const file = v.text as string | undefined;
  if (file !== undefined) {
    const name = basename(file);
    const docs = plainDocuments(await readText(file), name);
    return { documents: docs, describe: (documents, exhausted) => ({ name, documents, exhausted }) };
  }
  const packages = corpusPackages();
  return {
    documents: builtinDocuments(await nodeCorpusReader(), split),
    describe: (documents, exhausted) => ({ name: 'built-in: Brown corpus (prose) and source code (apache-arrow, lit-html), interleaved', split, packages, documents, exhausted }),
  };
}

async function readText(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new CliError(`${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CliError(`${file}: not UTF-8 text`);
  }
  if (text.trim() === '') throw new CliError(`${file}: the text is empty`);
  return text;
}

/** --context: tokens per sequence, BOS included (default 128, or the model's positions if fewer) */
export function contextOption(v: CliValues, c: LmConfig): number {
  const context = v.context !== undefined ? intOption(v, 'context', 2) : Math.min(128, c.maxPositions);
  if (context > c.maxPositions) throw new CliError(`--context ${context} is more than the model's ${c.maxPositions} positions`, 2);
  return context;
}
