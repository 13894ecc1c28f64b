// Finite-difference checks of the float64 reference's gradients (RECIPE §1–2), on tiny shapes, at points
// chosen away from the ReLU and TopK kinks (every perturbed point is checked to keep the active set), plus
// the loss values against a second, plainer computation of the definitions.
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/engine/random.ts';
import {
  batchVariance, fireCounts, fired, standardForwardBackward, topIndices, topkForwardBackward,
  type TopkOptions, type TopkResult,
} from '../../src/reference/sae.ts';
import { PARAM_NAMES, type Params64 } from '../../src/reference/params.ts';
import { checkGradients, randn, randomParams } from './helpers.ts';

const d = 5;
const F = 7;
const B = 3;
/** smallest |pre| and smallest TopK gap allowed at a test point: h = 1e-6 moves pre by ≪ this */
const MARGIN = 0.02;

// ---- plain re-statements of the losses, one row at a time --------------------------------------

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}
const row = (a: Float64Array, r: number, w: number) => a.subarray(r * w, (r + 1) * w);
const col = (a: Float64Array, i: number, rows: number, w: number) => Float64Array.from({ length: rows }, (_, j) => a[j * w + i]!);

function standardLossDirect(p: Params64, xs: Float64Array, l1: number): number {
  let total = 0;
  for (let b = 0; b < B; b++) {
    const x = row(xs, b, d);
    const xhat = Float64Array.from(p.b_dec);
    for (let i = 0; i < F; i++) {
      const f = Math.max(0, dot(x, col(p.W_enc, i, d, F)) + p.b_enc[i]!);
      const w = row(p.W_dec, i, d);
      for (let j = 0; j < d; j++) xhat[j]! += f * w[j]!;
      total += l1 * f * Math.sqrt(dot(w, w));
    }
    for (let j = 0; j < d; j++) total += (xhat[j]! - x[j]!) ** 2;
  }
  return total / B;
}

function topkLossDirect(p: Params64, xs: Float64Array, o: Required<Pick<TopkOptions, 'k' | 'kAux' | 'alpha' | 'variance' | 'dead'>>): number {
  const es: number[][] = [];
  const ehats: number[][] = [];
  let main = 0;
  const nDead = o.dead.reduce((s, x) => s + x, 0);
  for (let b = 0; b < B; b++) {
    const xc = Array.from(row(xs, b, d), (x, j) => x - p.b_dec[j]!);
    const pre = Array.from({ length: F }, (_, i) => ({ i, v: dot(xc, col(p.W_enc, i, d, F)) + p.b_enc[i]! }));
    const order = [...pre].sort((a, c) => c.v - a.v || a.i - c.i);
    const xhat = Array.from(p.b_dec);
    for (const { i, v } of order.slice(0, o.k)) for (let j = 0; j < d; j++) xhat[j]! += Math.max(v, 0) * p.W_dec[i * d + j]!;
    const e = Array.from(row(xs, b, d), (x, j) => x - xhat[j]!);
    main += dot(e, e);
    const ehat = new Array<number>(d).fill(0);
    const deadOrder = order.filter(({ i }) => o.dead[i]);
    for (const { i, v } of deadOrder.slice(0, Math.min(o.kAux, nDead))) {
      for (let j = 0; j < d; j++) ehat[j]! += Math.max(v, 0) * p.W_dec[i * d + j]!;
    }
    es.push(e);
    ehats.push(ehat);
  }
  const lMain = main / B / o.variance;
  if (nDead === 0) return lMain;
  const mean = Array.from({ length: d }, (_, j) => es.reduce((s, e) => s + e[j]!, 0) / B);
  const ve = es.reduce((s, e) => s + e.reduce((t, x, j) => t + (x - mean[j]!) ** 2, 0), 0) / B;
  const aux = ehats.reduce((s, eh, b) => s + eh.reduce((t, x, j) => t + (x - es[b]![j]!) ** 2, 0), 0) / B / ve;
  return lMain + o.alpha * aux;
}

// ---- standard SAE ------------------------------------------------------------------------------

/** A point whose pre-activations are all at least MARGIN away from 0, with some on and some off. */
function standardPoint(): { p: Params64; xs: Float64Array } {
  for (let seed = 1; seed < 1000; seed++) {
    const rng = new Rng(seed, 1);
    const p = randomParams(rng, d, F);
    const xs = randn(rng, B * d);
    const { pre } = standardForwardBackward(p, xs, 0);
    const on = pre.filter((v) => v > 0).length;
    if (pre.every((v) => Math.abs(v) > MARGIN) && on >= 5 && on <= B * F - 5) return { p, xs };
  }
  throw new Error('no test point found');
}

describe('standard SAE (RECIPE §1)', () => {
  const { p, xs } = standardPoint();
  const l1 = 0.7;
  const sameMask = (base: Float64Array) => (q: Params64) => {
    const { pre } = standardForwardBackward(q, xs, l1);
    for (let t = 0; t < pre.length; t++) expect(pre[t]! > 0).toBe(base[t]! > 0);
  };

  it('loss, recon, sparsity and l0 follow the definitions', () => {
    const r = standardForwardBackward(p, xs, l1);
    expect(r.loss).toBeCloseTo(standardLossDirect(p, xs, l1), 12);
    expect(r.recon).toBeCloseTo(standardLossDirect(p, xs, 0), 12);
    expect(r.sparsity).toBeCloseTo(r.loss - r.recon, 12);
    expect(r.sparsity).toBeGreaterThan(0.01);
    expect(r.l0).toBe(r.pre.filter((v) => v > 0).length / B);
    for (let t = 0; t < B * F; t++) expect(r.f[t]).toBe(Math.max(r.pre[t]!, 0));
  });

  it('every gradient matches central finite differences', () => {
    const r = standardForwardBackward(p, xs, l1);
    const { nonZero } = checkGradients(p, r.grads, (q) => standardForwardBackward(q, xs, l1).loss, {
      atol: 1e-8, rtol: 1e-6, guard: sameMask(r.pre),
    });
    expect(nonZero).toBeGreaterThan(50); // of 82 entries: the check is not vacuous
  });

  it('the decoder-norm penalty gradient (λ/B)(Σ_b f)·w/‖w‖ and (λ/B)‖w‖ on ∂pre is present and right', () => {
    const with_ = standardForwardBackward(p, xs, l1);
    const without = standardForwardBackward(p, xs, 0);
    const penalty = (q: Params64) => standardForwardBackward(q, xs, l1).loss - standardForwardBackward(q, xs, 0).loss;
    // The penalty's own gradient, by finite differences, against the difference of the two analytic ones.
    const diff = {} as Params64;
    for (const name of PARAM_NAMES) diff[name] = with_.grads[name].map((g, n) => g - without.grads[name][n]!);
    checkGradients(p, diff, penalty, { atol: 1e-8, rtol: 1e-6, guard: sameMask(with_.pre) });
    // It is large enough that leaving it out would fail the check above.
    const biggest = Math.max(...PARAM_NAMES.map((n) => Math.max(...diff[n].map(Math.abs))));
    expect(biggest).toBeGreaterThan(0.05);
    // Closed form for one decoder row.
    const i = 2;
    const norm = Math.hypot(...p.W_dec.subarray(i * d, (i + 1) * d));
    const fsum = [0, 1, 2].reduce((s, b) => s + with_.f[b * F + i]!, 0);
    for (let j = 0; j < d; j++) expect(diff.W_dec[i * d + j]).toBeCloseTo((l1 / B) * fsum * p.W_dec[i * d + j]! / norm, 13);
  });

  it('inactive latents get no encoder gradient', () => {
    const r = standardForwardBackward(p, xs, l1);
    for (let t = 0; t < B * F; t++) if (r.pre[t]! <= 0) expect(r.h[t]).toBe(0);
  });
});

// ---- TopK SAE ----------------------------------------------------------------------------------

const k = 2;
const kAux = 2;
const alpha = 1 / 32;
const variance = 1.7;
const dead = Uint8Array.from([1, 0, 0, 1, 0, 1, 0]); // 3 dead latents: ka = min(2, 3) = 2

/** sorted descending values of the allowed entries of row b */
function sortedRow(pre: Float64Array, b: number, allowed?: Uint8Array): number[] {
  return Array.from(row(pre, b, F)).filter((_, i) => !allowed || allowed[i]).sort((x, y) => y - x);
}

interface TopkPoint { p: Params64; xs: Float64Array; r: TopkResult }

/**
 * A point away from every kink: |pre| > MARGIN, TopK gaps > MARGIN (main and among the dead), with a
 * latent both main- and aux-kept with pre > 0, an aux-only one with pre > 0, and a kept entry with pre < 0.
 */
function topkPoint(): TopkPoint {
  const opts = { k, kAux, alpha, variance, dead };
  for (let seed = 1; seed < 5000; seed++) {
    const rng = new Rng(seed, 2);
    const p = randomParams(rng, d, F, -0.4);
    const xs = randn(rng, B * d);
    const r = topkForwardBackward(p, xs, opts);
    if (!r.pre.every((v) => Math.abs(v) > MARGIN)) continue;
    let ok = true;
    for (let b = 0; b < B; b++) {
      const all = sortedRow(r.pre, b);
      const dd = sortedRow(r.pre, b, dead);
      if (all[k - 1]! - all[k]! < MARGIN || dd[r.ka - 1]! - dd[r.ka]! < MARGIN) ok = false;
    }
    let both = 0, auxOnly = 0, keptNeg = 0;
    for (let t = 0; t < B * F; t++) {
      if (r.f[t]! > 0 && r.z[t]! > 0) both++;
      if (r.f[t]! === 0 && r.z[t]! > 0) auxOnly++;
    }
    for (let b = 0; b < B; b++) {
      for (let s = 0; s < k; s++) if (r.pre[b * F + r.kept[b * k + s]!]! < 0) keptNeg++;
      for (let s = 0; s < r.ka; s++) if (r.pre[b * F + r.auxKept[b * r.ka + s]!]! < 0) keptNeg++;
    }
    if (ok && both > 0 && auxOnly > 0 && keptNeg > 0) return { p, xs, r };
  }
  throw new Error('no test point found');
}

describe('TopK SAE with AuxK (RECIPE §2)', () => {
  const { p, xs, r } = topkPoint();
  const opts = { k, kAux, alpha, variance, dead };
  const frozen = { ...opts, auxTarget: { e: r.e, ve: r.ve } };
  const sameSelection = (q: Params64) => {
    const s = topkForwardBackward(q, xs, frozen);
    expect(Array.from(s.kept)).toEqual(Array.from(r.kept));
    expect(Array.from(s.auxKept)).toEqual(Array.from(r.auxKept));
    for (let t = 0; t < B * F; t++) expect(s.pre[t]! > 0).toBe(r.pre[t]! > 0);
  };

  it('loss terms follow the definitions', () => {
    expect(r.auxActive).toBe(true);
    expect(r.ka).toBe(2);
    expect(r.deadCount).toBe(3);
    expect(r.loss).toBeCloseTo(topkLossDirect(p, xs, opts), 12);
    expect(r.recon).toBe(r.lMain);
    expect(r.sparsity).toBeCloseTo(alpha * r.lAux, 15);
    expect(r.lAux).toBeGreaterThan(0.05);
    expect(r.ve).toBeCloseTo(batchVariance(r.e, B, d), 15);
    // e = x' − x̂'
    for (let t = 0; t < B * d; t++) expect(r.e[t]).toBeCloseTo(xs[t]! - r.xhat[t]!, 15);
    // l0 counts f > 0 (kept entries with pre ≤ 0 are not active)
    expect(r.l0).toBe(r.f.filter((v) => v > 0).length / B);
    expect(r.l0).toBeLessThan(k);
  });

  it('selection: k per row by pre descending, aux only among the dead', () => {
    for (let b = 0; b < B; b++) {
      const keptVals = Array.from(r.kept.subarray(b * k, (b + 1) * k), (i) => r.pre[b * F + i]!);
      expect(keptVals).toEqual(sortedRow(r.pre, b).slice(0, k));
      const auxIdx = Array.from(r.auxKept.subarray(b * r.ka, (b + 1) * r.ka));
      for (const i of auxIdx) expect(dead[i]).toBe(1);
      expect(auxIdx.map((i) => r.pre[b * F + i]!)).toEqual(sortedRow(r.pre, b, dead).slice(0, r.ka));
    }
  });

  it('every gradient matches central finite differences (AuxK target e, v_e held fixed)', () => {
    const { nonZero } = checkGradients(p, r.grads, (q) => topkForwardBackward(q, xs, frozen).loss, {
      atol: 1e-8, rtol: 1e-6, guard: sameSelection,
    });
    expect(nonZero).toBeGreaterThan(30);
  });

  it('the AuxK gradient is a large enough part of the total that the check above sees it', () => {
    const noAux = topkForwardBackward(p, xs, { ...opts, dead: new Uint8Array(F) });
    let biggest = 0;
    for (const name of PARAM_NAMES) {
      for (let n = 0; n < r.grads[name].length; n++) biggest = Math.max(biggest, Math.abs(r.grads[name][n]! - noAux.grads[name][n]!));
    }
    expect(biggest).toBeGreaterThan(1e-3);
  });

  it('∂L/∂pre is non-zero only on kept entries with pre > 0', () => {
    for (let t = 0; t < B * F; t++) {
      if (r.f[t]! === 0 && r.z[t]! === 0) expect(r.h[t]).toBe(0);
      else expect(Math.abs(r.h[t]!)).toBeGreaterThan(0);
    }
  });

  it('the stop-gradient matters: the loss with a live target has a different derivative', () => {
    // Sanity of the test itself: differentiating through e and v_e would give another number.
    const h = 1e-6;
    const name = 'b_dec';
    const live = (q: Params64) => topkForwardBackward(q, xs, opts).loss;
    const q1 = { ...p, [name]: p[name].map((x, n) => (n === 0 ? x + h : x)) };
    const q2 = { ...p, [name]: p[name].map((x, n) => (n === 0 ? x - h : x)) };
    const fdLive = (live(q1) - live(q2)) / (2 * h);
    expect(Math.abs(fdLive - r.grads.b_dec[0]!)).toBeGreaterThan(1e-4);
  });

  it('with no dead latent, L_aux = 0 and the gradients are those of L_main alone', () => {
    const none = topkForwardBackward(p, xs, { ...opts, dead: new Uint8Array(F) });
    expect(none.auxActive).toBe(false);
    expect(none.lAux).toBe(0);
    expect(none.sparsity).toBe(0);
    expect(none.loss).toBe(none.lMain);
    expect(none.lMain).toBe(r.lMain);
    checkGradients(p, none.grads, (q) => topkForwardBackward(q, xs, { ...opts, dead: new Uint8Array(F) }).loss, {
      atol: 1e-8, rtol: 1e-6, guard: sameSelection,
    });
  });

  it('Matryoshka: each inner width adds its reconstruction loss, and every gradient still matches finite differences', () => {
    const inner = [2, 5];
    const nested = { ...frozen, inner };
    const m = topkForwardBackward(p, xs, nested);
    // the inner losses by their definition: x̂'_w from the features below w alone
    let lInner = 0;
    for (const w of inner) {
      const q = { ...p, W_dec: p.W_dec.map((v, n) => (Math.floor(n / d) < w ? v : 0)) };
      lInner += topkForwardBackward(q, xs, { ...opts, dead: new Uint8Array(F) }).lMain;
    }
    expect(m.loss - r.loss).toBeCloseTo(lInner, 12);
    expect(m.recon).toBe(r.recon);
    const { nonZero } = checkGradients(p, m.grads, (q) => topkForwardBackward(q, xs, nested).loss, { atol: 1e-8, rtol: 1e-6, guard: sameSelection });
    expect(nonZero).toBeGreaterThan(30);
    expect(Math.abs(m.grads.W_enc[0]! - r.grads.W_enc[0]!) + Math.abs(m.grads.b_dec[0]! - r.grads.b_dec[0]!)).toBeGreaterThan(1e-4);
  });

  it('kAux larger than |D| selects every dead latent', () => {
    const wide = topkForwardBackward(p, xs, { ...opts, kAux: 10 });
    expect(wide.ka).toBe(3);
    expect(wide.auxKept.length).toBe(B * 3);
    checkGradients(p, wide.grads, (q) => topkForwardBackward(q, xs, { ...opts, kAux: 10, auxTarget: { e: wide.e, ve: wide.ve } }).loss, {
      atol: 1e-8, rtol: 1e-6,
      guard: (q) => {
        const s = topkForwardBackward(q, xs, { ...opts, kAux: 10 });
        expect(Array.from(s.kept)).toEqual(Array.from(wide.kept));
        for (let t = 0; t < B * F; t++) expect(s.pre[t]! > 0).toBe(wide.pre[t]! > 0);
      },
    });
  });
});

describe('selection and fire helpers', () => {
  it('ties go to the lower index; the mask restricts candidates', () => {
    const pre = Float64Array.from([1, 3, 3, 2, 3, /* row 1 */ 0, 0, 0, 0, 0]);
    expect(Array.from(topIndices(pre, 0, 5, 3))).toEqual([1, 2, 4]);
    expect(Array.from(topIndices(pre, 0, 5, 2, Uint8Array.from([1, 0, 1, 1, 0])))).toEqual([2, 3]);
    expect(Array.from(topIndices(pre, 1, 5, 2))).toEqual([0, 1]);
    expect(() => topIndices(pre, 0, 5, 3, Uint8Array.from([1, 0, 0, 1, 0]))).toThrow();
  });

  it('a kept latent with equal pre in TopK: main TopK order by value then index', () => {
    const p: Params64 = {
      W_enc: new Float64Array(1 * 3),
      b_enc: Float64Array.from([0.5, 0.7, 0.7]),
      W_dec: Float64Array.from([1, 2, 3]),
      b_dec: new Float64Array(1),
    };
    const r = topkForwardBackward(p, Float64Array.from([0.3]), { k: 2, kAux: 1, alpha, variance: 1 });
    expect(Array.from(r.kept)).toEqual([1, 2]);
    expect(r.xhat[0]).toBeCloseTo(0.7 * 2 + 0.7 * 3, 15);
  });

  it('fired and fireCounts count f > 0', () => {
    const f = Float64Array.from([0, 1, 0, /**/ 0, 2, 3, /**/ 0, 0, -1]);
    expect(Array.from(fired(f, 3, 3))).toEqual([0, 1, 1]);
    expect(Array.from(fireCounts(f, 3, 3))).toEqual([0, 2, 1]);
  });
});
