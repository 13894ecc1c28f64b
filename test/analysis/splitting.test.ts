import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/engine/random.ts';
import { decoderLinks, featureSplitting, orderFamilies, splitFamilies, type DecoderRows } from '../../src/analysis/splitting.ts';

const rows = (W: number[][] | Float32Array, features: number, d: number): DecoderRows => ({
  W_dec: W instanceof Float32Array ? W : Float32Array.from(W.flat()), features, d,
});

/** the straightforward float64 computation: every pair's cosine, nearest both ways, ties to the lower index */
function reference(small: DecoderRows, large: DecoderRows) {
  const { d } = small;
  const row = (m: DecoderRows, r: number) => Array.from(m.W_dec.subarray(r * d, (r + 1) * d), Number);
  const cos = (a: number[], b: number[]) => {
    let dot = 0, na = 0, nb = 0;
    for (let k = 0; k < d; k++) {
      dot += a[k]! * b[k]!;
      na += a[k]! ** 2;
      nb += b[k]! ** 2;
    }
    return na === 0 || nb === 0 ? 0 : dot / (Math.sqrt(na) * Math.sqrt(nb));
  };
  const C = Array.from({ length: large.features }, (_, l) => Array.from({ length: small.features }, (_, s) => cos(row(large, l), row(small, s))));
  const argmax = (xs: number[]) => xs.reduce((best, x, i) => (x > xs[best]! ? i : best), 0);
  const parentOf = C.map(argmax);
  const nearestLarge = Array.from({ length: small.features }, (_, s) => argmax(C.map((r) => r[s]!)));
  return { C, parentOf, parentCosine: parentOf.map((s, l) => C[l]![s]!), nearestLarge, nearestLargeCosine: nearestLarge.map((l, s) => C[l]![s]!) };
}

/**
 * 5 orthogonal parents of different norms in d = 24; each splits into 2 or 3 noisy copies (cosine ≈ 0.9 to
 * its parent), plus 2 unrelated random rows; the large rows are shuffled so no family is contiguous.
 */
function synthetic(seed = 1) {
  const rng = new Rng(seed);
  const d = 24;
  const parents: number[][] = [];
  while (parents.length < 5) {
    const v = Array.from({ length: d }, () => rng.gaussian());
    for (const p of parents) {
      const dot = v.reduce((a, x, k) => a + x * p[k]!, 0);
      for (let k = 0; k < d; k++) v[k]! -= dot * p[k]!;
    }
    const n = Math.hypot(...v);
    parents.push(v.map((x) => x / n));
  }
  const norms = [1, 0.3, 2.5, 0.8, 1.7];
  const splits = [3, 2, 3, 2, 2];
  const large: { v: number[]; parent: number }[] = [];
  splits.forEach((n, p) => {
    for (let c = 0; c < n; c++) {
      // noise of norm ≈ 0.45 on a unit direction: cosine ≈ 0.9 to the parent, well below 1 to the siblings
      const scale = 0.5 + rng.float();
      large.push({ v: parents[p]!.map((x) => scale * (x + (0.45 / Math.sqrt(d)) * rng.gaussian())), parent: p });
    }
  });
  for (let u = 0; u < 2; u++) large.push({ v: Array.from({ length: d }, () => rng.gaussian()), parent: -1 });
  // Fisher–Yates with the seeded generator
  for (let i = large.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [large[i], large[j]] = [large[j]!, large[i]!];
  }
  return {
    d,
    small: rows(parents.map((p, i) => p.map((x) => x * norms[i]!)), 5, d),
    large: rows(large.map((r) => r.v), large.length, d),
    truth: large.map((r) => r.parent),
  };
}

describe('feature splitting', () => {
  it('finds the families of a small SAE\'s features in a larger one, with the float64 cosines', () => {
    const { small, large, truth } = synthetic();
    const ref = reference(small, large);
    const out = featureSplitting(small, large);
    expect(out.threshold).toBe(0.5);
    // families exactly as constructed
    for (let s = 0; s < 5; s++) {
      const want = truth.flatMap((p, l) => (p === s ? [l] : []));
      expect(out.families[s]!.children.map((c) => c.feature).sort((a, b) => a - b), `family ${s}`).toEqual(want);
      expect(out.families[s]!.parent).toBe(s);
    }
    // children by cosine, highest first, each the float64 cosine
    for (const f of out.families) {
      const cs = f.children.map((c) => c.cosine);
      expect(cs).toEqual([...cs].sort((a, b) => b - a));
      for (const c of f.children) {
        expect(c.cosine).toBeCloseTo(ref.C[c.feature]![f.parent]!, 12);
        expect(c.cosine).toBeGreaterThan(0.75);
      }
      expect(f.nearest.feature).toBe(ref.nearestLarge[f.parent]);
      expect(f.nearest.cosine).toBeCloseTo(ref.nearestLargeCosine[f.parent]!, 12);
      expect(f.nearest).toEqual(f.children[0]);
    }
    // the unrelated rows are new, with their nearest small feature all the same
    const unrelated = truth.flatMap((p, l) => (p === -1 ? [l] : []));
    expect(out.newFeatures.map((n) => n.feature)).toEqual(unrelated);
    for (const n of out.newFeatures) {
      expect(n.nearest.feature).toBe(ref.parentOf[n.feature]);
      expect(n.nearest.cosine).toBeCloseTo(ref.parentCosine[n.feature]!, 12);
      expect(n.nearest.cosine).toBeLessThan(0.5);
    }
    expect(out.counts).toEqual({ small: 5, large: 14, splits: 5, single: 0, childless: 0, linked: 12, new: 2 });
    // the raw links match the reference everywhere
    expect(Array.from(out.links.parentOf)).toEqual(ref.parentOf);
    expect(Array.from(out.links.nearestLarge)).toEqual(ref.nearestLarge);
    ref.parentCosine.forEach((c, l) => expect(out.links.parentCosine[l]).toBeCloseTo(c, 12));
  });

  it('regroups at another threshold without redoing the pass; counts single and childless parents', () => {
    const { small, large } = synthetic();
    const links = decoderLinks(small, large);
    const everyone = splitFamilies(links, -1);
    expect(everyone.counts.new).toBe(0);
    expect(everyone.counts.linked).toBe(14);
    // at a threshold between a family's cosines only the closest children stay
    const strict = splitFamilies(links, 0.97);
    const cos = Array.from(links.parentCosine);
    expect(strict.counts.linked).toBe(cos.filter((c) => c >= 0.97).length);
    expect(strict.counts.splits + strict.counts.single + strict.counts.childless).toBe(5);
    const none = splitFamilies(links, 1);
    expect(none.counts).toMatchObject({ splits: 0, single: 0, childless: 5, linked: 0, new: 14 });
    // a childless parent still says how close its nearest large feature is
    expect(none.families[2]!.nearest.cosine).toBeGreaterThan(0.75);
  });

  it('orders families for display: biggest first, then by parent', () => {
    const links = decoderLinks(
      rows([[1, 0, 0], [0, 1, 0], [0, 0, 1]], 3, 3),
      rows([[0, 1, 0.1], [1, 0, 0], [0, 1, 0.2], [0, 0.1, 1], [0, 1, -0.1]], 5, 3),
    );
    const out = splitFamilies(links);
    expect(orderFamilies(out.families).map((f) => [f.parent, f.children.map((c) => c.feature)])).toEqual([
      [1, [0, 4, 2]], // 0 and 4 tie on cosine: the lower index first
      [0, [1]],
      [2, [3]],
    ]);
    expect(out.families.map((f) => f.parent)).toEqual([0, 1, 2]);
  });

  it('breaks exact ties to the lower index, whichever kernel path forms the pair', () => {
    const rng = new Rng(7);
    const d = 13;
    const dir = () => Array.from({ length: d }, () => rng.gaussian());
    const a = dir();
    const b = dir();
    // small 1 and 4 are equal (4 falls outside the 4-wide block of 0–3); small 2 is the zero row of a dead feature
    const small = rows([dir(), a, Array(d).fill(0), b, a], 5, d);
    // large 0 and 2 are equal (2 is the odd row out of the 2-row pairs)
    const large = rows([b, a.map((x) => 3 * x), b], 3, d);
    const links = decoderLinks(small, large);
    expect(links.parentOf[1]).toBe(1); // equal cosine ≈ 1 to small 1 and small 4
    expect(links.parentCosine[1]).toBeCloseTo(1, 6);
    expect(links.nearestLarge[4]).toBe(1);
    expect(links.nearestLargeCosine[4]).toBe(links.nearestLargeCosine[1]);
    expect(links.nearestLarge[2]).toBe(0); // the zero row: cosine 0 to every large feature
    expect(links.nearestLargeCosine[2]).toBe(0);
    expect([links.parentOf[0], links.parentOf[2]]).toEqual([3, 3]);
    expect(links.parentCosine[0]).toBe(links.parentCosine[2]);
    // small 3 is as near large 0 as large 2: it links to 0
    expect(links.nearestLarge[3]).toBe(0);
  });

  it('matches the reference across cache blocks and ragged edges, and reports progress', () => {
    const rng = new Rng(11);
    const d = 9;
    const [nS, nL] = [70, 151];
    const small = rows(Float32Array.from({ length: nS * d }, () => rng.gaussian()), nS, d);
    const large = rows(Float32Array.from({ length: nL * d }, () => rng.gaussian()), nL, d);
    const seen: [number, number][] = [];
    const links = decoderLinks(small, large, { onProgress: (done, total) => seen.push([done, total]) });
    expect(seen).toEqual([[64, 151], [128, 151], [151, 151]]);
    const ref = reference(small, large);
    expect(Array.from(links.parentOf)).toEqual(ref.parentOf);
    expect(Array.from(links.nearestLarge)).toEqual(ref.nearestLarge);
    ref.parentCosine.forEach((c, l) => expect(links.parentCosine[l]).toBeCloseTo(c, 12));
    ref.nearestLargeCosine.forEach((c, s) => expect(links.nearestLargeCosine[s]).toBeCloseTo(c, 12));
  });

  it('passes labels through to parents, children and new features', () => {
    const small = rows([[1, 0], [0, 1]], 2, 2);
    const large = rows([[1, 0.5], [1, -0.5], [-1, -1]], 3, 2);
    const out = featureSplitting(small, large, { labels: { small: [['the'], undefined], large: [[' a'], [' an'], [' zz']] } });
    expect(out.families[0]).toEqual({
      parent: 0, label: ['the'],
      children: [{ feature: 0, cosine: expect.closeTo(1 / Math.hypot(1, 0.5), 12), label: [' a'] }, { feature: 1, cosine: expect.closeTo(1 / Math.hypot(1, 0.5), 12), label: [' an'] }],
      nearest: { feature: 0, cosine: expect.closeTo(1 / Math.hypot(1, 0.5), 12), label: [' a'] },
    });
    expect(out.families[1]).not.toHaveProperty('label');
    expect(out.newFeatures).toEqual([{ feature: 2, label: [' zz'], nearest: { feature: 0, cosine: expect.closeTo(-Math.SQRT1_2, 12), label: ['the'] } }]);
  });

  it('refuses shapes that do not fit, with messages that say which SAE and what', () => {
    const ok = rows([[1, 0, 0], [0, 1, 0]], 2, 3);
    expect(() => decoderLinks({ W_dec: new Float32Array(5), features: 2, d: 3 }, ok)).toThrow(/small SAE's W_dec has 5 values, expected 2×3 = 6/);
    expect(() => decoderLinks(ok, { W_dec: new Float32Array(7), features: 2, d: 3 })).toThrow(/large SAE's W_dec has 7 values, expected 2×3 = 6/);
    expect(() => decoderLinks(ok, rows([[1, 0], [0, 1]], 2, 2))).toThrow(/small SAE has d=3, the large SAE has d=2/);
    expect(() => decoderLinks({ W_dec: new Float32Array(0), features: 0, d: 3 }, ok)).toThrow(/small SAE needs at least one feature/);
    expect(() => decoderLinks(ok, rows([[1, NaN, 0]], 1, 3))).toThrow(/large SAE's decoder row 0 is not finite/);
    const links = decoderLinks(ok, ok);
    expect(() => splitFamilies(links, 1.5)).toThrow(/threshold must be a number in \[-1, 1\], got 1.5/);
    expect(() => splitFamilies(links, NaN)).toThrow(/threshold/);
    expect(() => splitFamilies(links, 0.5, { small: ['a'] })).toThrow(/1 small-feature labels for 2 small features/);
    expect(() => splitFamilies(links, 0.5, { large: ['a', 'b', 'c'] })).toThrow(/3 large-feature labels for 2 large features/);
  });
});
