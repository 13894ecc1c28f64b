// Splicing an SAE into the real model (RECIPE §3 downstream fidelity; the feature explorer's interventions).
// The model runs up to the layer the SAE was trained on; that node's activation x is replaced and the rest
// of the graph runs from it. TF.js's graph executor takes any node by name as an input, so the remaining
// layers are the model's own, not a reimplementation. The activation fed back is
//     x + (x̂' − x̂)   ( = x̂' + (x − x̂), the SAE's edited reconstruction plus its error term )
// where x̂ decodes the SAE's activations and x̂' decodes them after an edit (ablate: set a feature to 0;
// steer: clamp it to a value). Written this way, an edit that leaves x̂' equal to x̂ bit for bit (ablating a
// feature that is off) feeds x itself, and the model's output comes back unchanged, bit for bit.
import type { SaeWeights } from '../engine/sae.ts';
import { runNodes, sparseInput, type TensorLike, type UseLite } from '../data/harvest/model.ts';
import { decodeCpu, encodeCpu } from './sae-cpu.ts';

export interface FedOutput {
  data: Float32Array;
  shape: number[];
}

/** One edit of the SAE's activations: feature `feature` set to `value` at `tokens` (default: every token). */
export interface FeatureEdit {
  feature: number;
  value: number;
  tokens?: number[];
}

/** where each real token's row sits in a node's tensor: padded (sentences, maxLen, d) or packed (1, tokens, d) */
function rowPositions(shape: number[], lengths: number[]): number[] {
  const total = lengths.reduce((a, b) => a + b, 0);
  if (shape.length === 3 && shape[0] === 1 && shape[1] === total) return [...Array(total).keys()]; // packed (1, tokens, d)
  const maxLen = Math.max(...lengths);
  if (shape.length !== 3 || shape[0] !== lengths.length || shape[1] !== maxLen) throw new Error(`node shape (${shape.join(', ')}) fits neither layout`);
  return lengths.flatMap((len, b) => Array.from({ length: len }, (_, p) => b * maxLen + p));
}

/**
 * Runs the graph with `node` fed: its real tokens' rows replaced by `rows` (tokens × d, sentence order),
 * padded positions left as the model computed them. Returns the `outputs` nodes' tensors as they come.
 */
export async function feedNode(use: UseLite, sentences: number[][], node: string, rows: Float32Array, outputs: string[]): Promise<FedOutput[]> {
  const inputs = sparseInput(use.tf, sentences);
  const lengths = sentences.map((s) => s.length);
  try {
    const own = (await use.model.executeAsync(inputs, [node])) as TensorLike | TensorLike[];
    const t = Array.isArray(own) ? own[0]! : own;
    const shape = t.shape.slice();
    const full = Float32Array.from(await t.data());
    t.dispose();
    const d = shape[shape.length - 1]!;
    const at = rowPositions(shape, lengths);
    if (rows.length !== at.length * d) throw new Error(`feedNode: ${rows.length} values is not ${at.length} tokens × ${d}`);
    at.forEach((pos, r) => full.set(rows.subarray(r * d, (r + 1) * d), pos * d));
    const fed = use.tf.tensor(full, shape, 'float32');
    try {
      const out = await use.model.executeAsync({ ...inputs, [node]: fed }, outputs);
      const tensors = Array.isArray(out) ? out : [out];
      try {
        return await Promise.all(tensors.map(async (o) => ({ data: Float32Array.from(await o.data()), shape: o.shape.slice() })));
      } finally {
        for (const o of tensors) o.dispose();
      }
    } finally {
      fed.dispose();
    }
  } finally {
    inputs.indices.dispose();
    inputs.values.dispose();
  }
}

export interface Spliced {
  /** (tokens, d) the layer's own activations */
  x: Float32Array;
  /** (tokens, F) the SAE's activations of them, before the edits */
  acts: Float32Array;
  /** (tokens, d) what is fed back: x + (x̂' − x̂) */
  fed: Float32Array;
}

/** The SAE's activations of a layer's rows x (tokens × d), and the rows to feed back after `edits`. */
export function spliceRows(sae: SaeWeights, x: Float32Array, edits: FeatureEdit[] = []): Spliced {
  const d = sae.d;
  if (x.length % d !== 0) throw new Error(`the SAE reads rows of width ${d}; got ${x.length} values`);
  const acts = encodeCpu(sae, x);
  const edited = acts.slice();
  const tokens = x.length / d;
  for (const e of edits) {
    if (!Number.isInteger(e.feature) || e.feature < 0 || e.feature >= sae.features) throw new Error(`no feature ${e.feature} in an SAE of ${sae.features}`);
    for (const t of e.tokens ?? [...Array(tokens).keys()]) edited[t * sae.features + e.feature] = e.value;
  }
  const xhat = decodeCpu(sae, acts, x);
  const xhat2 = decodeCpu(sae, edited, x);
  const fed = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) fed[i] = x[i]! + (xhat2[i]! - xhat[i]!);
  return { x, acts, fed };
}

/** RECIPE §3 downstream fidelity of a whole SAE, with sentence embeddings: D = 1 − cosine, mean over sentences */
export interface Fidelity {
  sentences: number;
  tokens: number;
  /** 1 − D(clean, sae) / D(clean, mean-ablated) */
  recovered: number;
  /** mean D between the clean embedding and the one with x̂ spliced in (no error term) */
  dSae: number;
  /** mean D between the clean embedding and the one with every token's activation set to the mean */
  dAblated: number;
}

/**
 * Splices x̂ (the reconstruction alone) in place of x at `node` and compares the sentence embeddings with
 * the clean ones and with mean-ablated ones (every token set to the mean activation over these sentences).
 * `reconstruct` maps rows (tokens × d) to x̂ (the GPU in the CLI, the CPU in tests).
 */
export async function downstreamFidelity(
  use: UseLite,
  sentences: number[][],
  node: string,
  embeddingNode: string,
  reconstruct: (x: Float32Array) => Promise<Float32Array>,
  batch = 16,
): Promise<Fidelity> {
  const batches: number[][][] = [];
  for (let i = 0; i < sentences.length; i += batch) batches.push(sentences.slice(i, i + batch));
  // pass 1: the layer's rows, and their mean
  const xs: Float32Array[] = [];
  let mean: Float64Array | undefined;
  let tokens = 0;
  for (const b of batches) {
    const [x] = await runNodes(use, b, [node]);
    xs.push(x!);
    const d = x!.length / b.reduce((n, s) => n + s.length, 0);
    mean ??= new Float64Array(d);
    for (let i = 0; i < x!.length; i++) mean[i % d]! += x![i]!;
    tokens += x!.length / d;
  }
  const d = mean!.length;
  const meanRow = Float32Array.from(mean!, (s) => s / tokens);
  // pass 2: the three embeddings of each batch
  let dSae = 0;
  let dAblated = 0;
  for (const [i, b] of batches.entries()) {
    const x = xs[i]!;
    const [[clean], [sae], [ablated]] = await Promise.all([
      feedNode(use, b, node, x, [embeddingNode]),
      reconstruct(x).then((xhat) => feedNode(use, b, node, xhat, [embeddingNode])),
      feedNode(use, b, node, Float32Array.from({ length: x.length }, (_, k) => meanRow[k % d]!), [embeddingNode]),
    ]);
    const e = clean!.data.length / b.length;
    for (let s = 0; s < b.length; s++) {
      const at = (f: FedOutput) => f.data.subarray(s * e, (s + 1) * e);
      dSae += 1 - cosine(at(clean!), at(sae!));
      dAblated += 1 - cosine(at(clean!), at(ablated!));
    }
  }
  dSae /= sentences.length;
  dAblated /= sentences.length;
  return { sentences: sentences.length, tokens, recovered: 1 - dSae / dAblated, dSae, dAblated };
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}
