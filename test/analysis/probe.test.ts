import { describe, expect, it } from 'vitest';
import {
  addFireCounts, addMoments, addProbeConfusion, bestF1Threshold, classifierScores, complementRanges, featureAsClassifier, featureConfusion,
  newConfusion, newFireCounts, newMoments, probeLogits, sampleRanges, standardiser, trainProbes, type Probe,
} from '../../src/analysis/probe.ts';
import { Rng } from '../../src/engine/random.ts';

/**
 * n rows in d dimensions with an offset and uneven scales per column (so standardising matters), and a
 * label per row from a hidden direction u: 0 where u·x > 1, 2 where u·x < −1, else 1. Rows within `margin`
 * of either boundary are redrawn, so with margin > 0 label 0 is linearly separable from the rest. `flip`
 * replaces that share of labels with a random one (label noise: no probe can be perfect).
 */
function labelled(n: number, d: number, seed: number, margin: number, flip = 0): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(seed);
  const dirRng = new Rng(99); // the same direction and column scales for every seed: train and test share them
  const u = Array.from({ length: d }, () => dirRng.gaussian());
  const norm = Math.hypot(...u);
  const scale = Array.from({ length: d }, (_, j) => 0.5 + 3 * (j % 3));
  const offset = Array.from({ length: d }, (_, j) => (j % 2 ? 5 : -2));
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let s: number;
    const z = new Float64Array(d);
    do {
      for (let j = 0; j < d; j++) z[j] = 1.5 * rng.gaussian();
      s = z.reduce((a, v, j) => a + v * u[j]! / norm, 0);
    } while (Math.abs(Math.abs(s) - 1) < margin);
    for (let j = 0; j < d; j++) x[r * d + j] = z[j]! * scale[j]! + offset[j]!;
    y[r] = s > 1 ? 0 : s < -1 ? 2 : 1;
    if (rng.float() < flip) y[r] = rng.int(3);
  }
  // the label is linear in z, so in x = z·scale + offset too
  return { x, y };
}

function heldOutScores(p: Probe, x: Float32Array, y: Int32Array) {
  const c = newConfusion();
  // scored in two chunks, as the CLI streams them
  const half = Math.floor(y.length / 2);
  addProbeConfusion(c, p, x.subarray(0, half * p.d), y.subarray(0, half));
  addProbeConfusion(c, p, x.subarray(half * p.d), y.subarray(half));
  return classifierScores(c);
}

describe('linear probes', () => {
  const d = 12;

  it('reach near-perfect precision and recall on a linearly separable label', () => {
    const train = labelled(3000, d, 1, 0.15);
    const test = labelled(1000, d, 2, 0.15);
    const [p0, p2] = trainProbes(train.x, d, train.y, [0, 2], { epochs: 30 });
    for (const [p, label] of [[p0!, 0], [p2!, 2]] as const) {
      expect(p.label).toBe(label);
      expect(p.positives).toBe(train.y.filter((v) => v === label).length);
      expect(p.positives).toBeGreaterThan(300);
      const s = heldOutScores(p, test.x, test.y);
      expect(s.precision, `label ${label}`).toBeGreaterThanOrEqual(0.98);
      expect(s.recall, `label ${label}`).toBeGreaterThanOrEqual(0.98);
    }
  });

  it('land between chance and perfect when the label is noisy, and say so in the loss', () => {
    const train = labelled(3000, d, 3, 0, 0.3);
    const test = labelled(1000, d, 4, 0, 0.3);
    const noiseless = labelled(3000, d, 3, 0);
    const clean = trainProbes(noiseless.x, d, noiseless.y, [0])[0]!;
    const [p] = trainProbes(train.x, d, train.y, [0]);
    const s = heldOutScores(p!, test.x, test.y);
    const base = test.y.filter((v) => v === 0).length / test.y.length;
    // with 30% of labels redrawn, about a fifth of the label-0 rows are not separable from the rest
    expect(s.f1).toBeGreaterThan(0.6);
    expect(s.f1).toBeLessThan(0.95);
    expect(s.precision).toBeGreaterThan(base + 0.3);
    expect(s.precision).toBeLessThan(0.97);
    expect(s.recall).toBeLessThan(0.97);
    expect(p!.loss).toBeGreaterThan(clean.loss + 0.1);
  });

  it('are deterministic: the same seed gives the same weights bit for bit, another seed others', () => {
    const { x, y } = labelled(1000, d, 5, 0, 0.1);
    const bits = (p: Probe) => Buffer.from(Float64Array.from([...p.w, p.b, p.threshold]).buffer).toString('hex');
    const a = trainProbes(x, d, y, [0, 1], { seed: 7, epochs: 3 });
    const b = trainProbes(x, d, y, [0, 1], { seed: 7, epochs: 3 });
    const c = trainProbes(x, d, y, [0, 1], { seed: 8, epochs: 3 });
    expect(a.map(bits)).toEqual(b.map(bits));
    expect(a.map(bits)).not.toEqual(c.map(bits));
    // a probe trained alone matches the same probe trained beside another (they share batches, not state)
    expect(bits(trainProbes(x, d, y, [1], { seed: 7, epochs: 3 })[0]!)).toBe(bits(a[1]!));
  });

  it('a fixed probability threshold is the logit of that probability', () => {
    const { x, y } = labelled(500, d, 6, 0.1);
    const [p] = trainProbes(x, d, y, [0], { epochs: 2, threshold: 0.5 });
    expect(p!.threshold).toBe(0);
    expect(trainProbes(x, d, y, [0], { epochs: 2, threshold: 0.8 })[0]!.threshold).toBeCloseTo(Math.log(4), 12);
    expect(() => trainProbes(x, d, y, [0], { threshold: 1 })).toThrow(/probability/);
    expect(() => trainProbes(x.subarray(1), d, y, [0])).toThrow(/rows × 12/);
  });

  it('logits apply the training standardisation to raw rows', () => {
    const { x, y } = labelled(400, 3, 7, 0);
    const [p] = trainProbes(x, 3, y, [0], { epochs: 1 });
    const row = x.subarray(0, 3);
    const { mean, invStd } = p!.standardiser;
    const want = p!.b + [0, 1, 2].reduce((a, j) => a + p!.w[j]! * (row[j]! - mean[j]!) * invStd[j]!, 0);
    expect(probeLogits(p!, row)[0]).toBe(want);
  });
});

describe('streaming moments', () => {
  it('chunk by chunk equal the whole at once, and a constant column is ignored rather than divided by zero', () => {
    const rng = new Rng(1);
    const x = Float32Array.from({ length: 300 * 3 }, (_, i) => (i % 3 === 2 ? 4 : 1000 + 3 * rng.gaussian()));
    const whole = newMoments(3);
    addMoments(whole, x);
    const parts = newMoments(3);
    for (const [s, e] of [[0, 7], [7, 150], [150, 151], [151, 300]]) addMoments(parts, x.subarray(s * 3, e * 3));
    const n = 300;
    for (let j = 0; j < 3; j++) {
      let mean = 0;
      for (let r = 0; r < n; r++) mean += x[r * 3 + j]!;
      mean /= n;
      let m2 = 0;
      for (let r = 0; r < n; r++) m2 += (x[r * 3 + j]! - mean) ** 2;
      for (const m of [whole, parts]) {
        expect(m.mean[j]).toBeCloseTo(mean, 9);
        expect(m.m2[j]! / n).toBeCloseTo(m2 / n, 8);
      }
    }
    const s = standardiser(parts);
    expect(s.invStd[2]).toBe(0);
    expect(1 / s.invStd[0]!).toBeCloseTo(3, 0);
  });
});

describe('features as classifiers', () => {
  // 6 rows × 3 features, labels (0 = N, 1 = V): N N V N V V
  const acts = Float32Array.from([
    0.5, 0, 1,
    0, 0, 2,
    2, 0, 0,
    1, 0, 0,
    0, 0, 3,
    0.1, 0, -1,
  ]);
  const labels = [0, 0, 1, 0, 1, 1];

  it('feature 0 for N fires on rows 0, 2, 3, 5: tp 2, fp 2, fn 1', () => {
    const c = featureAsClassifier(acts, 3, 0, labels, 0);
    expect(c).toEqual({ tp: 2, fp: 2, fn: 1, tn: 1 });
    expect(classifierScores(c)).toEqual({ precision: 2 / 4, recall: 2 / 3, f1: 4 / 7 });
    // above 0.4 instead of 0: rows 0, 2, 3
    expect(featureAsClassifier(acts, 3, 0, labels, 0, 0.4)).toEqual({ tp: 2, fp: 1, fn: 1, tn: 2 });
  });

  it('feature 2 for V (a negative activation is not firing); feature 1 never fires', () => {
    expect(featureAsClassifier(acts, 3, 2, labels, 1)).toEqual({ tp: 1, fp: 2, fn: 2, tn: 1 });
    expect(classifierScores(featureAsClassifier(acts, 3, 2, labels, 1))).toEqual({ precision: 1 / 3, recall: 1 / 3, f1: 1 / 3 });
    expect(classifierScores(featureAsClassifier(acts, 3, 1, labels, 1))).toEqual({ precision: 0, recall: 0, f1: 0 });
  });

  it('fire counts streamed over chunks give the same confusion for every feature and label', () => {
    const fc = newFireCounts(3, 2);
    addFireCounts(fc, acts.subarray(0, 6), labels.slice(0, 2));
    addFireCounts(fc, acts.subarray(6), labels.slice(2));
    for (let f = 0; f < 3; f++) for (let l = 0; l < 2; l++) expect(featureConfusion(fc, f, l), `${f}/${l}`).toEqual(featureAsClassifier(acts, 3, f, labels, l));
    expect(() => addFireCounts(fc, acts.subarray(0, 3), [2])).toThrow(/label 2, outside the 2 labels/);
  });

  it('the F1-best threshold sits between the last score kept and the next, and keeps tied scores together', () => {
    // scores 5 4 3 3 1 with truth 1 1 0 1 0: keeping the top 4 (both 3s) gives F1 6/7, the top 2 only 4/5
    expect(bestF1Threshold([3, 1, 5, 3, 4], [0, 0, 1, 1, 1])).toBe(2);
    expect(bestF1Threshold([3, 1, 5, 4], [0, 0, 1, 1])).toBe(3.5);
    expect(bestF1Threshold([1, 2], [0, 0])).toBe(Infinity);
    expect(bestF1Threshold([1, 2], [1, 1])).toBe(-Infinity);
  });
});

describe('training rows', () => {
  it('are the complement of the held-out ranges', () => {
    expect(complementRanges([[0, 5], [9, 12]], 20)).toEqual([[5, 9], [12, 20]]);
    expect(complementRanges([[3, 20]], 20)).toEqual([[0, 3]]);
  });

  it('are capped by a seeded sample of block pieces, ascending and inside the ranges', () => {
    const ranges: [number, number][] = [[100, 1000], [1300, 3000]];
    expect(sampleRanges(ranges, 5000, 0)).toEqual(ranges);
    const a = sampleRanges(ranges, 1000, 4);
    expect(a).toEqual(sampleRanges(ranges, 1000, 4));
    expect(a).not.toEqual(sampleRanges(ranges, 1000, 5));
    expect(a.reduce((n, [s, e]) => n + e - s, 0)).toBe(1000);
    for (let i = 0; i < a.length; i++) {
      const [s, e] = a[i]!;
      expect(e).toBeGreaterThan(s);
      if (i > 0) expect(s).toBeGreaterThan(a[i - 1]![1]);
      expect(ranges.some(([rs, re]) => s >= rs && e <= re)).toBe(true);
    }
  });
});
