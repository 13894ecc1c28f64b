// What the dashboards and the CLI say about a feature in its model: the predicted logit effects against the
// model's own response to the direction at its last hook; attribution to a next token against the float64
// model with the one activation removed; the measured ablation effect and the examples on text; the concept
// finder on texts that differ in one feature's firing.
import { describe, expect, it } from 'vitest';
import { LanguageModel } from '../../src/model/lm.ts';
import { attributeNextToken } from '../../src/model/attribution.ts';
import { conceptFeatures } from '../../src/model/concept.ts';
import { featureOnText } from '../../src/model/feature-effects.ts';
import { directionLogits, logitEffects } from '../../src/model/logit-effects.ts';
import { SaeSplice, specialTokenIds } from '../../src/model/sae-splice.ts';
import { sequenceBatches } from '../../src/model/sequences.ts';
import { steerGeneration } from '../../src/model/steering.ts';
import { generate } from '../../src/model/generate.ts';
import { plainDocuments } from '../../src/model/corpus.ts';
import { referenceForward } from '../../src/reference/transformer.ts';
import { saeActivations64 } from '../../src/reference/sae-forward.ts';
import { getDevice } from '../support/gpu.ts';
import { SHARED_LM, loadLmFixture } from '../support/lm-fixtures.ts';
import { randomSae } from '../support/random-sae.ts';

const HOOK = 'blocks.1.hook_resid_pre';
const TEXT = 'The jury said the city was on fire. The man who ran it said that the fire was out, and the jury went home.';

function logSoftmax(row: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(row));
  const lse = max + Math.log(Array.from(row).reduce((s, v) => s + Math.exp(v - max), 0));
  return Array.from(row, (v) => v - lse);
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const ma = Array.from(a).reduce((s, x) => s + x, 0) / n;
  const mb = Array.from(b).reduce((s, x) => s + x, 0) / n;
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i]! - ma) * (b[i]! - mb);
    aa += (a[i]! - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

describe.each(['gpt2-tiny', 'llama-tiny'])('feature tools on %s', (model) => {
  it('predicts logit effects the model shows, attributes exactly, and measures ablation', async () => {
    const device = await getDevice();
    const f = await loadLmFixture(`${SHARED_LM}/${model}`);
    const c = f.plan.config;
    const sae = randomSae(c.d, 24, model === 'gpt2-tiny' ? 'standard' : 'topk', 3, { hook_name: HOOK });
    const lm = LanguageModel.create(device, c, f.weights, model, 4, 64);
    const ids = [c.bosTokenId!, ...f.plan.tokenizer.encodeRaw(TEXT)].slice(0, 24);

    // logit effects: the direction added at the last hook moves the centred logits of the last position as
    // predicted (the final norm's Jacobian adds a small projection, so compare by correlation)
    const last = `blocks.${c.nLayers - 1}.hook_resid_post`;
    const dir = sae.W_dec.subarray(0, c.d);
    const clean = referenceForward(c, f.weights, ids).logits;
    const eps = 1e-3;
    const moved = referenceForward(c, f.weights, ids, { add: new Map([[last, Array.from(dir, (x) => eps * x)]]) }).logits;
    const V = c.vocab;
    const t = ids.length - 1;
    const diff = Array.from({ length: V }, (_, v) => (moved[t * V + v]! - clean[t * V + v]!) / eps);
    expect(correlation(directionLogits(c, f.weights, dir), diff)).toBeGreaterThan(0.95);
    const fx = logitEffects(c, f.weights, dir, (id) => String(id), 5);
    expect(fx.promoted[0]!.effect).toBeGreaterThanOrEqual(fx.promoted[4]!.effect);
    expect(fx.suppressed[0]!.effect).toBeLessThanOrEqual(fx.suppressed[4]!.effect);
    expect(fx.histogram.counts.reduce((a, b) => a + b, 0)).toBe(V);

    // attribution: each tried (position, feature) equals the float64 model with that one activation removed
    const target = ids[5]!;
    const r = await attributeNextToken(lm, sae, HOOK, ids, target, { perPosition: 2, batch: 3, skip: specialTokenIds(c) });
    expect(r.contributions.length).toBeGreaterThan(3);
    expect(r.contributions.some((a) => a.position === 0)).toBe(false); // the BOS position is never read by the SAE
    const acts = saeActivations64(sae, referenceForward(c, f.weights, ids, { read: [HOOK] }).hooks.get(HOOK)!);
    const lpClean = logSoftmax(clean.subarray(t * V, (t + 1) * V))[target]!;
    expect(r.logProb).toBeCloseTo(lpClean, 4);
    for (const a of r.contributions.slice(0, 3)) {
      const removed = referenceForward(c, f.weights, ids, {
        edit: new Map([[HOOK, (x: Float64Array) => { for (let j = 0; j < c.d; j++) x[a.position * c.d + j]! -= acts[a.position * sae.features + a.feature]! * sae.W_dec[a.feature * c.d + j]!; }]]),
      }).logits;
      expect(a.contribution).toBeCloseTo(lpClean - logSoftmax(removed.subarray(t * V, (t + 1) * V))[target]!, 3);
    }

    // on text: a feature that never fires has no examples and no measured effect; one that fires has both
    const splice = new SaeSplice(device, sae, 4 * 64, specialTokenIds(c));
    const batches = [];
    for await (const b of sequenceBatches(f.plan.tokenizer, c, plainDocuments(`${TEXT}\n\n${TEXT.toUpperCase()}`, 'text'), { context: 32, batch: 4 })) batches.push(b);
    const off = await featureOnText(lm, f.plan.tokenizer, splice, HOOK, sae.features - 1, batches);
    expect(off).toMatchObject({ fires: 0, examples: [], ablationDrop: null });
    const firing = r.contributions[0]!.feature;
    const on = await featureOnText(lm, f.plan.tokenizer, splice, HOOK, firing, batches, { examples: 3 });
    expect(on.fires).toBeGreaterThan(0);
    expect(on.tokens).toBe(off.tokens);
    expect(on.examples[0]!.act).toBeGreaterThanOrEqual(on.examples.at(-1)!.act);
    expect(on.examples[0]!.acts[on.examples[0]!.at]).toBe(on.examples[0]!.act);
    expect(Number.isFinite(on.ablationDrop)).toBe(true);

    // concept: the texts for are those the firing feature fires on most
    const concept = await conceptFeatures(lm, sae, HOOK, { for: [ids, ids.slice(0, 12)], against: [[ids[0]!, ...ids.slice(12)]] }, 5);
    expect(concept.features).toHaveLength(5);
    expect(concept.features[0]!.score).toBeGreaterThanOrEqual(concept.features[4]!.score);
    expect(concept.tokens.for).toBe(ids.length - 1 + 11);
    splice.destroy();
    lm.destroy();
  });
});

describe('steering a generation', () => {
  it('continues the prompt clean and with each strength, shading tokens by the clean activation', async () => {
    const device = await getDevice();
    const f = await loadLmFixture(`${SHARED_LM}/gpt2-tiny`);
    const c = f.plan.config;
    const sae = randomSae(c.d, 24, 'standard', 3, { hook_name: HOOK });
    const lm = LanguageModel.create(device, c, f.weights, 'gpt2-tiny', 1, 64);
    const splice = new SaeSplice(device, sae, 64, specialTokenIds(c));
    const prompt = [c.bosTokenId!, ...f.plan.tokenizer.encodeRaw('The jury said')];
    const r = await steerGeneration(lm, f.plan.tokenizer, splice, HOOK, prompt, { feature: sae.features - 1, mode: 'clamp', strengths: [0, 60], tokens: 8 });
    expect(r.baseline.ids.slice(prompt.length)).toEqual(await generate(lm, prompt, { tokens: 8 }));
    // clamping a feature that never fires to 0 changes nothing; clamping it high changes the text
    expect(r.steered[0]!.ids).toEqual(r.baseline.ids);
    expect(r.steered[1]!.ids).not.toEqual(r.baseline.ids);
    expect(r.steered[1]!.promptLength).toBe(prompt.length);
    expect(r.baseline.acts[0]).toBe(0); // the BOS is never read by the SAE
    expect(r.baseline.acts).toHaveLength(r.baseline.tokens.length);
    splice.destroy();
    lm.destroy();
  });
});
