// Universal Sentence Encoder-lite (TF.js graph model, RECIPE §6) run so that any internal node can be
// fetched: a batch of tokenized sentences goes in as the sparse {indices, values} pair the graph expects,
// the named nodes come out, and padded positions are dropped so each token has exactly one row.
// Two layouts come back from the graph: the residual stream is padded, (batch, maxLen, 512); the FFN
// hidden layer works on the gathered real tokens only, (1, tokens, 1536), in the same sentence order.
// No TF.js import here — the caller passes its TF.js (Node: node-model.ts; a browser: its own build) —
// so this file runs wherever TF.js does; the model files load from URLs (file:// in Node).
import { SentencePieceTokenizer, type Vocabulary } from './tokenizer.ts';

export type HarvestLayer = 'resid0' | 'resid1' | 'mlp0' | 'mlp1';
export const HARVEST_LAYERS: readonly HarvestLayer[] = ['resid0', 'resid1', 'mlp0', 'mlp1'];

const STACK = 'module_apply_default/Encoder_en/KonaTransformer/Encode/TransformerStack/';

/** the graph node behind each harvestable layer, and its width */
export const LAYER_NODES: Readonly<Record<HarvestLayer, { node: string; d: number }>> = {
  resid0: { node: `${STACK}Layer_0/TransformerLayer/FFN/layer_postprocess/add`, d: 512 }, // residual after layer 0
  resid1: { node: `${STACK}Layer_1/TransformerLayer/FFN/layer_postprocess/add`, d: 512 }, // residual after layer 1
  mlp0: { node: `${STACK}Layer_0/TransformerLayer/FFN/conv1/Relu`, d: 1536 }, // FFN hidden (ReLU), layer 0
  mlp1: { node: `${STACK}Layer_1/TransformerLayer/FFN/conv1/Relu`, d: 1536 }, // FFN hidden (ReLU), layer 1
};

/** the model's output: the 512-d L2-normalised sentence embedding */
export const EMBEDDING_NODE = 'module_apply_default/Encoder_en/hidden_layers/l2_normalize';

/** the graph keeps only positions < 128 of each sentence (its ClipToMaxLength) */
export const MAX_SENTENCE_TOKENS = 128;

// ---- the slice of TF.js used here (structural, so any TF.js 4 build fits) ----

export interface TensorLike {
  readonly shape: number[];
  data(): Promise<ArrayLike<number>>;
  dispose(): void;
}

export interface TfLike {
  tensor1d(values: Int32Array, dtype: 'int32'): TensorLike;
  tensor2d(values: Int32Array, shape: [number, number], dtype: 'int32'): TensorLike;
  /** a float tensor, for feeding a node of the graph (analysis/splice.ts) */
  tensor(values: Float32Array, shape: number[], dtype: 'float32'): TensorLike;
}

export interface GraphModelLike {
  executeAsync(inputs: Record<string, TensorLike>, outputs?: string | string[]): Promise<TensorLike | TensorLike[]>;
}

/** TF.js with a loader, enough to load the model from a URL */
export interface TfLoader extends TfLike {
  loadGraphModel(url: string): Promise<GraphModelLike>;
}

/** the loaded model, its TF.js and its tokenizer */
export interface UseLite {
  tf: TfLike;
  model: GraphModelLike;
  tokenizer: SentencePieceTokenizer;
}

/** Loads model.json (+ its weight shards, beside it) and vocab.json from URLs. */
export async function loadUseLite(
  tf: TfLoader,
  urls: { model: string; vocab: string },
  fetchJson: (url: string) => Promise<unknown> = async (url) => (await fetch(url)).json(),
): Promise<UseLite> {
  const [model, vocab] = await Promise.all([tf.loadGraphModel(urls.model), fetchJson(urls.vocab)]);
  return { tf, model, tokenizer: new SentencePieceTokenizer(checkVocabulary(vocab, urls.vocab)) };
}

function checkVocabulary(vocab: unknown, source: string): Vocabulary {
  if (!Array.isArray(vocab) || vocab.length < 7 || !Array.isArray(vocab[6]) || typeof vocab[6][0] !== 'string') {
    throw new Error(`${source}: not a SentencePiece vocabulary (expected [[piece, score], …])`);
  }
  return vocab as Vocabulary;
}

/** One layer's rows for a batch of sentences of token ids: (total tokens, d), sentence by sentence. */
export async function harvestLayer(use: UseLite, sentences: number[][], layer: HarvestLayer): Promise<Float32Array> {
  const [rows] = await runNodes(use, sentences, [LAYER_NODES[layer].node]);
  return rows;
}

/**
 * One layer's rows for many sentences, in their order, run `batchSentences` at a time after sorting them by
 * length: similar lengths share a batch, so little is spent on padding (≈1.6–1.9× faster on Brown than
 * batches in text order). A sentence's rows do not depend on its batch beyond float rounding (~1e-6 relative).
 */
export async function harvestLayerSorted(
  use: UseLite,
  sentences: number[][],
  layer: HarvestLayer,
  batchSentences: number,
): Promise<Float32Array> {
  const d = LAYER_NODES[layer].d;
  const offsets = [0];
  for (const s of sentences) offsets.push(offsets[offsets.length - 1] + s.length);
  const out = new Float32Array(offsets[sentences.length] * d);
  const order = sentences.map((_, i) => i).sort((a, b) => sentences[a].length - sentences[b].length || a - b);
  for (let i = 0; i < order.length; i += batchSentences) {
    const batch = order.slice(i, i + batchSentences);
    const rows = await harvestLayer(use, batch.map((j) => sentences[j]), layer);
    let row = 0;
    for (const j of batch) {
      const len = sentences[j].length;
      out.set(rows.subarray(row * d, (row + len) * d), offsets[j] * d);
      row += len;
    }
  }
  return out;
}

/** Any internal nodes for a batch of sentences: per node a (total tokens, d) array, padding dropped. */
export async function runNodes(use: UseLite, sentences: number[][], nodes: string[]): Promise<Float32Array[]> {
  const lengths = checkSentences(sentences);
  const inputs = sparseInput(use.tf, sentences);
  try {
    const out = await use.model.executeAsync(inputs, nodes);
    const tensors = Array.isArray(out) ? out : [out];
    try {
      return await Promise.all(tensors.map(async (t, i) => tokenRows(await t.data(), t.shape, lengths, nodes[i])));
    } finally {
      for (const t of tensors) t.dispose();
    }
  } finally {
    inputs.indices.dispose();
    inputs.values.dispose();
  }
}

/** The sentence embeddings (sentences, 512), as the model's output gives them. */
export async function embedSentences(use: UseLite, sentences: number[][]): Promise<Float32Array> {
  checkSentences(sentences);
  const inputs = sparseInput(use.tf, sentences);
  try {
    const out = (await use.model.executeAsync(inputs, EMBEDDING_NODE)) as TensorLike;
    try {
      return Float32Array.from(await out.data());
    } finally {
      out.dispose();
    }
  } finally {
    inputs.indices.dispose();
    inputs.values.dispose();
  }
}

/** sentence lengths; refuses empty batches, empty sentences and ones the graph would cut */
function checkSentences(sentences: number[][]): number[] {
  if (sentences.length === 0) throw new Error('runNodes: no sentences');
  return sentences.map((s, i) => {
    if (s.length === 0) throw new Error(`runNodes: sentence ${i} has no tokens`);
    if (s.length > MAX_SENTENCE_TOKENS) {
      throw new Error(`runNodes: sentence ${i} has ${s.length} tokens; the model keeps only the first ${MAX_SENTENCE_TOKENS}`);
    }
    return s.length;
  });
}

/** the graph's input: indices (tokens, 2) of [sentence, position] and values (tokens) of ids */
export function sparseInput(tf: TfLike, sentences: number[][]): { indices: TensorLike; values: TensorLike } {
  const total = sentences.reduce((n, s) => n + s.length, 0);
  const indices = new Int32Array(total * 2);
  const values = new Int32Array(total);
  let k = 0;
  sentences.forEach((s, b) => {
    s.forEach((id, p) => {
      indices[2 * k] = b;
      indices[2 * k + 1] = p;
      values[k++] = id;
    });
  });
  return { indices: tf.tensor2d(indices, [total, 2], 'int32'), values: tf.tensor1d(values, 'int32') };
}

/**
 * A node's output → one row per real token. Accepts the packed layout (1, tokens, d) and the padded one
 * (sentences, maxLen, d), keeping positions < length of each sentence.
 */
export function tokenRows(data: ArrayLike<number>, shape: number[], lengths: number[], node = 'node'): Float32Array {
  const total = lengths.reduce((a, b) => a + b, 0);
  const maxLen = Math.max(...lengths);
  const d = shape[shape.length - 1];
  const values = data instanceof Float32Array ? data : Float32Array.from(data);
  if (shape.length === 3 && shape[0] === 1 && shape[1] === total) return values.slice(0, total * d);
  if (shape.length !== 3 || shape[0] !== lengths.length || shape[1] !== maxLen) {
    throw new Error(`${node}: shape (${shape.join(', ')}) is neither (1, ${total}, d) nor (${lengths.length}, ${maxLen}, d)`);
  }
  const out = new Float32Array(total * d);
  let row = 0;
  lengths.forEach((len, b) => {
    const from = b * maxLen * d;
    out.set(values.subarray(from, from + len * d), row * d);
    row += len;
  });
  return out;
}
