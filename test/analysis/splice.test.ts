// Splicing an SAE into the real model (USE-lite through TF.js WASM in Node): feeding the layer's own
// activation reproduces the model bit for bit; steering by δ along a decoder row equals feeding x + δ·W_dec,i
// directly; ablating a feature that is off on the sentence changes nothing, bit for bit. For a padded
// (resid) and a packed (mlp) layer, with a ReLU and a TopK SAE.
import { beforeAll, describe, expect, it } from 'vitest';
import { downstreamFidelity, feedNode, spliceRows } from '../../src/analysis/splice.ts';
import { decodeCpu, encodeCpu } from '../../src/analysis/sae-cpu.ts';
import { attribute, readTokens, sentenceIds } from '../../src/analysis/explore.ts';
import { EMBEDDING_NODE, LAYER_NODES, runNodes, tokenRows, type HarvestLayer, type UseLite } from '../../src/data/harvest/model.ts';
import { loadNodeUseLite } from '../../src/data/harvest/node-model.ts';
import type { SaeWeights } from '../../src/engine/sae.ts';
import { randomSae } from '../support/random-sae.ts';

let use: UseLite;
beforeAll(async () => {
  use = await loadNodeUseLite();
}, 120_000);

const SENTENCES = ['The jury said it did find that many of the voters were not registered .', 'Paris is a city in France .'];

/** the SAE's activations of x, and a feature that is off on every token */
function offFeature(sae: SaeWeights, x: Float32Array) {
  const F = sae.features;
  const tokens = x.length / sae.d;
  const acts = spliceRows(sae, x).acts;
  const off = [...Array(F).keys()].find((i) => [...Array(tokens).keys()].every((t) => acts[t * F + i] === 0))!;
  return { F, tokens, acts, off };
}

const NEXT: Record<HarvestLayer, HarvestLayer | null> = { resid0: 'resid1', mlp0: 'resid0', resid1: null, mlp1: null };

describe.each([
  ['resid0', 'standard'],
  ['mlp0', 'topk'],
] as const)('splicing at %s (%s SAE)', (layer, arch) => {
  const node = LAYER_NODES[layer].node;
  const outputs = [EMBEDDING_NODE, LAYER_NODES[NEXT[layer]!].node];

  async function setup() {
    const sentences = SENTENCES.map((s) => use.tokenizer.encode(s));
    const [x] = await runNodes(use, sentences, [node]);
    const own = await feedNode(use, sentences, outputs[1]!, (await runNodes(use, sentences, [outputs[1]!]))[0]!, outputs); // the model's own outputs
    const sae = randomSae(LAYER_NODES[layer].d, 48, arch, 3);
    return { sentences, x: x!, own, sae };
  }

  it('feeding the layer its own activation reproduces the model, bit for bit', async () => {
    const { sentences, x, own, sae } = await setup();
    const spliced = spliceRows(sae, x);
    expect(spliced.fed).toEqual(x);
    const out = await feedNode(use, sentences, node, spliced.fed, outputs);
    expect(out[0]!.data).toEqual(own[0]!.data);
    expect(out[1]!.data).toEqual(own[1]!.data);
  });

  it('steering an off feature by δ equals feeding x + δ·W_dec,i; the output moves', async () => {
    const { sentences, x, own, sae } = await setup();
    const { off } = offFeature(sae, x);
    expect(off).toBeDefined();
    const delta = 20;
    const steered = spliceRows(sae, x, [{ feature: off, value: delta }]);
    const direct = x.map((v, k) => v + delta * sae.W_dec[off * sae.d + (k % sae.d)]!);
    let worst = 0;
    steered.fed.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - direct[k]!) / Math.max(1, Math.abs(direct[k]!)))));
    expect(worst).toBeLessThan(1e-5);
    const [a, b] = await Promise.all([feedNode(use, sentences, node, steered.fed, outputs), feedNode(use, sentences, node, direct, outputs)]);
    const lengths = sentences.map((s) => s.length);
    for (let o = 0; o < outputs.length; o++) {
      // the next layer's padded positions hold nothing meaningful: compare the real tokens' rows
      const rows = (f: { data: Float32Array; shape: number[] }) => (f.shape.length === 3 ? tokenRows(f.data, f.shape, lengths) : f.data);
      const [ra, rb] = [rows(a[o]!), rows(b[o]!)];
      let diff = 0;
      ra.forEach((v, k) => (diff = Math.max(diff, Math.abs(v - rb[k]!) / Math.max(1, Math.abs(rb[k]!)))));
      expect(diff, outputs[o]).toBeLessThan(1e-4);
    }
    // the embedding really moved: cosine to the clean one below 1
    const cos = (u: Float32Array, v: Float32Array) => u.reduce((s, ui, i) => s + ui * v[i]!, 0) / Math.hypot(...u) / Math.hypot(...v);
    expect(cos(a[0]!.data.subarray(0, 512), own[0]!.data.subarray(0, 512))).toBeLessThan(0.9999);
  });

  it('ablating a feature that is off on the sentence changes nothing, bit for bit', async () => {
    const { sentences, x, own, sae } = await setup();
    const { F, acts, off } = offFeature(sae, x);
    const on = [...Array(F).keys()].find((i) => acts[i]! > 0)!; // active on the first token
    const ablated = spliceRows(sae, x, [{ feature: off, value: 0 }]);
    expect(ablated.fed).toEqual(x);
    const out = await feedNode(use, sentences, node, ablated.fed, outputs);
    expect(out[0]!.data).toEqual(own[0]!.data);
    // while ablating one that is on does change the fed activation
    expect(spliceRows(sae, x, [{ feature: on, value: 0 }]).fed).not.toEqual(x);
  });
});

describe('downstream fidelity', () => {
  it('is 1 for a perfect reconstruction and 0 for one that is the mean; in between for a real SAE', async () => {
    const sentences = [...SENTENCES, 'It rained all day .'].map((s) => use.tokenizer.encode(s));
    const node = LAYER_NODES.resid0.node;
    const perfect = await downstreamFidelity(use, sentences, node, EMBEDDING_NODE, async (x) => x, 2);
    expect(perfect.recovered).toBe(1);
    expect(perfect.dSae).toBe(0);
    expect(perfect.dAblated).toBeGreaterThan(0.01);
    expect(perfect.tokens).toBe(sentences.reduce((n, s) => n + s.length, 0));
    const [all] = await runNodes(use, sentences, [node]);
    const d = 512;
    const mean = new Float32Array(d);
    for (let i = 0; i < all!.length; i++) mean[i % d]! += all![i]! / perfect.tokens;
    const asMean = await downstreamFidelity(use, sentences, node, EMBEDDING_NODE, async (x) => x.map((_, k) => mean[k % d]!), 2);
    expect(Math.abs(asMean.recovered)).toBeLessThan(1e-4);
    const sae = randomSae(d, 48, 'standard', 5);
    const partial = await downstreamFidelity(use, sentences, node, EMBEDDING_NODE, async (x) => decodeCpu(sae, encodeCpu(sae, x), x), 2);
    expect(partial.recovered).toBeLessThan(1);
  });
});

describe('attribution by exact differences', () => {
  it('gives each token × feature the output drop of ablating it there, as a lone intervention would', async () => {
    const text = 'Paris is a city in France .';
    const sae = randomSae(512, 48, 'standard', 11);
    const reading = await readTokens(use, sae, 'resid0', text, 3);
    const attr = await attribute(use, sae, 'resid0', text, reading);
    expect(attr.contributions.map((c) => c.length)).toEqual(reading.features.map((f) => f.length));
    // one entry checked against its own, separate run of the model
    const t = reading.features.findIndex((f) => f.length > 0);
    const f = reading.features[t]![0]!.feature;
    const ids = sentenceIds(use, text);
    const [x] = await runNodes(use, [ids], [LAYER_NODES.resid0.node]);
    const [clean] = await feedNode(use, [ids], LAYER_NODES.resid0.node, x!, [EMBEDDING_NODE]);
    const [ablated] = await feedNode(use, [ids], LAYER_NODES.resid0.node, spliceRows(sae, x!, [{ feature: f, value: 0, tokens: [t] }]).fed, [EMBEDDING_NODE]);
    const u = clean!.data;
    const norm = Math.hypot(...u);
    const want = u.reduce((s, ui, j) => s + (ui - ablated!.data[j]!) * (ui / norm), 0);
    expect(Math.abs(attr.contributions[t]![0]! - want)).toBeLessThan(1e-5);
    expect(attr.contributions.flat().some((c) => Math.abs(c) > 1e-6)).toBe(true);
  });
});
