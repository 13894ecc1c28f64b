// Running a saved SAE (raw units, any form of engine/sae.ts) over rows on the GPU, and the metrics of
// docs/RECIPE.md §3. Uses the training kernels: [row normalisation] → prepare (x − b_dec when
// apply_b_dec_to_input) → encoder GEMM → ReLU, TopK or JumpReLU → decoder [+ skip] [normalisation undone] →
// residual against the target (the input itself; a transcoder's second activation). Sums are taken in
// float64 on the CPU from per-row results.
import { defaultGemmVariant, gemm } from './gemm.ts';
import { Kernel, dispatch, encodeDispatches, flatGrid, readBuffer, storage, writeArray, type Dispatch } from './kernel.ts';
import { DoesNotFitError } from './memory.ts';
import { SHARD_ALIGN, splitFeatures, type Shard } from './shards.ts';
import { outWidth, type SaeWeights } from './sae.ts';
import { sparseDecode } from './sparse-decode.ts';

export interface EvalMetrics {
  /** mean over tokens of ‖x − x̂‖² (SAELens's training `mse_loss`: summed over d, averaged over tokens) */
  mse_per_token: number;
  /** Σ‖x − x̂‖² / Σ‖x − mean(x)‖², pooled over the evaluation rows; null when the rows do not vary (undefined) */
  fvu: number | null;
  explained_variance: number | null;
  /** mean number of active features per token */
  l0: number;
  /** fraction of features firing on no evaluation token */
  dead_frac_eval: number;
  /** fraction of features firing on more than 10% of evaluation tokens */
  dense_frac: number;
  /** … on more than 1% */
  dense_frac_1pct: number;
  /** evaluation tokens (rows) */
  eval_tokens: number;
}

/** rows to evaluate: an SAE's inputs, or a transcoder's inputs with the outputs it should reproduce */
export type EvalChunk = Float32Array | { x: Float32Array; y: Float32Array };

interface Plan {
  rows: number;
  dispatches: Dispatch[];
  /** how many of the dispatches make x̂ (the rest are the residual and the statistics) */
  reconstructs: number;
  /** the step's per-row outputs */
  X: GPUBuffer;
  /** what x̂ is compared with: X for an SAE, the output activation for a transcoder */
  target: GPUBuffer;
  Xhat: GPUBuffer;
  rowsq: GPUBuffer;
  rowl0: GPUBuffer;
  acts: GPUBuffer; // standard: dense f (rows, F); topk: pre (rows, F)
  idx?: GPUBuffer;
  val?: GPUBuffer;
  fireCount?: GPUBuffer;
  buffers: GPUBuffer[];
}

/** What `SaeRunner.encode` leaves on the GPU for a batch of rows. */
export interface EncodedRows {
  rows: number;
  /** standard: the activations f (rows, F), dense */
  dense?: GPUBuffer;
  /** topk: the kept entries of each row (rows, k), larger first; index 0xffffffff pads, value ReLU(pre) */
  idx?: GPUBuffer;
  val?: GPUBuffer;
  /** topk: entries per row */
  k?: number;
}

interface EncodePlan {
  dispatches: Dispatch[];
  X: GPUBuffer;
  out: EncodedRows;
  buffers: GPUBuffer[];
}

/**
 * How the runner holds a dictionary on a device: its weights split into feature shards where W_enc or
 * W_dec would pass one buffer (engine/shards.ts), and at most `rows` rows per batch, so that the (rows, F)
 * activations fit one buffer. Refuses, with the sizes, a dictionary for which even that does not fit.
 */
export function runnerPlan(d: number, features: number, limits: GPUSupportedLimits, featuresPerShard?: number, dOut = d): { shards: Shard[]; rows: number } {
  const wide = Math.max(d, dOut); // the wider of W_enc's columns and W_dec's rows decides
  const cap = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const perShard = featuresPerShard ?? (4 * features * wide <= cap ? features : Math.floor(cap / (4 * wide) / SHARD_ALIGN) * SHARD_ALIGN);
  const rows = Math.floor(cap / (4 * features));
  if (perShard === 0 || rows === 0) {
    const [what, bytes] = perShard === 0 ? [`a shard of ${SHARD_ALIGN} features`, 4 * SHARD_ALIGN * wide] : ['one row of activations', 4 * features];
    throw new DoesNotFitError(
      `evaluating ${features} features on d=${d} needs ${(bytes / 2 ** 20).toFixed(1)} MiB for ${what}, more than this ` +
        `device's ${(cap / 2 ** 20).toFixed(1)} MiB per buffer`,
    );
  }
  return { shards: splitFeatures(features, perShard), rows };
}

export class SaeRunner {
  private readonly plans = new Map<number, Plan>();
  private readonly encodePlans = new Map<number, EncodePlan>();
  /** each feature shard's weights (one shard: the dictionary's), b_dec, and the form's own tensors */
  private readonly weights: { W_enc: GPUBuffer; b_enc: GPUBuffer; W_dec: GPUBuffer }[];
  private readonly b_dec: GPUBuffer;
  private readonly threshold?: GPUBuffer;
  private readonly W_skip?: GPUBuffer;
  /** d_out: d for an SAE, a transcoder's output width */
  readonly dOut: number;
  /** the dictionary's feature shards: one unless W_enc or W_dec would pass one buffer */
  readonly shards: Shard[];
  /** rows per batch: at most what was asked, and at most what keeps the (rows, F) activations in one buffer */
  readonly batch: number;

  /** `featuresPerShard`: split the dictionary into shards of at most this many features (a multiple of 64) */
  constructor(
    readonly device: GPUDevice,
    readonly sae: SaeWeights,
    batch = 256,
    featuresPerShard?: number,
  ) {
    this.dOut = outWidth(sae);
    const plan = runnerPlan(sae.d, sae.features, device.limits, featuresPerShard, this.dOut);
    this.shards = plan.shards;
    this.batch = Math.min(batch, plan.rows);
    const up = (name: string, data: Float32Array) => {
      const buf = storage(device, name, data.byteLength);
      writeArray(device, buf, 0, data);
      return buf;
    };
    const { d, features: F } = sae;
    this.weights = this.shards.map(({ f0, F: n }, s) => {
      const W_enc = new Float32Array(d * n);
      for (let r = 0; r < d; r++) W_enc.set(sae.W_enc.subarray(r * F + f0, r * F + f0 + n), r * n);
      return {
        W_enc: up(`W_enc ${s}`, W_enc),
        b_enc: up(`b_enc ${s}`, sae.b_enc.subarray(f0, f0 + n)),
        W_dec: up(`W_dec ${s}`, sae.W_dec.subarray(f0 * this.dOut, (f0 + n) * this.dOut)),
      };
    });
    this.b_dec = up('b_dec', sae.b_dec);
    if (sae.arch === 'jumprelu') this.threshold = up('threshold', sae.threshold!);
    if (sae.W_skip) this.W_skip = up('W_skip', sae.W_skip);
  }

  private plan(rows: number): Plan {
    const cached = this.plans.get(rows);
    if (cached) return cached;
    const { device, sae, dOut } = this;
    const { d, features: F } = sae;
    const buffers: GPUBuffer[] = [];
    const { X, acts, parts, list, coef, idx, val, f32 } = this.encoderSteps(rows, buffers);
    const split = this.shards.length > 1;
    const Xhat = f32('Xhat', rows * dOut);
    const target = sae.dOut === undefined ? X : f32('target', rows * dOut);
    const G = f32('G', rows * dOut);
    const rowsq = f32('rowsq', rows);
    const rowl0 = f32('rowl0', rows);
    const rowterm = f32('rowterm', rows);
    const topk = sae.arch === 'topk';
    const k = sae.k ?? 0;
    const stepK = Kernel.get(device, 'stats', 'row_stats');
    const stepU = stepK.uniform('u', { B: rows, F, step: 0, dead_steps: 1, k, slots: k, sparse: topk ? 1 : 0 });
    const plan: Plan = { rows, dispatches: list, reconstructs: 0, X, target, Xhat, rowsq, rowl0, acts, buffers, idx, val };
    // the decoder sums over features: each shard's part, added in order (b_dec with the first)
    this.shards.forEach((sh, s) => {
      const W_dec = this.weights[s]!.W_dec;
      if (idx && val) {
        const shard = split ? { shard: { ...sh, accumulate: s > 0 } } : {};
        const dec = sparseDecode(device, { rows, d: dOut, K: k, stride: k, offset: 0, bias: s === 0, ...shard }, { sidx: idx, sval: val, W_dec, b_dec: this.b_dec, Xhat });
        buffers.push(dec.uniform);
        list.push(dec.dispatch);
      } else {
        const shape = { M: rows, N: dOut, K: sh.F, transA: false, transB: false };
        list.push(gemm(device, defaultGemmVariant(shape), rows, dOut, sh.F, parts[s]!, W_dec, Xhat, s === 0 ? { bias: this.b_dec } : { accumulate: true }, this.b_dec));
      }
    });
    if (this.W_skip) {
      // a skip transcoder adds x·W_skipᵀ (W_skip is (d_out, d)) from the raw input
      const shape = { M: rows, N: dOut, K: d, transA: false, transB: true };
      list.push(gemm(device, defaultGemmVariant(shape), rows, dOut, d, X, this.W_skip, Xhat, { transB: true, accumulate: true }, this.b_dec));
    }
    if (coef && sae.dOut === undefined) {
      const denorm = Kernel.get(device, 'rownorm', 'denormalize_rows', { MODE: rowNormMode(sae) });
      const rn = denorm.uniform('rn', { B: rows, d }).buffer;
      buffers.push(rn);
      list.push(dispatch(denorm, { rn, coef, Xhat }, flatGrid(rows * d)));
    }
    plan.reconstructs = list.length;
    if (!idx) {
      plan.fireCount = f32('fireCount', F);
      const lastFired = f32('lastFired', F);
      const fire = Kernel.get(device, 'stats', 'fire_dense');
      list.push(dispatch(fire, { u: stepU.buffer, f: acts, fireCount: plan.fireCount, lastFired }, flatGrid(F)));
    }
    const res = Kernel.get(device, 'rows', 'residual');
    const resU = res.uniform('u', { B: rows, d: dOut, scale: 1, center: 0, coef: 1 }).buffer;
    buffers.push(resU);
    list.push(dispatch(res, { u: resU, Xhat, Xs: target, G, rowsq }, flatGrid(rows)));
    list.push(dispatch(stepK, { u: stepU.buffer, f: acts, norms: acts, val: plan.val ?? rowsq, rowl0, rowterm }, flatGrid(rows)));
    this.plans.set(rows, plan);
    return plan;
  }

  /**
   * The dispatches that take `rows` rows in `X` to their activations and x̂ in `Xhat`, for callers that
   * record them into a pass of their own (a model's hook): the encoder, the selection and the decoder.
   */
  reconstruction(rows: number): { X: GPUBuffer; Xhat: GPUBuffer; encoded: EncodedRows; dispatches: Dispatch[] } {
    if (rows > this.batch) throw new Error(`reconstruction: ${rows} rows, more than this runner's batch of ${this.batch}`);
    const plan = this.plan(rows);
    const encoded: EncodedRows = plan.idx ? { rows, k: this.sae.k ?? 0, idx: plan.idx, val: plan.val } : { rows, dense: plan.acts };
    return { X: plan.X, Xhat: plan.Xhat, encoded, dispatches: plan.dispatches.slice(0, plan.reconstructs) };
  }

  private run(x: Float32Array, rows: number, y?: Float32Array): Plan {
    const plan = this.plan(rows);
    writeArray(this.device, plan.X, 0, x);
    if (y) writeArray(this.device, plan.target, 0, y);
    if (plan.fireCount) this.device.queue.writeBuffer(plan.fireCount, 0, new Uint32Array(this.sae.features));
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, plan.dispatches);
    pass.end();
    this.device.queue.submit([enc.finish()]);
    return plan;
  }

  /** Feature activations (rows, F), dense, and reconstructions (rows, d_out) of raw rows x. */
  async forward(x: Float32Array): Promise<{ acts: Float32Array; recon: Float32Array }> {
    const { d, features: F } = this.sae;
    const rows = x.length / d;
    if (rows <= this.batch) return this.forwardBatch(x);
    const acts = new Float32Array(rows * F);
    const recon = new Float32Array(rows * this.dOut);
    for (let r = 0; r < rows; r += this.batch) {
      const part = await this.forwardBatch(x.subarray(r * d, Math.min(rows, r + this.batch) * d));
      acts.set(part.acts, r * F);
      recon.set(part.recon, r * this.dOut);
    }
    return { acts, recon };
  }

  private async forwardBatch(x: Float32Array): Promise<{ acts: Float32Array; recon: Float32Array }> {
    const rows = x.length / this.sae.d;
    const plan = this.run(x, rows);
    const recon = new Float32Array(await readBuffer(this.device, plan.Xhat, 0, rows * this.dOut * 4));
    if (!plan.idx) return { acts: new Float32Array(await readBuffer(this.device, plan.acts, 0, rows * this.sae.features * 4)), recon };
    const { idx, val } = await this.readPicks(plan);
    const acts = new Float32Array(rows * this.sae.features);
    const k = this.sae.k!;
    for (let r = 0; r < rows * k; r++) if (idx[r] !== 0xffffffff) acts[Math.floor(r / k) * this.sae.features + idx[r]!] = val[r]!;
    return { acts, recon };
  }

  /**
   * The encoder's dispatches for `rows` rows — the row normalisation, prepare (centre), the encoder GEMM
   * (+ ReLU for standard), the TopK selection or the JumpReLU threshold — and their buffers, pushed onto
   * `buffers`: shared by plan() and encodePlan().
   */
  private encoderSteps(rows: number, buffers: GPUBuffer[]) {
    const { device, sae } = this;
    const { d, features: F } = sae;
    const f32 = (label: string, n: number) => {
      const b = storage(device, label, n * 4);
      buffers.push(b);
      return b;
    };
    const X = f32('X', rows * d);
    const Xs = f32('Xs', rows * d);
    const Xc = f32('Xc', rows * d);
    const acts = f32('acts', rows * F);
    const list: Dispatch[] = [];
    let input = X;
    let coef: GPUBuffer | undefined;
    if (sae.normalize) {
      input = f32('Xn', rows * d);
      coef = f32('coef', rows * 3);
      const norm = Kernel.get(device, 'rownorm', 'normalize_rows', { MODE: rowNormMode(sae) });
      const rn = norm.uniform('rn', { B: rows, d }).buffer;
      buffers.push(rn);
      list.push(dispatch(norm, { rn, X, Xn: input, coef }, flatGrid(rows)));
    }
    const prep = Kernel.get(device, 'rows', 'prepare');
    const rowsU = prep.uniform('u', { B: rows, d, scale: 1, center: sae.applyBDecToInput ? 1 : 0, coef: 1 });
    buffers.push(rowsU.buffer);
    list.push(dispatch(prep, { u: rowsU.buffer, X: input, b_dec: this.b_dec, Xs, Xc }, flatGrid(rows * d)));
    const topk = sae.arch === 'topk';
    // The encoder per feature shard; a split dictionary's shards' activations are placed side by side in
    // the (rows, F) ones, which the selection, the statistics and the callers read.
    const split = this.shards.length > 1;
    const parts = this.shards.map((sh, s) => {
      const w = this.weights[s]!;
      const part = split ? f32(`acts ${s}`, rows * sh.F) : acts;
      const shape = { M: rows, N: sh.F, K: d, transA: false, transB: false };
      list.push(gemm(device, defaultGemmVariant(shape), rows, sh.F, d, Xc, w.W_enc, part, { bias: w.b_enc, relu: sae.arch === 'standard' }, w.b_enc));
      if (this.threshold) {
        // on the shard's part: the decoder reads it (f0 is a multiple of 64 features, a valid binding offset)
        const jump = Kernel.get(device, 'jumprelu', 'jump');
        const ju = jump.uniform('ju', { B: rows, F: sh.F }).buffer;
        buffers.push(ju);
        const theta = { buffer: this.threshold, offset: sh.f0 * 4, size: sh.F * 4 };
        list.push(dispatch(jump, { ju, theta, acts: part }, flatGrid(rows * sh.F)));
      }
      if (split) {
        const place = Kernel.get(device, 'rows', 'place');
        const pl = place.uniform('pl', { B: rows, F, f0: sh.f0, Fs: sh.F }).buffer;
        buffers.push(pl);
        list.push(dispatch(place, { pl, part, wide: acts }, flatGrid(rows * sh.F)));
      }
      return part;
    });
    let idx: GPUBuffer | undefined;
    let val: GPUBuffer | undefined;
    if (topk) {
      const k = sae.k ?? 0;
      idx = f32('idx', rows * k);
      val = f32('val', rows * k);
      const sel = Kernel.get(device, 'topk', 'select_topk', { MASKED: false, QUADS: F % 4 === 0 });
      const su = sel.uniform('su', { B: rows, F, K: k, stride: k, offset: 0 }).buffer;
      buffers.push(su);
      // unmasked selection reads no dead mask; any buffer of the right type satisfies the binding
      list.push(dispatch(sel, { su, pre: acts, pre4: acts, dead: Xs, dead4: Xs, idx, val }, flatGrid(rows)));
    }
    return { X, acts, parts, list, coef, idx, val, f32 };
  }

  // The encoder half of plan(): no decoder, residual or metrics, for callers that only need activations.
  private encodePlan(rows: number): EncodePlan {
    const cached = this.encodePlans.get(rows);
    if (cached) return cached;
    const buffers: GPUBuffer[] = [];
    const { X, acts, list: dispatches, idx, val } = this.encoderSteps(rows, buffers);
    const out: EncodedRows = idx ? { rows, k: this.sae.k ?? 0, idx, val } : { rows, dense: acts };
    const plan: EncodePlan = { dispatches, X, out, buffers };
    this.encodePlans.set(rows, plan);
    return plan;
  }

  /**
   * Submits the encoder alone for raw rows x and returns the buffers its activations land in. The same
   * buffers serve every call with the same row count: work submitted after this call and before the next
   * one sees these rows' activations (the queue keeps writes and submissions in order).
   */
  encode(x: Float32Array): EncodedRows {
    const rows = x.length / this.sae.d;
    if (!Number.isInteger(rows) || rows < 1) throw new Error(`encode: ${x.length} values are not whole rows of d = ${this.sae.d}`);
    if (rows > this.batch) throw new Error(`encode: ${rows} rows, more than this runner's batch of ${this.batch}`);
    const plan = this.encodePlan(rows);
    writeArray(this.device, plan.X, 0, x);
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, plan.dispatches);
    pass.end();
    this.device.queue.submit([enc.finish()]);
    return plan.out;
  }

  private async readPicks(plan: Plan): Promise<{ idx: Uint32Array; val: Float32Array }> {
    const n = plan.rows * this.sae.k!;
    return {
      idx: new Uint32Array(await readBuffer(this.device, plan.idx!, 0, n * 4)),
      val: new Float32Array(await readBuffer(this.device, plan.val!, 0, n * 4)),
    };
  }

  /**
   * docs/RECIPE.md §3 metrics over the rows the chunks yield (whole rows, raw units). A transcoder's chunks
   * are (input, output) pairs, and its x̂ is compared with the output.
   */
  async evaluate(chunks: AsyncIterable<EvalChunk> | Iterable<EvalChunk>): Promise<EvalMetrics & { density: Float64Array }> {
    const { d, features: F } = this.sae;
    const dOut = this.dOut;
    const acc = new Accumulator(dOut, F);
    for await (const chunk of chunks) {
      const { x: xs, y: ys } = chunk instanceof Float32Array ? { x: chunk, y: undefined } : chunk;
      if (this.sae.dOut !== undefined && !ys) {
        throw new Error('a transcoder is evaluated against the activation it writes: give (input, output) row pairs');
      }
      const total = xs.length / d;
      if (ys && ys.length !== total * dOut) throw new Error(`evaluate: ${total} input rows but ${ys.length / dOut} output rows`);
      for (let start = 0; start < total; start += this.batch) {
        const rows = Math.min(this.batch, total - start);
        const x = xs.subarray(start * d, (start + rows) * d);
        const y = ys?.subarray(start * dOut, (start + rows) * dOut);
        const plan = this.run(x, rows, y);
        const rowsq = new Float32Array(await readBuffer(this.device, plan.rowsq, 0, rows * 4));
        const rowl0 = new Float32Array(await readBuffer(this.device, plan.rowl0, 0, rows * 4));
        if (plan.fireCount) {
          acc.addFires(new Uint32Array(await readBuffer(this.device, plan.fireCount, 0, F * 4)));
        } else {
          const { idx, val } = await this.readPicks(plan);
          const fires = new Uint32Array(F);
          for (let r = 0; r < idx.length; r++) if (val[r]! > 0) fires[idx[r]!]! += 1;
          acc.addFires(fires);
        }
        acc.addRows(y ?? x, rows, rowsq, rowl0);
      }
    }
    return acc.result();
  }

  destroy(): void {
    for (const plan of this.plans.values()) for (const b of plan.buffers) b.destroy();
    for (const plan of this.encodePlans.values()) for (const b of plan.buffers) b.destroy();
    for (const w of this.weights) for (const b of Object.values(w)) b.destroy();
    this.b_dec.destroy();
    this.threshold?.destroy();
    this.W_skip?.destroy();
  }
}

/** the rownorm shader's MODE for an SAE's normalisation */
function rowNormMode(sae: SaeWeights): number {
  return sae.normalize === 'layer_norm' ? 1 : 0;
}

/** Float64 running sums for the pooled metrics; the data variance via per-dimension Welford/Chan updates. */
class Accumulator {
  private n = 0;
  private sqErr = 0;
  private l0 = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private readonly fires: Float64Array;

  constructor(
    private readonly d: number,
    F: number,
  ) {
    this.mean = new Float64Array(d);
    this.m2 = new Float64Array(d);
    this.fires = new Float64Array(F);
  }

  addFires(counts: Uint32Array): void {
    for (let i = 0; i < counts.length; i++) this.fires[i]! += counts[i]!;
  }

  addRows(x: Float32Array, rows: number, rowsq: Float32Array, rowl0: Float32Array): void {
    const d = this.d;
    const bMean = new Float64Array(d);
    const bM2 = new Float64Array(d);
    for (let r = 0; r < rows; r++) {
      this.sqErr += rowsq[r]!;
      this.l0 += rowl0[r]!;
      for (let j = 0; j < d; j++) bMean[j]! += x[r * d + j]!;
    }
    for (let j = 0; j < d; j++) bMean[j]! /= rows;
    for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) bM2[j]! += (x[r * d + j]! - bMean[j]!) ** 2;
    const n = this.n + rows;
    for (let j = 0; j < d; j++) {
      const delta = bMean[j]! - this.mean[j]!;
      this.m2[j]! += bM2[j]! + (delta * delta * this.n * rows) / n;
      this.mean[j]! += (delta * rows) / n;
    }
    this.n = n;
  }

  result(): EvalMetrics & { density: Float64Array } {
    if (this.n === 0) throw new Error('no evaluation rows');
    const total = this.m2.reduce((a, b) => a + b, 0);
    const density = this.fires.map((c) => c / this.n);
    const frac = (pred: (x: number) => boolean) => density.filter(pred).length / density.length;
    // rows that do not vary leave FVU undefined (0/0 or x/0): said so, not reported as Infinity
    const fvu = total > 0 ? this.sqErr / total : null;
    return {
      mse_per_token: this.sqErr / this.n,
      fvu,
      explained_variance: fvu === null ? null : 1 - fvu,
      l0: this.l0 / this.n,
      dead_frac_eval: frac((p) => p === 0),
      dense_frac: frac((p) => p > 0.1),
      dense_frac_1pct: frac((p) => p > 0.01),
      eval_tokens: this.n,
      density,
    };
  }
}
