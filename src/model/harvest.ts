// Harvest: documents → one-document sequences (src/model/sequences.ts: BOS first, pieces of context − 1) →
// one hook of a language model, read on the GPU batch by batch, rows in document order. The BOS position's
// row is not kept (an attention sink, huge and the same for every sequence); padded rows are dropped. The
// caller supplies the documents and a sink for each batch's rows, so the same loop serves the CLI (files)
// and the page (the browser's store).
import { Interner, type TokenContext } from '../data/context.ts';
import { UNIVERSAL_TAGS } from '../data/harvest/brown.ts';
import type { LmDocument } from './corpus.ts';
import { parseHook } from './hooks.ts';
import type { LanguageModel } from './lm.ts';
import { sequenceBatches, sequenceShape, type LmTokenRow } from './sequences.ts';
import type { LmTokenizer } from './tokenizer.ts';

export type { LmTokenRow };

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
  const prependBos = sequenceShape(c, o.context).bos !== null;
  lm.reserve(o.batch, o.context);

  const start = performance.now();
  const every = o.progressEveryMs ?? 2000;
  let lastReport = start;
  let rows = 0;
  let sequences = 0;
  const names: string[] = [];
  const progress = (force: boolean) => {
    const now = performance.now();
    if (!o.onProgress || (!force && now - lastReport < every)) return;
    lastReport = now;
    const seconds = (now - start) / 1000;
    o.onProgress({ rows, target: o.tokens, seconds, tokensPerS: rows / Math.max(seconds, 1e-9), document: names[names.length - 1] ?? '' });
  };

  const batches = sequenceBatches(tokenizer, c, documents, { context: o.context, batch: o.batch, signal: o.signal, onDocument: (name) => names.push(name) });
  for await (const { sequences: pending, ids, T } of batches) {
    o.signal?.throwIfAborted();
    const out = await lm.forward({ ids, batch: pending.length, read: [o.hook], logits: 'none' });
    const act = out.hooks.get(o.hook)!;
    const d = c.d;
    const context: LmTokenRow[] = [];
    const keep: number[] = [];
    const skip = prependBos ? 1 : 0;
    pending.forEach((s, b) => {
      for (let t = 0; t < s.rows.length && rows + context.length < o.tokens; t++) {
        context.push(s.rows[t]);
        keep.push(b * T + t + skip);
      }
    });
    const chunk = new Float32Array(context.length * d);
    keep.forEach((r, i) => chunk.set(act.subarray(r * d, (r + 1) * d), i * d));
    rows += context.length;
    sequences += pending.length;
    if (context.length > 0) await sink({ rows: chunk, context });
    progress(false);
    if (rows >= o.tokens) break;
  }
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
