// Float64 reference of one SAE training step's math (RECIPE §1–2): forward, loss and the hand-written
// gradients, for both variants, on a batch of SCALED inputs xs (x' = s·x).
// Shapes (row-major): xs (B, d); W_enc (d, F) at [j*F + i]; b_enc (F); W_dec (F, d) at [i*d + j]; b_dec (d);
// pre, f, h (B, F); xhat (B, d). B is xs.length / d, d = b_dec.length, F = b_enc.length.
import { zeroParams64, type Params64 } from './params.ts';

export interface Dims {
  B: number;
  d: number;
  F: number;
}

/** What both variants return. */
export interface SaeResult {
  /** total loss */
  loss: number;
  /** reconstruction term: (1/B)Σ‖x̂'−x'‖² (standard) or L_main (topk) */
  recon: number;
  /** λ·(1/B)ΣΣ f‖W_dec,i‖ (standard) or α·L_aux (topk) */
  sparsity: number;
  /** mean number of f > 0 per row */
  l0: number;
  /** ∂L/∂θ (for topk: before the decoder-row projection) */
  grads: Params64;
  /** (B, F) pre-activations */
  pre: Float64Array;
  /** (B, F) activations, dense */
  f: Float64Array;
  /** (B, d) reconstruction x̂' */
  xhat: Float64Array;
  /** (B, F) ∂L/∂pre */
  h: Float64Array;
}

export interface TopkOptions {
  k: number;
  kAux: number;
  /** AuxK weight α */
  alpha: number;
  /** v: the constant loss normaliser (stats.variance) */
  variance: number;
  /** (F) 1 = dead; absent or all 0 → no AuxK */
  dead?: Uint8Array;
  /**
   * Override AuxK's stop-gradient target e and its normaliser v_e (both normally computed from this batch).
   * Finite-difference tests hold them fixed at the base point, which is what "stop-gradient" means.
   */
  auxTarget?: { e: Float64Array; ve: number };
  /**
   * BatchTopK: of the rows' k kept entries (k then being each row's cap), only the `batch` largest values over
   * the whole batch stay (every value equal to the smallest kept one stays too); the rest become 0.
   */
  batch?: number;
  /** Matryoshka: the inner widths w of the nesting; each adds ‖x̂'_w − x'‖²/(B·v), x̂'_w from features [0, w) */
  inner?: number[];
}

export interface TopkResult extends SaeResult {
  /** (B, d) encoder input x' − b_dec */
  xc: Float64Array;
  /** (B, k) main TopK indices per row, by pre descending, ties → lower index */
  kept: Int32Array;
  /** BatchTopK: the smallest value kept over the batch (0 when fewer values are positive), else 0 */
  batchThreshold: number;
  /** AuxK latents per row: min(kAux, |D|), 0 when no latent is dead */
  ka: number;
  /** (B, ka) AuxK indices per row, same order */
  auxKept: Int32Array;
  /** (B, F) AuxK activations z, dense (all 0 without AuxK) */
  z: Float64Array;
  /** (B, d) ê = z W_dec */
  ehat: Float64Array;
  /** (B, d) e = x' − x̂' (the AuxK target, stop-gradient) */
  e: Float64Array;
  /** v_e = (1/B) Σ_b ‖e_b − mean(e)‖² */
  ve: number;
  lMain: number;
  /** L_aux, unweighted (0 without AuxK) */
  lAux: number;
  /** |D| */
  deadCount: number;
  /** false when no latent is dead, or v_e = 0 (e.g. B = 1): then L_aux = 0 and it adds no gradient */
  auxActive: boolean;
}

export function dimsOf(p: Params64, xs: ArrayLike<number>): Dims {
  const d = p.b_dec.length;
  const F = p.b_enc.length;
  if (xs.length % d !== 0) throw new Error(`xs has ${xs.length} values, not a multiple of d = ${d}`);
  if (p.W_enc.length !== d * F || p.W_dec.length !== F * d) throw new Error('parameter shapes do not match d and F');
  return { B: xs.length / d, d, F };
}

// ---- small dense helpers -------------------------------------------------------------------------

/** (B, F) = A (B, d) · W_enc (d, F) + b_enc */
function encode(A: Float64Array, W_enc: Float64Array, b_enc: Float64Array, { B, d, F }: Dims): Float64Array {
  const pre = new Float64Array(B * F);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < F; i++) {
      let s = b_enc[i]!;
      for (let j = 0; j < d; j++) s += A[b * d + j]! * W_enc[j * F + i]!;
      pre[b * F + i] = s;
    }
  }
  return pre;
}

/** (B, d) = f (B, F) · W_dec (F, d) (+ bias) */
function decode(f: Float64Array, W_dec: Float64Array, bias: Float64Array | null, { B, d, F }: Dims): Float64Array {
  const out = new Float64Array(B * d);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < d; j++) {
      let s = bias ? bias[j]! : 0;
      for (let i = 0; i < F; i++) s += f[b * F + i]! * W_dec[i * d + j]!;
      out[b * d + j] = s;
    }
  }
  return out;
}

/** (F) ‖W_dec,i‖ */
export function rowNorms(W_dec: ArrayLike<number>, F: number, d: number): Float64Array {
  const n = new Float64Array(F);
  for (let i = 0; i < F; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += W_dec[i * d + j]! ** 2;
    n[i] = Math.sqrt(s);
  }
  return n;
}

/** (B, F) G (B, d) · W_decᵀ: entry (b, i) = g_b · W_dec,i */
function projectOnRows(G: Float64Array, W_dec: Float64Array, { B, d, F }: Dims): Float64Array {
  const out = new Float64Array(B * F);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < F; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += G[b * d + j]! * W_dec[i * d + j]!;
      out[b * F + i] = s;
    }
  }
  return out;
}

/** (F, d) Aᵀ (F, B) · G (B, d), accumulated into out */
function addOuterFG(out: Float64Array, A: Float64Array, G: Float64Array, scale: number, { B, d, F }: Dims): void {
  for (let i = 0; i < F; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let b = 0; b < B; b++) s += A[b * F + i]! * G[b * d + j]!;
      out[i * d + j]! += scale * s;
    }
  }
}

/** Encoder-side gradients from h = ∂L/∂pre and the encoder input X: ∂W_enc = Xᵀh, ∂b_enc = Σ_b h. */
function encoderGrads(grads: Params64, X: Float64Array, h: Float64Array, { B, d, F }: Dims): void {
  for (let j = 0; j < d; j++) {
    for (let i = 0; i < F; i++) {
      let s = 0;
      for (let b = 0; b < B; b++) s += X[b * d + j]! * h[b * F + i]!;
      grads.W_enc[j * F + i] = s;
    }
  }
  for (let i = 0; i < F; i++) {
    let s = 0;
    for (let b = 0; b < B; b++) s += h[b * F + i]!;
    grads.b_enc[i] = s;
  }
}

/** (d) Σ_b G_b */
function columnSums(G: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(cols);
  for (let b = 0; b < rows; b++) for (let j = 0; j < cols; j++) out[j]! += G[b * cols + j]!;
  return out;
}

function sumSquares(a: Float64Array): number {
  let s = 0;
  for (const x of a) s += x * x;
  return s;
}

/** mean number of entries > 0 per row */
function meanL0(f: Float64Array, B: number, F: number): number {
  let n = 0;
  for (let t = 0; t < B * F; t++) if (f[t]! > 0) n++;
  return n / B;
}

// ---- selection and fire statistics ---------------------------------------------------------------

/**
 * The `count` largest values of row b of a (B, F) matrix, ordered by value descending, ties broken by the
 * lower index; only indices with allowed[i] ≠ 0 when `allowed` is given. Returns `count` indices.
 */
export function topIndices(pre: ArrayLike<number>, b: number, F: number, count: number, allowed?: Uint8Array): Int32Array {
  const cand: number[] = [];
  for (let i = 0; i < F; i++) if (!allowed || allowed[i]) cand.push(i);
  if (count > cand.length) throw new Error(`cannot select ${count} of ${cand.length} candidates`);
  const v = (i: number) => pre[b * F + i]!;
  cand.sort((x, y) => (v(y) - v(x)) || (x - y));
  return Int32Array.from(cand.slice(0, count));
}

/** (B, count) indices: topIndices of every row */
export function selectRows(pre: ArrayLike<number>, B: number, F: number, count: number, allowed?: Uint8Array): Int32Array {
  const out = new Int32Array(B * count);
  for (let b = 0; b < B; b++) out.set(topIndices(pre, b, F, count, allowed), b * count);
  return out;
}

/** (F) 1 where the feature fired (f > 0) in some row of the (B, F) activations. */
export function fired(f: ArrayLike<number>, B: number, F: number): Uint8Array {
  const out = new Uint8Array(F);
  for (let b = 0; b < B; b++) for (let i = 0; i < F; i++) if (f[b * F + i]! > 0) out[i] = 1;
  return out;
}

/** (F) number of rows in which each feature fired (f > 0). */
export function fireCounts(f: ArrayLike<number>, B: number, F: number): Float64Array {
  const out = new Float64Array(F);
  for (let b = 0; b < B; b++) for (let i = 0; i < F; i++) if (f[b * F + i]! > 0) out[i]!++;
  return out;
}

/** Dense (B, F) ReLU of `pre` at the selected (B, count) indices, 0 elsewhere. */
/** BatchTopK's batch selection over the rows' kept entries of f, in place; returns the threshold */
function keepBatchTop(f: Float64Array, kept: Int32Array, k: number, total: number, F: number): number {
  const at = (e: number) => Math.floor(e / k) * F + kept[e]!;
  const values = Array.from(kept, (_, e) => f[at(e)]!).sort((a, b) => b - a);
  const t = values[Math.min(total, values.length) - 1] ?? 0;
  for (let e = 0; e < kept.length; e++) if (f[at(e)]! < t) f[at(e)] = 0;
  return t;
}

function scatterRelu(pre: Float64Array, idx: Int32Array, count: number, B: number, F: number): Float64Array {
  const out = new Float64Array(B * F);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < count; s++) {
      const t = b * F + idx[b * count + s]!;
      out[t] = Math.max(pre[t]!, 0);
    }
  }
  return out;
}

// ---- standard SAE (RECIPE §1) --------------------------------------------------------------------

/** Loss and gradients of the standard SAE with L1 coefficient `l1` (λ at this step). */
export function standardForwardBackward(p: Params64, xs: Float64Array, l1: number): SaeResult {
  const dims = dimsOf(p, xs);
  const { B, d, F } = dims;
  const pre = encode(xs, p.W_enc, p.b_enc, dims);
  const f = pre.map((x) => Math.max(x, 0));
  const xhat = decode(f, p.W_dec, p.b_dec, dims);
  const norms = rowNorms(p.W_dec, F, d);

  const err = xhat.map((x, t) => x - xs[t]!); // (B, d) x̂' − x'
  const recon = sumSquares(err) / B;
  let penalty = 0;
  for (let b = 0; b < B; b++) for (let i = 0; i < F; i++) penalty += f[b * F + i]! * norms[i]!;
  penalty /= B;

  const g = err.map((x) => (2 * x) / B); // (B, d) ∂L/∂x̂'
  const grads = zeroParams64(d, F);
  grads.b_dec.set(columnSums(g, B, d));
  // ∂W_dec,i = Σ_b f_bi g_b + (λ/B)(Σ_b f_bi) W_dec,i / ‖W_dec,i‖
  addOuterFG(grads.W_dec, f, g, 1, dims);
  const fsum = columnSums(f, B, F);
  for (let i = 0; i < F; i++) {
    if (norms[i]! === 0) continue; // the penalty's subgradient at a zero row: take 0
    const c = ((l1 / B) * fsum[i]!) / norms[i]!;
    for (let j = 0; j < d; j++) grads.W_dec[i * d + j]! += c * p.W_dec[i * d + j]!;
  }
  // ∂pre = (g_b · W_dec,i + (λ/B)‖W_dec,i‖) · 1[pre > 0]
  const h = projectOnRows(g, p.W_dec, dims);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < F; i++) {
      const t = b * F + i;
      h[t] = pre[t]! > 0 ? h[t]! + (l1 / B) * norms[i]! : 0;
    }
  }
  encoderGrads(grads, xs, h, dims);

  const sparsity = l1 * penalty;
  return { loss: recon + sparsity, recon, sparsity, l0: meanL0(f, B, F), grads, pre, f, xhat, h };
}

// ---- TopK SAE (RECIPE §2) ------------------------------------------------------------------------

/** v_e = (1/B) Σ_b ‖e_b − mean_b(e)‖² */
export function batchVariance(e: Float64Array, B: number, d: number): number {
  const mean = columnSums(e, B, d).map((s) => s / B);
  let v = 0;
  for (let b = 0; b < B; b++) for (let j = 0; j < d; j++) v += (e[b * d + j]! - mean[j]!) ** 2;
  return v / B;
}

/** Loss and gradients of the TopK SAE with AuxK (the dead mask decides whether AuxK runs). */
export function topkForwardBackward(p: Params64, xs: Float64Array, opts: TopkOptions): TopkResult {
  const dims = dimsOf(p, xs);
  const { B, d, F } = dims;
  const { k, kAux, alpha, variance } = opts;
  if (k < 1 || k > F) throw new Error(`k = ${k} must be in [1, F = ${F}]`);

  // Forward, main path.
  const xc = xs.map((x, t) => x - p.b_dec[t % d]!); // (B, d)
  const pre = encode(xc, p.W_enc, p.b_enc, dims);
  const kept = selectRows(pre, B, F, k);
  const f = scatterRelu(pre, kept, k, B, F);
  const batchThreshold = opts.batch !== undefined ? keepBatchTop(f, kept, k, opts.batch, F) : 0;
  const xhat = decode(f, p.W_dec, p.b_dec, dims);
  const r = xhat.map((x, t) => x - xs[t]!); // (B, d) x̂' − x'
  const lMain = sumSquares(r) / B / variance;
  const g = r.map((x) => (2 * x) / (B * variance)); // (B, d) ∂L_main/∂x̂'

  // AuxK on the dead latents.
  const dead = opts.dead ?? new Uint8Array(F);
  let deadCount = 0;
  for (let i = 0; i < F; i++) if (dead[i]) deadCount++;
  const ka = deadCount > 0 ? Math.min(kAux, deadCount) : 0;
  const e = opts.auxTarget ? opts.auxTarget.e : r.map((x) => -x); // x' − x̂', stop-gradient
  const ve = opts.auxTarget ? opts.auxTarget.ve : batchVariance(e, B, d);
  const auxActive = ka > 0 && ve > 0;
  const auxKept = auxActive ? selectRows(pre, B, F, ka, dead) : new Int32Array(0);
  const z = auxActive ? scatterRelu(pre, auxKept, ka, B, F) : new Float64Array(B * F);
  const ehat = auxActive ? decode(z, p.W_dec, null, dims) : new Float64Array(B * d);
  const auxDiff = ehat.map((x, t) => x - e[t]!); // (B, d) ê − e
  const lAux = auxActive ? sumSquares(auxDiff) / B / ve : 0;
  const gAux = auxDiff.map((x) => (auxActive ? (2 * x) / (B * ve) : 0)); // (B, d) ∂L_aux/∂ê

  // Backward.
  const grads = zeroParams64(d, F);
  addOuterFG(grads.W_dec, f, g, 1, dims);
  addOuterFG(grads.W_dec, z, gAux, alpha, dims);
  const gw = projectOnRows(g, p.W_dec, dims);
  const gwAux = projectOnRows(gAux, p.W_dec, dims);
  const h = new Float64Array(B * F);
  for (let t = 0; t < B * F; t++) {
    h[t] = (f[t]! > 0 ? gw[t]! : 0) + (z[t]! > 0 ? alpha * gwAux[t]! : 0);
  }
  // Matryoshka's inner reconstructions, each through the features below its width
  const gAll = g.slice();
  let lInner = 0;
  for (const w of opts.inner ?? []) {
    const fw = f.map((x, t) => (t % F < w ? x : 0));
    const rw = decode(fw, p.W_dec, p.b_dec, dims).map((x, t) => x - xs[t]!);
    lInner += sumSquares(rw) / B / variance;
    const gw = rw.map((x) => (2 * x) / (B * variance));
    addOuterFG(grads.W_dec, fw, gw, 1, dims);
    const pw = projectOnRows(gw, p.W_dec, dims);
    for (let t = 0; t < B * F; t++) if (fw[t]! > 0) h[t]! += pw[t]!;
    for (let t = 0; t < B * d; t++) gAll[t]! += gw[t]!;
  }
  encoderGrads(grads, xc, h, dims);
  // ∂b_dec = Σ_b g_b − Σ_b h_b W_encᵀ (b_dec enters every reconstruction and, subtracted, the encoder input)
  const gsum = columnSums(gAll, B, d);
  const hsum = columnSums(h, B, F);
  for (let j = 0; j < d; j++) {
    let s = 0;
    for (let i = 0; i < F; i++) s += hsum[i]! * p.W_enc[j * F + i]!;
    grads.b_dec[j] = gsum[j]! - s;
  }

  const sparsity = alpha * lAux;
  return {
    loss: lMain + lInner + sparsity, recon: lMain, sparsity, l0: meanL0(f, B, F), grads, pre, f, xhat, h,
    xc, kept, batchThreshold, ka: auxActive ? ka : 0, auxKept, z, ehat, e, ve, lMain, lAux, deadCount, auxActive,
  };
}
