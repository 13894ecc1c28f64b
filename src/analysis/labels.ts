// Where a feature's activation goes, by label (Scaling Monosemanticity's specificity check, with the Brown
// POS tags as labels): per feature, its activation mass on each label, its purity (the largest label's share
// of the mass), the lift of that label over its base rate among the rows, and the distinct tokens carrying
// the mass — a feature that is 90% NOUN but only ever fires on " the" is a token detector, not a POS one.

export interface LabelMass {
  names: string[];
  features: number;
  /** rows seen, and rows per label */
  rows: number;
  labelRows: Float64Array;
  /** (F, L) activation mass per feature and label */
  mass: Float64Array;
  /** rows on which each feature fired */
  fires: Float64Array;
  /** per feature: token id → activation mass (only tokens it fired on) */
  tokens: Map<number, number>[];
}

export function newLabelMass(names: string[], features: number): LabelMass {
  return {
    names, features, rows: 0, labelRows: new Float64Array(names.length), mass: new Float64Array(features * names.length),
    fires: new Float64Array(features), tokens: Array.from({ length: features }, () => new Map()),
  };
}

/** adds a chunk: acts (rows × F), and per row its label and token ids */
export function addLabelMass(m: LabelMass, acts: Float32Array, labels: ArrayLike<number>, tokens: ArrayLike<number>): void {
  const F = m.features;
  const L = m.names.length;
  const rows = labels.length;
  if (acts.length !== rows * F) throw new Error(`addLabelMass: ${acts.length} activations is not ${rows}×${F}`);
  for (let r = 0; r < rows; r++) {
    const l = labels[r]!;
    if (!(l >= 0 && l < L)) throw new Error(`addLabelMass: row ${r} has label ${l}, outside the ${L} names`);
    m.labelRows[l]! += 1;
    for (let f = 0; f < F; f++) {
      const a = acts[r * F + f]!;
      if (a <= 0) continue;
      m.mass[f * L + l]! += a;
      m.fires[f]! += 1;
      const t = m.tokens[f]!;
      t.set(tokens[r]!, (t.get(tokens[r]!) ?? 0) + a);
    }
  }
  m.rows += rows;
}

export interface FeatureLabel {
  feature: number;
  /** fraction of rows it fires on */
  density: number;
  label: string;
  /** share of its activation mass on `label` */
  purity: number;
  /** purity over the label's share of the rows */
  lift: number;
  /** distinct tokens it fired on with any mass */
  distinctTokens: number;
  /** its tokens by mass, largest first (ids) */
  topTokens: number[];
}

/** each feature's dominant label, purity, lift and tokens; features that never fired are left out */
export function featureLabels(m: LabelMass, topTokens = 5): FeatureLabel[] {
  const L = m.names.length;
  const out: FeatureLabel[] = [];
  for (let f = 0; f < m.features; f++) {
    if (m.fires[f] === 0) continue;
    let total = 0;
    let best = 0;
    for (let l = 0; l < L; l++) {
      total += m.mass[f * L + l]!;
      if (m.mass[f * L + l]! > m.mass[f * L + best]!) best = l;
    }
    const purity = m.mass[f * L + best]! / total;
    const tokens = [...m.tokens[f]!.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    out.push({
      feature: f, density: m.fires[f]! / m.rows, label: m.names[best]!, purity, lift: purity / (m.labelRows[best]! / m.rows),
      distinctTokens: tokens.length, topTokens: tokens.slice(0, topTokens).map(([t]) => t),
    });
  }
  return out;
}
