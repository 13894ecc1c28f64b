// Reading and intervening on one sentence with an SAE spliced into the real model: which features are active
// on each token, and what ablating or steering one does to the model — the sentence embedding's cosine to
// the clean one, and how much each token's activation at the next layer moves.
import { EMBEDDING_NODE, LAYER_NODES, MAX_SENTENCE_TOKENS, embedSentences, runNodes, tokenRows, type HarvestLayer, type UseLite } from '../data/harvest/model.ts';
import { modelText } from '../data/harvest/pipeline.ts';
import type { SaeWeights } from '../engine/sae.ts';
import { cosine, feedNode, spliceRows, type FeatureEdit } from './splice.ts';

/** the layer whose activations show an intervention's effect inside the model (none after the last) */
export const NEXT_LAYER: Record<HarvestLayer, HarvestLayer | null> = { mlp0: 'resid0', resid0: 'resid1', mlp1: 'resid1', resid1: null };

export interface TokenReading {
  /** the SentencePiece pieces of the sentence */
  pieces: string[];
  /** per token, its active features, strongest first (at most `top`) */
  features: { feature: number; act: number }[][];
  /** per feature, its largest activation on this sentence (0 if off) */
  maxAct: Float32Array;
}

export interface InterventionEffect {
  /** cosine between the edited and the clean sentence embedding */
  cosine: number;
  /** the reference sentences nearest to the clean and to the edited output (given a reference set) */
  nearest?: { clean: { text: string; cos: number }[]; edited: { text: string; cos: number }[] };
  /** per token, ‖Δ next-layer row‖ / ‖clean row‖ (empty when the SAE sits on the last layer) */
  nextLayerChange: number[];
  nextLayer: HarvestLayer | null;
}

/** text → token ids of one sentence (words split at white space, as the harvest reads text) */
export function sentenceIds(use: UseLite, text: string): number[] {
  const words = text.split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) throw new Error('type a sentence first');
  const ids = use.tokenizer.encodeWords(words.map(modelText)).map((p) => p.id);
  if (ids.length > MAX_SENTENCE_TOKENS) throw new Error(`the sentence has ${ids.length} tokens; the model reads at most ${MAX_SENTENCE_TOKENS}`);
  return ids;
}

export async function readTokens(use: UseLite, sae: SaeWeights, layer: HarvestLayer, text: string, top = 5): Promise<TokenReading> {
  const ids = sentenceIds(use, text);
  const [x] = await runNodes(use, [ids], [LAYER_NODES[layer].node]);
  const { acts } = spliceRows(sae, x!);
  const F = sae.features;
  const maxAct = new Float32Array(F);
  const features = ids.map((_, t) => {
    const on: { feature: number; act: number }[] = [];
    for (let f = 0; f < F; f++) {
      const a = acts[t * F + f]!;
      if (a > 0) on.push({ feature: f, act: a });
      if (a > maxAct[f]!) maxAct[f] = a;
    }
    return on.sort((a, b) => b.act - a.act || a.feature - b.feature).slice(0, top);
  });
  const pieces = use.tokenizer.encodeWords(text.split(/\s+/).filter((w) => w !== '').map(modelText)).map((p) => p.text);
  return { pieces, features, maxAct };
}

/** sentences whose embeddings outputs are compared with: (n × 512) and their text */
export interface ReferenceSet {
  text: string[];
  embeddings: Float32Array;
}

/** the reference set's embeddings, 32 sentences per model call */
export async function referenceSet(use: UseLite, sentences: { ids: number[][]; text: string[] }): Promise<ReferenceSet> {
  const parts: Float32Array[] = [];
  for (let i = 0; i < sentences.ids.length; i += 32) parts.push(await embedSentences(use, sentences.ids.slice(i, i + 32)));
  const embeddings = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    embeddings.set(p, at);
    at += p.length;
  }
  return { text: sentences.text, embeddings };
}

/** the k reference sentences nearest to embedding e by cosine */
function nearestSentences(ref: ReferenceSet, e: Float32Array, k = 3): { text: string; cos: number }[] {
  const dim = e.length;
  return ref.text
    .map((text, i) => ({ text, cos: cosine(e, ref.embeddings.subarray(i * dim, (i + 1) * dim)) }))
    .sort((a, b) => b.cos - a.cos)
    .slice(0, k);
}

export async function intervene(use: UseLite, sae: SaeWeights, layer: HarvestLayer, text: string, edits: FeatureEdit[], reference?: ReferenceSet): Promise<InterventionEffect> {
  const ids = sentenceIds(use, text);
  const node = LAYER_NODES[layer].node;
  const [x] = await runNodes(use, [ids], [node]);
  const next = NEXT_LAYER[layer];
  const outputs = next ? [EMBEDDING_NODE, LAYER_NODES[next].node] : [EMBEDDING_NODE];
  const clean = await feedNode(use, [ids], node, x!, outputs);
  const edited = await feedNode(use, [ids], node, spliceRows(sae, x!, edits).fed, outputs);
  const similarity = cosine(clean[0]!.data, edited[0]!.data);
  const nextLayerChange: number[] = [];
  if (next) {
    const [a, b] = [clean[1]!, edited[1]!].map((o) => (o.shape.length === 3 ? tokenRows(o.data, o.shape, [ids.length]) : o.data));
    const d = LAYER_NODES[next].d;
    for (let t = 0; t < ids.length; t++) {
      let num = 0;
      let den = 0;
      for (let j = t * d; j < (t + 1) * d; j++) {
        num += (b![j]! - a![j]!) ** 2;
        den += a![j]! ** 2;
      }
      nextLayerChange.push(Math.sqrt(num / (den || 1)));
    }
  }
  const nearest = reference ? { clean: nearestSentences(reference, clean[0]!.data), edited: nearestSentences(reference, edited[0]!.data) } : undefined;
  return { cosine: similarity, nextLayerChange, nextLayer: next, ...(nearest ? { nearest } : {}) };
}

export interface Attribution {
  /** per token, per shown feature (as in TokenReading.features): the drop of the output along `direction` when that feature is ablated at that token */
  contributions: number[][];
  /** 'the clean output' or the target sentence the direction points to */
  direction: string;
}

/**
 * Each token's per-feature contribution to the output along a direction, by exact differences: the feature
 * is ablated at that one token, the model runs on (all edits in one batch of copies of the sentence), and
 * the contribution is (e_clean − e_ablated) · u, with u the unit direction (default: the clean embedding).
 */
export async function attribute(use: UseLite, sae: SaeWeights, layer: HarvestLayer, text: string, reading: TokenReading, target?: string): Promise<Attribution> {
  const ids = sentenceIds(use, text);
  const node = LAYER_NODES[layer].node;
  const [x] = await runNodes(use, [ids], [node]);
  const edits = reading.features.flatMap((fs, t) => fs.map((f) => ({ feature: f.feature, value: 0, tokens: [t] })));
  const rows = new Float32Array((edits.length + 1) * x!.length);
  rows.set(x!, 0);
  edits.forEach((e, k) => rows.set(spliceRows(sae, x!, [e]).fed, (k + 1) * x!.length));
  const [out] = await feedNode(use, Array(edits.length + 1).fill(ids), node, rows, [EMBEDDING_NODE]);
  const e = out!.data.length / (edits.length + 1);
  const clean = out!.data.subarray(0, e);
  let u: Float32Array = clean;
  if (target?.trim()) u = await embedSentences(use, [sentenceIds(use, target)]);
  const norm = Math.hypot(...u);
  let k = 0;
  const contributions = reading.features.map((fs) =>
    fs.map(() => {
      k++;
      let s = 0;
      for (let j = 0; j < e; j++) s += (clean[j]! - out!.data[k * e + j]!) * (u[j]! / norm);
      return s;
    }),
  );
  return { contributions, direction: target?.trim() ? `toward "${target.trim()}"` : 'along the clean output' };
}
