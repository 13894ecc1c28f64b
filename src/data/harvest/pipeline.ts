// Harvest: Brown documents → SentencePiece tokens (each carrying its word's Brown and universal tag) →
// one layer of the model, batch by batch, rows in document order. The caller supplies the documents and a
// sink for each batch's rows, so the same loop serves the CLI (files) and, later, a browser (memory).
import { Interner, type TokenContext } from '../context.ts';
import { UNIVERSAL_TAGS, type BrownDocument, type BrownWord, type UniversalTag } from './brown.ts';
import { harvestLayerSorted, LAYER_NODES, MAX_SENTENCE_TOKENS, type HarvestLayer, type UseLite } from './model.ts';
import type { SentencePieceTokenizer } from './tokenizer.ts';

/** what one activation row was computed from (one line of tokens.jsonl) */
export interface TokenRow {
  /** document index in corpus order (0 = ca01) */
  doc: number;
  /** sentence index, counted over the whole corpus from 0 */
  sentence: number;
  /** position of the token in its sentence */
  pos: number;
  /** the SentencePiece piece, with its '▁' */
  token: string;
  /** the Brown tag of the word the piece came from */
  tag: string;
  /** its universal tag */
  upos: UniversalTag;
}

export interface HarvestChunk {
  /** (context.length, d) float32 */
  rows: Float32Array;
  context: TokenRow[];
}

export interface HarvestProgress {
  rows: number;
  target: number;
  seconds: number;
  tokensPerS: number;
  document: string;
}

export interface HarvestOptions {
  layer: HarvestLayer;
  /** rows to harvest */
  tokens: number;
  /** sentences per model call */
  batchSentences: number;
  /** batches read ahead and sorted by sentence length before running (default 8) */
  sortWindowBatches?: number;
  onProgress?: (p: HarvestProgress) => void;
  /** milliseconds between progress reports (default 2000) */
  progressEveryMs?: number;
  /** stops the harvest (it rejects with the signal's reason) between sentences */
  signal?: AbortSignal;
}

export interface HarvestSummary {
  layer: HarvestLayer;
  node: string;
  rows: number;
  d: number;
  seconds: number;
  tokensPerS: number;
  /** names of the documents the rows come from, in order (doc index i ↔ documents[i]) */
  documents: string[];
  sentences: number;
  /** sentences longer than the model's 128 tokens, cut to their first 128 */
  truncatedSentences: number;
  truncatedTokens: number;
  /** true when the corpus ended before `tokens` rows */
  exhausted: boolean;
}

/** one sentence ready for the model */
interface TokenizedSentence {
  ids: number[];
  context: TokenRow[];
}

/** A sentence's words → piece ids and one context row per piece (the piece inherits its word's tags). */
export function tokenizeSentence(
  tokenizer: SentencePieceTokenizer,
  words: BrownWord[],
  where: { doc: number; sentence: number },
): { ids: number[]; context: TokenRow[] } {
  const pieces = tokenizer.encodeWords(words.map((w) => modelText(w.word)));
  return {
    ids: pieces.map((p) => p.id),
    context: pieces.map((p, pos) => ({ ...where, pos, token: p.text, tag: words[p.word].tag, upos: words[p.word].upos })),
  };
}

/** sentences as token ids (within the model's 128 tokens) and as text */
export interface SentenceSet {
  ids: number[][];
  text: string[];
}

/**
 * n sentences of the documents given, as token ids and text, each within the model's 128 tokens: from the
 * corpus's start (fromEnd false: the text a harvest reads), or from its END backwards (documents given in
 * reverse; text a harvest from the start has not read) returned in corpus order.
 */
export async function corpusSentences(docs: AsyncIterable<BrownDocument> | Iterable<BrownDocument>, tokenizer: SentencePieceTokenizer, n: number, fromEnd: boolean): Promise<SentenceSet> {
  const out: SentenceSet = { ids: [], text: [] };
  outer: for await (const doc of docs) {
    for (const words of fromEnd ? [...doc.sentences].reverse() : doc.sentences) {
      const text = words.map((w) => modelText(w.word));
      const ids = tokenizer.encodeWords(text).map((p) => p.id);
      if (ids.length === 0 || ids.length > MAX_SENTENCE_TOKENS) continue;
      out.ids.push(ids);
      out.text.push(text.join(' '));
      if (out.ids.length === n) break outer;
    }
  }
  if (fromEnd) [out.ids, out.text] = [out.ids.reverse(), out.text.reverse()];
  return out;
}

/** The text the model reads for a Brown word: Brown's `` and '' quote marks become ". */
export function modelText(word: string): string {
  return word === '``' || word === "''" ? '"' : word;
}

/** Runs the harvest; `sink` receives each window's rows (in document order) before the next one starts. */
export async function harvestCorpus(
  use: UseLite,
  documents: AsyncIterable<BrownDocument> | Iterable<BrownDocument>,
  opts: HarvestOptions,
  sink: (chunk: HarvestChunk) => Promise<void> | void,
): Promise<HarvestSummary> {
  const run = new HarvestRun(use, opts, sink);
  outer: for await (const doc of documents) {
    run.documents.push(doc.name);
    for (const words of doc.sentences) {
      await run.add(words);
      if (run.done) break outer;
    }
  }
  await run.flush();
  return run.summary();
}

/** one harvest's state: the window of sentences waiting for the model, and the counts */
class HarvestRun {
  readonly documents: string[] = [];
  private rows = 0;
  private sentences = 0;
  private truncatedSentences = 0;
  private truncatedTokens = 0;
  // sentences wait in a window of sortWindowBatches × batchSentences, run sorted by length, and reach the
  // sink in document order
  private window: TokenizedSentence[] = [];
  private windowTokens = 0;
  private readonly windowSize: number;
  private readonly t0 = performance.now();
  private lastReport = this.t0;

  constructor(
    private readonly use: UseLite,
    private readonly opts: HarvestOptions,
    private readonly sink: (chunk: HarvestChunk) => Promise<void> | void,
  ) {
    this.windowSize = opts.batchSentences * (opts.sortWindowBatches ?? 8);
  }

  get done(): boolean {
    return this.rows >= this.opts.tokens;
  }

  /** tokenizes a sentence (cut to the model's 128 tokens) and runs the window when it is full or enough */
  async add(words: BrownWord[]): Promise<void> {
    this.opts.signal?.throwIfAborted();
    const s = tokenizeSentence(this.use.tokenizer, words, { doc: this.documents.length - 1, sentence: this.sentences++ });
    const cut = Math.max(0, s.ids.length - MAX_SENTENCE_TOKENS);
    if (cut > 0) {
      this.truncatedSentences++;
      this.truncatedTokens += cut;
    }
    this.window.push({ ids: s.ids.slice(0, MAX_SENTENCE_TOKENS), context: s.context.slice(0, MAX_SENTENCE_TOKENS) });
    this.windowTokens += s.ids.length - cut;
    if (this.window.length >= this.windowSize || this.rows + this.windowTokens >= this.opts.tokens) await this.flush();
  }

  /** runs the window and hands its rows (no more than still wanted) to the sink */
  async flush(): Promise<void> {
    if (this.window.length === 0) return;
    const { d } = LAYER_NODES[this.opts.layer];
    const wanted = Math.min(this.windowTokens, this.opts.tokens - this.rows);
    const acts = await harvestLayerSorted(this.use, this.window.map((s) => s.ids), this.opts.layer, this.opts.batchSentences);
    const context = this.window.flatMap((s) => s.context).slice(0, wanted);
    await this.sink({ rows: acts.subarray(0, wanted * d), context });
    this.rows += wanted;
    this.window = [];
    this.windowTokens = 0;
    this.report();
  }

  private seconds(): number {
    return (performance.now() - this.t0) / 1000;
  }

  private report(): void {
    const now = performance.now();
    if (!this.opts.onProgress || (now - this.lastReport < (this.opts.progressEveryMs ?? 2000) && !this.done)) return;
    this.lastReport = now;
    const seconds = this.seconds();
    const document = this.documents[this.documents.length - 1];
    this.opts.onProgress({ rows: this.rows, target: this.opts.tokens, seconds, tokensPerS: this.rows / seconds, document });
  }

  summary(): HarvestSummary {
    const { node, d } = LAYER_NODES[this.opts.layer];
    const seconds = this.seconds();
    return {
      layer: this.opts.layer, node, rows: this.rows, d, seconds, tokensPerS: this.rows / seconds, documents: this.documents,
      sentences: this.sentences, truncatedSentences: this.truncatedSentences, truncatedTokens: this.truncatedTokens,
      exhausted: this.rows < this.opts.tokens,
    };
  }
}

/** Context rows → the columnar TokenContext, with label columns pos_brown and pos_universal. */
export function toTokenContext(rows: TokenRow[]): TokenContext {
  const strings = new Interner();
  const brown = new Interner();
  const universal = new Interner(UNIVERSAL_TAGS);
  const n = rows.length;
  const ctx: TokenContext = {
    rows: n, doc: new Int32Array(n), sentence: new Int32Array(n), pos: new Int32Array(n), token: new Int32Array(n),
    strings: strings.names,
    labels: {
      pos_brown: { values: new Int32Array(n), names: brown.names },
      pos_universal: { values: new Int32Array(n), names: universal.names },
    },
  };
  rows.forEach((r, i) => {
    ctx.doc[i] = r.doc;
    ctx.sentence[i] = r.sentence;
    ctx.pos[i] = r.pos;
    ctx.token[i] = strings.id(r.token);
    ctx.labels.pos_brown.values[i] = brown.id(r.tag);
    ctx.labels.pos_universal.values[i] = universal.id(r.upos);
  });
  return ctx;
}
