// Token sequences for a causal model, as SAELens makes them with prepend_bos (and as the built-in model was
// trained), shared by the harvest and the perplexity measure:
//   - one document per sequence: a document's tokens are cut into pieces of `context` − 1 (or `context`
//     when the model has no BOS token), and every piece is its own sequence; sequences never mix documents;
//   - the BOS token first in every sequence, when the model has one (prepend_bos);
//   - a batch's shorter sequences are padded at their end; the model is causal, so padding changes no
//     earlier position.
import type { UniversalTag } from '../data/harvest/brown.ts';
import type { LmConfig } from './config.ts';
import type { LmDocument } from './corpus.ts';
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

/** one sequence ready for the model */
export interface Sequence {
  ids: number[];
  /** one per token after the BOS */
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

/** the sequences of one forward pass, side by side in `ids` (batch × T, padded) */
export interface SequenceBatch {
  sequences: Sequence[];
  ids: Int32Array;
  T: number;
}

export interface SequenceOptions {
  /** tokens per sequence, BOS included */
  context: number;
  /** sequences per batch */
  batch: number;
  signal?: AbortSignal;
  /** told each document's name as it is reached */
  onDocument?: (name: string, index: number) => void;
}

/** whether sequences start with a BOS token, and the tokens of a document each holds */
export function sequenceShape(c: LmConfig, context: number): { bos: number | null; piece: number; pad: number } {
  if (!Number.isSafeInteger(context) || context < 2 || context > c.maxPositions) {
    throw new RangeError(`context must be an integer in [2, ${c.maxPositions}] (the model's positions), got ${context}`);
  }
  const bos = c.bosTokenId;
  return { bos, piece: bos !== null ? context - 1 : context, pad: bos ?? c.eosTokenIds[0] ?? 0 };
}

/** The documents as batches of one-document sequences, in order (the last batch may hold fewer). */
export async function* sequenceBatches(
  tokenizer: LmTokenizer,
  c: LmConfig,
  documents: AsyncIterable<LmDocument> | Iterable<LmDocument>,
  o: SequenceOptions,
): AsyncGenerator<SequenceBatch> {
  if (!Number.isSafeInteger(o.batch) || o.batch <= 0) throw new RangeError(`batch must be a positive integer, got ${o.batch}`);
  const { bos, piece, pad } = sequenceShape(c, o.context);
  let pending: Sequence[] = [];
  let sequences = 0;
  let docIndex = 0;
  const flush = (): SequenceBatch => {
    const T = Math.max(...pending.map((s) => s.ids.length));
    const ids = new Int32Array(pending.length * T).fill(pad);
    pending.forEach((s, b) => ids.set(s.ids, b * T));
    const out = { sequences: pending, ids, T };
    pending = [];
    return out;
  };
  for await (const doc of documents) {
    o.signal?.throwIfAborted();
    o.onDocument?.(doc.name, docIndex);
    const tok = tokenizeDocument(tokenizer, doc, docIndex++);
    for (let i = 0; i < tok.ids.length; i += piece) {
      const sentence = sequences++;
      const rows = tok.rows.slice(i, i + piece).map((r, t) => ({ ...r, sentence, pos: t + (bos !== null ? 1 : 0) }));
      const ids = tok.ids.slice(i, i + piece);
      pending.push({ ids: bos !== null ? [bos, ...ids] : ids, rows });
      if (pending.length === o.batch) yield flush();
    }
  }
  if (pending.length > 0) yield flush();
}

/** The batches holding the first `tokens` next-token predictions (or a few more: whole sequences) of the documents, in memory. */
export async function collectBatches(
  tokenizer: LmTokenizer,
  c: LmConfig,
  documents: AsyncIterable<LmDocument> | Iterable<LmDocument>,
  o: SequenceOptions & { tokens: number },
): Promise<{ batches: SequenceBatch[]; documents: string[] }> {
  const batches: SequenceBatch[] = [];
  const names: string[] = [];
  let n = 0;
  for await (const b of sequenceBatches(tokenizer, c, documents, { ...o, onDocument: (name, i) => (names.push(name), o.onDocument?.(name, i)) })) {
    batches.push(b);
    if ((n += b.sequences.reduce((s, q) => s + q.ids.length - 1, 0)) >= o.tokens) break;
  }
  return { batches, documents: names };
}
