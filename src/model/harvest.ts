// Harvest: documents → token sequences → one hook of a language model, read on the GPU batch by batch, rows
// in document order. The caller supplies the documents and a sink for each batch's rows, so the same loop
// serves the CLI (files) and the page (the browser's store).
//
// Sequences, as SAELens makes them with prepend_bos (and as the built-in model was trained):
//   - one document per sequence: a document's tokens are cut into pieces of `context` − 1 (or `context`
//     when the model has no BOS token), and every piece is its own sequence; sequences never mix documents;
//   - the BOS token first in every sequence, when the model has one (prepend_bos); its row is not kept
//     (the BOS position is an attention sink whose activation is huge and says nothing about the text);
//   - the last piece of a document is padded at its end to the batch's length; the model is causal, so
//     padding changes no earlier position, and padded rows are dropped.
import { Interner, type TokenContext } from '../data/context.ts';
import { UNIVERSAL_TAGS, type UniversalTag } from '../data/harvest/brown.ts';
import type { LmDocument } from './corpus.ts';
import { parseHook } from './hooks.ts';
import type { LanguageModel } from './lm.ts';
import type { LmTokenizer } from './tokenizer.ts';

/** what one activation row was computed from (one line of tokens.jsonl) */
export interface LmTokenRow {
  /** document index, in the order the documents came */
  doc: number;
  /** sequence index over the whole harvest (the "sentence" of the token sidecar) */
  sentence: number;
  /** position in the sequence the model saw (the BOS is position 0, so a document's first token is 1) */
  pos: number;
  /** the token's text */
  token: string;
  /** the token id */
  id: number;
  /** 'prose' or 'code' */
  kind: string;
  /** the Brown tag and universal tag of the word the token starts in (prose with tags only) */
  tag?: string;
  upos?: UniversalTag;
}

export interface LmHarvestChunk {
  /** (context.length, d) float32 */
  rows: Float32Array;
  context: LmTokenRow[];
}

export interface LmHarvestProgress {
  rows: number;
  target: number;
  seconds: number;
  tokensPerS: number;
  document: string;
}

export interface LmHarvestOptions {
  hook: string;
  /** rows to harvest */
  tokens: number;
  /** tokens per sequence, BOS included */
  context: number;
  /** sequences per forward pass */
  batch: number;
  onProgress?: (p: LmHarvestProgress) => void;
  /** milliseconds between progress reports (default 2000) */
  progressEveryMs?: number;
  /** stops the harvest (it rejects with the signal's reason) between batches */
  signal?: AbortSignal;
}

export interface LmHarvestSummary {
  hook: string;
  rows: number;
  d: number;
  context: number;
  prependBos: boolean;
  seconds: number;
  tokensPerS: number;
  /** names of the documents the rows come from (doc index i ↔ documents[i]) */
  documents: string[];
  sequences: number;
  /** true when the documents ended before `tokens` rows */
  exhausted: boolean;
}

/** one sequence ready for the model */
interface Sequence {
  ids: number[];
  /** one per position after the BOS */
  rows: LmTokenRow[];
}

/** the model's own tokens of a document, each with its text and its word's tags */
export function tokenizeDocument(tokenizer: LmTokenizer, doc: LmDocument, docIndex: number): { ids: number[]; rows: Omit<LmTokenRow, 'sentence' | 'pos'>[] } {
  const ids = tokenizer.encodeRaw(doc.text);
  const pieces = tokenizer.pieces(ids);
  const rows: Omit<LmTokenRow, 'sentence' | 'pos'>[] = [];
  // A token's tags are those of the word holding its first non-space character. Offsets are the summed
  // lengths of the decoded pieces: exact for text whose characters are single tokens or whole within one.
  let at = 0;
  let w = 0;
  for (let i = 0; i < ids.length; i++) {
    const piece = pieces[i];
    const row: Omit<LmTokenRow, 'sentence' | 'pos'> = { doc: docIndex, token: piece, id: ids[i], kind: doc.kind };
    if (doc.words.length > 0) {
      const first = at + (piece.length - piece.trimStart().length);
      while (w < doc.words.length && doc.words[w].end <= first) w++;
      const word = doc.words[w];
      if (word && word.start <= first) {
        row.tag = word.tag;
        row.upos = word.upos;
      } else {
        row.tag = '';
        row.upos = 'X';
      }
    }
    rows.push(row);
    at += piece.length;
  }
  return { ids, rows };
}

/** Runs the model over the documents and hands each batch's hook rows to `sink`, in order. */
export async function harvestModel(
  lm: LanguageModel,
  tokenizer: LmTokenizer,
  documents: AsyncIterable<LmDocument> | Iterable<LmDocument>,
  o: LmHarvestOptions,
  sink: (chunk: LmHarvestChunk) => void | Promise<void>,
): Promise<LmHarvestSummary> {
  const c = lm.config;
  parseHook(o.hook, c);
  if (!Number.isSafeInteger(o.tokens) || o.tokens <= 0) throw new RangeError(`tokens must be a positive integer, got ${o.tokens}`);
  if (!Number.isSafeInteger(o.context) || o.context < 2 || o.context > c.maxPositions) {
    throw new RangeError(`context must be an integer in [2, ${c.maxPositions}] (the model's positions), got ${o.context}`);
  }
  if (!Number.isSafeInteger(o.batch) || o.batch <= 0) throw new RangeError(`batch must be a positive integer, got ${o.batch}`);
  const bos = c.bosTokenId;
  const prependBos = bos !== null;
  const piece = prependBos ? o.context - 1 : o.context;
  const pad = bos ?? c.eosTokenIds[0] ?? 0;
  lm.reserve(o.batch, o.context);

  const start = performance.now();
  const every = o.progressEveryMs ?? 2000;
  let lastReport = start;
  let rows = 0;
  let sequences = 0;
  const names: string[] = [];
  let pending: Sequence[] = [];
  let current = '';

  const progress = (force: boolean) => {
    const now = performance.now();
    if (!o.onProgress || (!force && now - lastReport < every)) return;
    lastReport = now;
    const seconds = (now - start) / 1000;
    o.onProgress({ rows, target: o.tokens, seconds, tokensPerS: rows / Math.max(seconds, 1e-9), document: current });
  };

  const run = async () => {
    o.signal?.throwIfAborted();
    const B = pending.length;
    const T = Math.max(...pending.map((s) => s.ids.length));
    const ids = new Int32Array(B * T).fill(pad);
    pending.forEach((s, b) => ids.set(s.ids, b * T));
    const out = await lm.forward({ ids, batch: B, read: [o.hook], logits: 'none' });
    const act = out.hooks.get(o.hook)!;
    const d = c.d;
    const context: LmTokenRow[] = [];
    const keep: [number, number][] = [];
    const skip = prependBos ? 1 : 0;
    pending.forEach((s, b) => {
      for (let t = 0; t < s.rows.length && rows + context.length < o.tokens; t++) {
        context.push(s.rows[t]);
        keep.push([b, t + skip]);
      }
    });
    const chunk = new Float32Array(context.length * d);
    keep.forEach(([b, t], i) => chunk.set(act.subarray((b * T + t) * d, (b * T + t + 1) * d), i * d));
    pending = [];
    rows += context.length;
    if (context.length > 0) await sink({ rows: chunk, context });
    progress(false);
  };

  for await (const doc of documents) {
    if (rows >= o.tokens) break;
    o.signal?.throwIfAborted();
    const docIndex = names.length;
    names.push(doc.name);
    current = doc.name;
    const tok = tokenizeDocument(tokenizer, doc, docIndex);
    for (let i = 0; i < tok.ids.length; i += piece) {
      const ids = tok.ids.slice(i, i + piece);
      const sentence = sequences++;
      const seqRows = tok.rows.slice(i, i + piece).map((r, t) => ({ ...r, sentence, pos: t + (prependBos ? 1 : 0) }));
      pending.push({ ids: prependBos ? [bos!, ...ids] : ids, rows: seqRows });
      if (pending.length === o.batch) {
        await run();
        if (rows >= o.tokens) break;
      }
    }
  }
  if (pending.length > 0 && rows < o.tokens) await run();
  progress(true);
  const seconds = (performance.now() - start) / 1000;
  return {
    hook: o.hook,
    rows,
    d: c.d,
    context: o.context,
    prependBos,
    seconds,
    tokensPerS: rows / Math.max(seconds, 1e-9),
    documents: names,
    sequences,
    exhausted: rows < o.tokens,
  };
}

/** harvested rows' context as the dataset store keeps it: the Brown tag columns (where any row has them) and kind */
export function lmTokenContext(rows: readonly LmTokenRow[]): TokenContext {
  const n = rows.length;
  const strings = new Interner();
  const kind = new Interner(['prose', 'code']);
  const ctx: TokenContext = {
    rows: n, doc: new Int32Array(n), sentence: new Int32Array(n), pos: new Int32Array(n), token: new Int32Array(n),
    strings: strings.names,
    labels: { kind: { values: new Int32Array(n), names: kind.names } },
  };
  const tagged = rows.some((r) => r.upos !== undefined);
  const brown = new Interner(['']);
  const universal = new Interner(UNIVERSAL_TAGS);
  if (tagged) {
    ctx.labels.pos_brown = { values: new Int32Array(n), names: brown.names };
    ctx.labels.pos_universal = { values: new Int32Array(n), names: universal.names };
  }
  rows.forEach((r, i) => {
    ctx.doc[i] = r.doc;
    ctx.sentence[i] = r.sentence;
    ctx.pos[i] = r.pos;
    ctx.token[i] = strings.id(r.token);
    ctx.labels.kind.values[i] = kind.id(r.kind);
    if (tagged) {
      ctx.labels.pos_brown.values[i] = brown.id(r.tag ?? '');
      ctx.labels.pos_universal.values[i] = universal.id(r.upos ?? 'X');
    }
  });
  return ctx;
}
