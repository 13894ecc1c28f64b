// "Find features for this concept", the seed's multi-prompt method: texts the user writes for a concept and
// against it, read at the SAE's hook; each feature ranked by how much more often it fires on the tokens of
// the texts for the concept than on those against it, and scored as a classifier of "this token is in a text
// for the concept" beside a logistic probe on the raw activations of the same tokens (both scored by
// leave-one-text-out, so neither is judged on a text it was fit on).
import { encodeCpu } from '../analysis/sae-cpu.ts';
import { addProbeConfusion, classifierScores, featureAsClassifier, newConfusion, trainProbes, type ClassifierScores } from '../analysis/probe.ts';
import type { SaeWeights } from '../engine/sae.ts';
import type { LanguageModel } from './lm.ts';

export interface ConceptFeature {
  feature: number;
  /** share of the tokens of texts for / against the concept it fires on */
  fireFor: number;
  fireAgainst: number;
  /** mean activation over those tokens */
  meanFor: number;
  meanAgainst: number;
  /** fireFor − fireAgainst */
  score: number;
  /** fires → "for", over every token */
  asClassifier: ClassifierScores;
}

export interface ConceptResult {
  tokens: { for: number; against: number };
  features: ConceptFeature[];
  /** a logistic probe on the raw activations, each text scored by a probe fit on the others */
  probe: ClassifierScores;
}

/** texts as token ids (a BOS first where the model has one); their first token (the BOS) is left out */
export async function conceptFeatures(lm: LanguageModel, sae: SaeWeights, hook: string, texts: { for: number[][]; against: number[][] }, n = 12): Promise<ConceptResult> {
  if (texts.for.length === 0 || texts.against.length === 0) throw new RangeError('write at least one text for the concept and one against it');
  const d = lm.config.d;
  const F = sae.features;
  const rows: { x: Float32Array; label: number }[] = [];
  for (const [label, group] of [[1, texts.for], [0, texts.against]] as const) {
    for (const ids of group) {
      const x = (await lm.forward({ ids, read: [hook], logits: 'none' })).hooks.get(hook)!;
      rows.push({ x: x.subarray(d), label });
    }
  }
  const all = new Float32Array(rows.reduce((s, r) => s + r.x.length, 0));
  rows.reduce((at, r) => (all.set(r.x, at), at + r.x.length), 0);
  const labels = Int32Array.from(rows.flatMap((r) => Array<number>(r.x.length / d).fill(r.label)));
  const f = encodeCpu(sae, all);
  const count = { for: labels.filter((l) => l === 1).length, against: labels.filter((l) => l === 0).length };
  const stats = Array.from({ length: F }, (_, feature) => {
    let fireFor = 0, fireAgainst = 0, meanFor = 0, meanAgainst = 0;
    for (let r = 0; r < labels.length; r++) {
      const a = f[r * F + feature]!;
      if (labels[r] === 1) { meanFor += a; if (a > 0) fireFor++; } else { meanAgainst += a; if (a > 0) fireAgainst++; }
    }
    fireFor /= count.for; fireAgainst /= count.against; meanFor /= count.for; meanAgainst /= count.against;
    return { feature, fireFor, fireAgainst, meanFor, meanAgainst, score: fireFor - fireAgainst };
  });
  const top = stats.sort((a, b) => b.score - a.score || b.meanFor - a.meanFor).slice(0, n);
  const features = top.map((s) => ({ ...s, asClassifier: classifierScores(featureAsClassifier(f, F, s.feature, labels, 1)) }));
  // leave one text out: each text's tokens scored by a probe fit on every other text's
  const probe = newConfusion();
  let at = 0;
  for (const r of rows) {
    const n = r.x.length / d;
    const trainX = new Float32Array(all.length - n * d);
    trainX.set(all.subarray(0, at * d));
    trainX.set(all.subarray((at + n) * d), at * d);
    const trainL = new Int32Array(labels.length - n);
    trainL.set(labels.subarray(0, at));
    trainL.set(labels.subarray(at + n), at);
    if (new Set(trainL).size === 2) addProbeConfusion(probe, trainProbes(trainX, d, trainL, [1], { epochs: 50, batch: 64 })[0]!, r.x, labels.subarray(at, at + n));
    at += n;
  }
  return { tokens: count, features, probe: classifierScores(probe) };
}
