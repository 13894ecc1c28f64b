// The float64 oracle of a causal language model's forward pass (both families, one sequence, no cache),
// written as plainly as the math: what every kernel of the GPU forward pass is tested against.
import type { LmConfig, LmWeights } from '../model/config.ts';
import { qkvWidth } from '../model/config.ts';
import { HOOK_KINDS, hookName } from '../model/hooks.ts';
import { rotaryTable } from '../model/rotary.ts';

export interface ReferenceOptions {
  /** hooks whose activations to return, by name */
  read?: Iterable<string>;
  /** a vector (d) added at every position of the named hook */
  add?: Map<string, ArrayLike<number>>;
  /** the named hook's activation (T, d) rewritten in place, after any vector is added */
  edit?: Map<string, (a: Float64Array) => void>;
}

export interface ReferenceOutput {
  /** (T, vocab) */
  logits: Float64Array;
  /** (T, d) per hook read */
  hooks: Map<string, Float64Array>;
}

/** y (rows, n) = x (rows, k) · W (k, n) [+ b] */
export function linear64(x: Float64Array, W: ArrayLike<number>, b: ArrayLike<number> | undefined, rows: number, k: number, n: number): Float64Array {
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      let s = b ? b[j] : 0;
      for (let i = 0; i < k; i++) s += x[r * k + i] * W[i * n + j];
      y[r * n + j] = s;
    }
  }
  return y;
}

/** LayerNorm (w, b) or RMSNorm (w) of each row */
export function norm64(c: LmConfig, x: Float64Array, w: ArrayLike<number>, b: ArrayLike<number> | undefined, rows: number): Float64Array {
  const d = c.d;
  const y = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * d, (r + 1) * d);
    let mean = 0;
    if (c.norm === 'layernorm') {
      for (const v of row) mean += v;
      mean /= d;
    }
    let sq = 0;
    for (const v of row) sq += (v - mean) * (v - mean);
    const inv = 1 / Math.sqrt(sq / d + c.normEps);
    for (let j = 0; j < d; j++) y[r * d + j] = (row[j] - mean) * inv * w[j] + (b ? b[j] : 0);
  }
  return y;
}

/** erf to float64 precision is not in Math; this series/continued-fraction pair is exact to ~1e-15 */
export function erf64(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 100; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // continued fraction for erfc
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

export function act64(kind: LmConfig['activation'], x: number): number {
  switch (kind) {
    case 'gelu_tanh':
      return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    case 'gelu_erf':
      return 0.5 * x * (1 + erf64(x / Math.SQRT2));
    case 'relu':
      return Math.max(0, x);
    case 'silu':
      return x / (1 + Math.exp(-x));
  }
}

/** causal attention of one block on rows (T, qkvWidth): (T, nHeads·headDim), rotary applied first */
export function attention64(c: LmConfig, qkv: Float64Array, T: number, layer: number): Float64Array {
  const { nHeads, nKvHeads, headDim: hd } = c;
  const W = qkvWidth(c);
  const half = hd / 2;
  const rot = c.positions.kind === 'rotary' ? rotaryTable(c.positions.invFreq, T) : undefined;
  // q, k, v of head h at position t, rotated where the model is rotary
  const vecOf = (t: number, col0: number, rotate: boolean): Float64Array => {
    const v = Float64Array.from(qkv.subarray(t * W + col0, t * W + col0 + hd));
    if (!rotate || !rot) return v;
    const out = new Float64Array(hd);
    for (let i = 0; i < half; i++) {
      const cs = rot.cos[t * half + i];
      const sn = rot.sin[t * half + i];
      out[i] = v[i] * cs - v[i + half] * sn;
      out[i + half] = v[i + half] * cs + v[i] * sn;
    }
    return out;
  };
  const out = new Float64Array(T * nHeads * hd);
  const group = nHeads / nKvHeads;
  for (let h = 0; h < nHeads; h++) {
    const kvh = Math.floor(h / group);
    const kCol = (nHeads + kvh) * hd;
    const vCol = (nHeads + nKvHeads + kvh) * hd;
    const keys = Array.from({ length: T }, (_, s) => vecOf(s, kCol, true));
    for (let t = 0; t < T; t++) {
      const q = vecOf(t, h * hd, true);
      const scores = new Float64Array(t + 1);
      let max = -Infinity;
      for (let s = 0; s <= t; s++) {
        let dot = 0;
        for (let i = 0; i < hd; i++) dot += q[i] * keys[s][i];
        scores[s] = dot * c.attnScale[layer];
        max = Math.max(max, scores[s]);
      }
      let sum = 0;
      for (let s = 0; s <= t; s++) sum += (scores[s] = Math.exp(scores[s] - max));
      for (let s = 0; s <= t; s++) {
        const p = scores[s] / sum;
        for (let i = 0; i < hd; i++) out[t * nHeads * hd + h * hd + i] += p * qkv[s * W + vCol + i];
      }
    }
  }
  return out;
}

/** the MLP on normed rows (T, d) */
export function mlp64(c: LmConfig, w: LmWeights, l: number, x: Float64Array, T: number): Float64Array {
  const up = linear64(x, w.get(`L${l}.up.w`)!, w.get(`L${l}.up.b`), T, c.d, c.gated ? 2 * c.dFf : c.dFf);
  const hidden = new Float64Array(T * c.dFf);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < c.dFf; j++) {
      hidden[t * c.dFf + j] = c.gated
        ? act64(c.activation, up[t * 2 * c.dFf + j]) * up[t * 2 * c.dFf + c.dFf + j]
        : act64(c.activation, up[t * c.dFf + j]);
    }
  }
  return linear64(hidden, w.get(`L${l}.down.w`)!, w.get(`L${l}.down.b`), T, c.dFf, c.d);
}

export function referenceForward(c: LmConfig, w: LmWeights, ids: readonly number[], opts: ReferenceOptions = {}): ReferenceOutput {
  const T = ids.length;
  const d = c.d;
  const read = new Set(opts.read ?? []);
  const hooks = new Map<string, Float64Array>();
  const wte = w.get('wte')!;
  const wpe = w.get('wpe');
  let x = new Float64Array(T * d);
  for (let t = 0; t < T; t++) for (let j = 0; j < d; j++) x[t * d + j] = wte[ids[t] * d + j] + (wpe ? wpe[t * d + j] : 0);
  // a hook: its vector added and its edit made, then its value recorded
  const at = (layer: number, kind: (typeof HOOK_KINDS)[number], a: Float64Array) => {
    const name = hookName({ layer, kind });
    const v = opts.add?.get(name);
    if (v) for (let i = 0; i < a.length; i++) a[i] += v[i % d];
    opts.edit?.get(name)?.(a);
    if (read.has(name)) hooks.set(name, Float64Array.from(a));
  };
  for (let l = 0; l < c.nLayers; l++) {
    at(l, 'hook_resid_pre', x);
    const h = norm64(c, x, w.get(`L${l}.ln1.w`)!, w.get(`L${l}.ln1.b`), T);
    const qkv = linear64(h, w.get(`L${l}.qkv.w`)!, w.get(`L${l}.qkv.b`), T, d, qkvWidth(c));
    const attnOut = linear64(attention64(c, qkv, T, l), w.get(`L${l}.o.w`)!, w.get(`L${l}.o.b`), T, c.nHeads * c.headDim, d);
    at(l, 'hook_attn_out', attnOut);
    x = x.map((v, i) => v + attnOut[i]);
    at(l, 'hook_resid_mid', x);
    const mlpOut = mlp64(c, w, l, norm64(c, x, w.get(`L${l}.ln2.w`)!, w.get(`L${l}.ln2.b`), T), T);
    at(l, 'hook_mlp_out', mlpOut);
    x = x.map((v, i) => v + mlpOut[i]);
    at(l, 'hook_resid_post', x);
  }
  const final = norm64(c, x, w.get('lnf.w')!, w.get('lnf.b'), T);
  const U = w.get(c.tied ? 'wte' : 'unembed')!;
  const logits = new Float64Array(T * c.vocab);
  for (let t = 0; t < T; t++) {
    for (let v = 0; v < c.vocab; v++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += final[t * d + j] * U[v * d + j];
      logits[t * c.vocab + v] = s;
    }
  }
  return { logits, hooks };
}
