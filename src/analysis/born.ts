// Features as they are "born": a feature is born in the checkpoint interval in which it first fires (its
// cumulative fire count leaves zero). The strip shows the most active of the newly born with the tokens
// they fire most strongly on, from a fixed sample of rows with token context.

export interface BornFeature {
  feature: number;
  /** the checkpoint step by which it had first fired */
  step: number;
  /** fires in the interval it was born in */
  fires: number;
  /** its strongest tokens in the context sample, strongest first (empty without token context) */
  tokens: string[];
}

/** features with no fires in `before` (null: none yet) and some in `now`, most fires first, then by index */
export function newlyBorn(before: Uint32Array | null, now: Uint32Array): number[] {
  const born: number[] = [];
  for (let i = 0; i < now.length; i++) if (now[i]! > 0 && (before === null || before[i] === 0)) born.push(i);
  return born.sort((a, b) => now[b]! - now[a]! || a - b);
}

/**
 * For each feature, the labels of the rows where it is most active in `acts` (rows × F, row-major), up to
 * `per` distinct labels, strongest first; rows where it is 0 never count. Ties go to the earlier row.
 */
export function topLabels(acts: Float32Array, F: number, features: number[], labels: string[], per = 3): string[][] {
  const rows = labels.length;
  if (acts.length !== rows * F) throw new Error(`topLabels: ${acts.length} activations is not ${rows}×${F}`);
  return features.map((f) => {
    const hits: number[] = [];
    for (let r = 0; r < rows; r++) if (acts[r * F + f]! > 0) hits.push(r);
    hits.sort((a, b) => acts[b * F + f]! - acts[a * F + f]! || a - b);
    const out: string[] = [];
    for (const r of hits) {
      if (!out.includes(labels[r]!)) out.push(labels[r]!);
      if (out.length === per) break;
    }
    return out;
  });
}
