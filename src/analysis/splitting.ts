// Feature splitting across SAE sizes (Towards Monosemanticity §"Feature Splitting", Scaling Monosemanticity):
// two SAEs trained on the same activations at different widths; a feature of the small one often reappears
// in the large one as a family of narrower features whose decoder directions sit close to the parent's.
// Each large feature is linked to its nearest small feature by decoder cosine; the large features linked to
// a small one with cosine ≥ a threshold are its children. A small feature with ≥ 2 children has split; a
// large feature below the threshold to every small feature is new (the small SAE had no room for it).
//
// The cost is one pass of F_s·F_l·d multiply-adds on the CPU (no GPU: it must run in a plain worker and in
// the CLI alike). The pass is split from the grouping so a UI can move the threshold without redoing it.

/** the two SAEs' decoders: W_dec is features × d, row-major (SaeWeights fits) */
export interface DecoderRows {
  W_dec: Float32Array;
  features: number;
  d: number;
}

/** The expensive part: nearest neighbours both ways by decoder cosine. Typed arrays, so a worker can transfer them. */
export interface DecoderLinks {
  d: number;
  smallFeatures: number;
  largeFeatures: number;
  /** per large feature: its nearest small feature (ties to the lower index) */
  parentOf: Int32Array;
  /** per large feature: the cosine to that small feature */
  parentCosine: Float64Array;
  /** per small feature: its nearest large feature (ties to the lower index), whether or not it is a child */
  nearestLarge: Int32Array;
  /** per small feature: the cosine to that large feature */
  nearestLargeCosine: Float64Array;
}

export interface SplitLink<L = string> {
  feature: number;
  cosine: number;
  /** the caller's label for `feature` (e.g. its top tokens), when one was given */
  label?: L;
}

export interface SplitFamily<L = string> {
  /** the small feature */
  parent: number;
  label?: L;
  /** large features whose nearest small feature is `parent` at cosine ≥ threshold; highest cosine first, then lower index */
  children: SplitLink<L>[];
  /** the large feature nearest the parent, child or not: how close the nearest is when there are no children */
  nearest: SplitLink<L>;
}

/** a large feature linked to no small feature at the threshold, with the small feature it is nearest all the same */
export interface NewFeature<L = string> {
  feature: number;
  label?: L;
  nearest: SplitLink<L>;
}

export interface SplitCounts {
  small: number;
  large: number;
  /** small features with ≥ 2 children */
  splits: number;
  /** small features with exactly one child */
  single: number;
  /** small features with no child */
  childless: number;
  /** large features that are some small feature's child */
  linked: number;
  /** large features that are nobody's child */
  new: number;
}

export interface FeatureSplitting<L = string> {
  threshold: number;
  /** one per small feature, in feature order (see orderFamilies for the display order) */
  families: SplitFamily<L>[];
  /** in large-feature order */
  newFeatures: NewFeature<L>[];
  counts: SplitCounts;
}

export interface SplitLabels<L = string> {
  /** per small feature (length F_s; an undefined entry has no label) */
  small?: readonly (L | undefined)[];
  /** per large feature (length F_l) */
  large?: readonly (L | undefined)[];
}

export interface LinkOptions {
  /** called after each block of large features; throw from it to stop the pass */
  onProgress?: (largeDone: number, largeTotal: number) => void;
}

export const DEFAULT_SPLIT_THRESHOLD = 0.5;

// Rows per cache block: 64 rows of d = 1024 float32 are 256 KiB, so a block of each matrix stays in L2
// while every pair between them is formed; each small row is then read from memory once per 64 large rows.
const BLOCK = 64;

/**
 * For every large feature its nearest small feature by decoder cosine, and for every small feature its
 * nearest large one. Rows of norm 0 (dead features) have cosine 0 with everything.
 */
export function decoderLinks(small: DecoderRows, large: DecoderRows, options: LinkOptions = {}): DecoderLinks {
  checkRows(small, 'small');
  checkRows(large, 'large');
  if (small.d !== large.d) throw new Error(`feature splitting: the small SAE has d=${small.d}, the large SAE has d=${large.d}; they must read the same activations`);
  const { d } = small;
  const nS = small.features;
  const nL = large.features;
  const S = small.W_dec;
  const Lw = large.W_dec;
  // Inverse norms once, instead of normalised copies: at F = 32768, d = 1024 a copy is 128 MiB per SAE.
  const invS = inverseNorms(small, 'small');
  const invL = inverseNorms(large, 'large');
  const parentOf = new Int32Array(nL);
  const parentCosine = new Float64Array(nL).fill(-Infinity);
  const nearestLarge = new Int32Array(nS);
  const nearestLargeCosine = new Float64Array(nS).fill(-Infinity);

  // Every pair's dot is the same left-to-right double sum over k (a float32 product is exact in a double),
  // whichever kernel below forms it, so equal rows give equal cosines and the strict `>` keeps the lower
  // index: pairs are offered in ascending small index for each large row and ascending large index for
  // each small row.
  const offer = (l: number, s: number, dot: number) => {
    const c = dot * invS[s]! * invL[l]!;
    if (c > parentCosine[l]!) {
      parentCosine[l] = c;
      parentOf[l] = s;
    }
    if (c > nearestLargeCosine[s]!) {
      nearestLargeCosine[s] = c;
      nearestLarge[s] = l;
    }
  };
  const dot1 = (l: number, s: number) => {
    const p = l * d;
    const u = s * d;
    let a = 0;
    for (let k = 0; k < d; k++) a += Lw[p + k]! * S[u + k]!;
    return a;
  };

  for (let l0 = 0; l0 < nL; l0 += BLOCK) {
    const l1 = Math.min(l0 + BLOCK, nL);
    for (let s0 = 0; s0 < nS; s0 += BLOCK) {
      const s1 = Math.min(s0 + BLOCK, nS);
      let l = l0;
      for (; l + 1 < l1; l += 2) {
        const p = l * d;
        const q = p + d;
        let s = s0;
        // 2 large × 4 small rows at a time: 6 loads feed 8 multiply-adds (measured ~7× a plain dot loop in V8)
        for (; s + 3 < s1; s += 4) {
          const u = s * d;
          const v = u + d;
          const w = v + d;
          const z = w + d;
          let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
          for (let k = 0; k < d; k++) {
            const x = Lw[p + k]!;
            const y = Lw[q + k]!;
            const m = S[u + k]!;
            const n = S[v + k]!;
            const o = S[w + k]!;
            const r = S[z + k]!;
            a0 += x * m;
            a1 += x * n;
            a2 += x * o;
            a3 += x * r;
            b0 += y * m;
            b1 += y * n;
            b2 += y * o;
            b3 += y * r;
          }
          offer(l, s, a0);
          offer(l, s + 1, a1);
          offer(l, s + 2, a2);
          offer(l, s + 3, a3);
          offer(l + 1, s, b0);
          offer(l + 1, s + 1, b1);
          offer(l + 1, s + 2, b2);
          offer(l + 1, s + 3, b3);
        }
        for (; s < s1; s++) {
          offer(l, s, dot1(l, s));
          offer(l + 1, s, dot1(l + 1, s));
        }
      }
      for (; l < l1; l++) for (let s = s0; s < s1; s++) offer(l, s, dot1(l, s));
    }
    options.onProgress?.(l1, nL);
  }
  return { d, smallFeatures: nS, largeFeatures: nL, parentOf, parentCosine, nearestLarge, nearestLargeCosine };
}

/** Groups the links into families at `threshold` (cheap: O(F_s + F_l log F_l)). */
export function splitFamilies<L = string>(links: DecoderLinks, threshold = DEFAULT_SPLIT_THRESHOLD, labels: SplitLabels<L> = {}): FeatureSplitting<L> {
  if (!Number.isFinite(threshold) || threshold < -1 || threshold > 1) throw new Error(`feature splitting: threshold must be a number in [-1, 1], got ${threshold}`);
  const { smallFeatures: nS, largeFeatures: nL } = links;
  if (labels.small && labels.small.length !== nS) throw new Error(`feature splitting: ${labels.small.length} small-feature labels for ${nS} small features`);
  if (labels.large && labels.large.length !== nL) throw new Error(`feature splitting: ${labels.large.length} large-feature labels for ${nL} large features`);
  const link = (feature: number, cosine: number, names: readonly (L | undefined)[] | undefined): SplitLink<L> => {
    const label = names?.[feature];
    return label === undefined ? { feature, cosine } : { feature, cosine, label };
  };
  const families: SplitFamily<L>[] = [];
  for (let s = 0; s < nS; s++) {
    const f: SplitFamily<L> = { parent: s, children: [], nearest: link(links.nearestLarge[s]!, links.nearestLargeCosine[s]!, labels.large) };
    const label = labels.small?.[s];
    if (label !== undefined) f.label = label;
    families.push(f);
  }
  const newFeatures: NewFeature<L>[] = [];
  for (let l = 0; l < nL; l++) {
    const parent = links.parentOf[l]!;
    const cosine = links.parentCosine[l]!;
    if (cosine >= threshold) {
      families[parent]!.children.push(link(l, cosine, labels.large));
    } else {
      const nf: NewFeature<L> = { feature: l, nearest: link(parent, cosine, labels.small) };
      const label = labels.large?.[l];
      if (label !== undefined) nf.label = label;
      newFeatures.push(nf);
    }
  }
  const counts: SplitCounts = { small: nS, large: nL, splits: 0, single: 0, childless: 0, linked: nL - newFeatures.length, new: newFeatures.length };
  for (const f of families) {
    f.children.sort((a, b) => b.cosine - a.cosine || a.feature - b.feature);
    if (f.children.length >= 2) counts.splits++;
    else if (f.children.length === 1) counts.single++;
    else counts.childless++;
  }
  return { threshold, families, newFeatures, counts };
}

/** decoderLinks then splitFamilies */
export function featureSplitting<L = string>(
  small: DecoderRows,
  large: DecoderRows,
  options: LinkOptions & { threshold?: number; labels?: SplitLabels<L> } = {},
): FeatureSplitting<L> & { links: DecoderLinks } {
  const links = decoderLinks(small, large, options);
  return { ...splitFamilies(links, options.threshold, options.labels), links };
}

/** Display order: the largest families first (splits before single links before childless), then by parent. */
export function orderFamilies<L>(families: readonly SplitFamily<L>[]): SplitFamily<L>[] {
  return [...families].sort((a, b) => b.children.length - a.children.length || a.parent - b.parent);
}

function checkRows(m: DecoderRows, which: string): void {
  if (!Number.isSafeInteger(m.features) || m.features < 1) throw new Error(`feature splitting: the ${which} SAE needs at least one feature, got ${m.features}`);
  if (!Number.isSafeInteger(m.d) || m.d < 1) throw new Error(`feature splitting: the ${which} SAE needs d ≥ 1, got ${m.d}`);
  if (m.W_dec.length !== m.features * m.d) {
    throw new Error(`feature splitting: the ${which} SAE's W_dec has ${m.W_dec.length} values, expected ${m.features}×${m.d} = ${m.features * m.d}`);
  }
}

/** 1/‖row‖ per row, 0 for a row of norm 0; a non-finite value is refused (it would make every comparison false) */
function inverseNorms(m: DecoderRows, which: string): Float64Array {
  const { W_dec: W, features: F, d } = m;
  const out = new Float64Array(F);
  for (let r = 0; r < F; r++) {
    let sq = 0;
    for (let k = r * d; k < (r + 1) * d; k++) sq += W[k]! * W[k]!;
    if (!Number.isFinite(sq)) throw new Error(`feature splitting: the ${which} SAE's decoder row ${r} is not finite`);
    out[r] = sq > 0 ? 1 / Math.sqrt(sq) : 0;
  }
  return out;
}
