// Running a saved SAE (raw units, any SAELens layout) over rows on the GPU, and the metrics of RECIPE §3.
// Uses the training kernels: prepare (x − b_dec when apply_b_dec_to_input) → encoder GEMM → ReLU or TopK
// → decoder → residual. Sums are taken in float64 on the CPU from per-row results.
import { defaultGemmVariant, gemm } from './gemm.ts';
import { Kernel, dispatch, encodeDispatches, flatGrid, readBuffer, storage, writeArray, type Dispatch } from './kernel.ts';
import { DoesNotFitError } from './memory.ts';
import type { SaeWeights } from './sae.ts';
import { sparseDecode } from './sparse-decode.ts';

export interface EvalMetrics {
  /** mean over tokens of ‖x − x̂‖² (SAELens's "mse" is this divided by d) */
  mse_per_token: number;
  /** Σ‖x − x̂‖² / Σ‖x − mean(x)‖², pooled over the evaluation rows */
  fvu: number;
  explained_variance: number;
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

interface Plan {
  rows: number;
  dispatches: Dispatch[];
  /** the step's per-row outputs */
  X: GPUBuffer;
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
 * The runner binds each weight whole: a dictionary the trainer had to split into feature shards
 * (engine/shards.ts) is refused, with the sizes, until the runner splits them too.
 */
export function checkRunnerFits(d: number, features: number, limits: GPUSupportedLimits, batch = 256): void {
  const cap = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const widest = 4 * features * Math.max(d, batch);
  if (!runnerFits(d, features, limits, batch)) {
    throw new DoesNotFitError(
      `evaluating ${features} features on d=${d} needs ${(widest / 2 ** 20).toFixed(1)} MiB in one buffer, more than ` +
        `this device's ${(cap / 2 ** 20).toFixed(1)} MiB: the evaluator does not split a dictionary into feature shards`,
    );
  }
}

/** Whether the runner (and the map's neighbour search, which binds W_dec whole) can take this dictionary. */
export function runnerFits(d: number, features: number, limits: GPUSupportedLimits, batch = 256): boolean {
  return 4 * features * Math.max(d, batch) <= Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}

export class SaeRunner {
  private readonly plans = new Map<number, Plan>();
  private readonly encodePlans = new Map<number, EncodePlan>();
  private readonly weights: Record<'W_enc' | 'b_enc' | 'W_dec' | 'b_dec', GPUBuffer>;

  constructor(
    readonly device: GPUDevice,
    readonly sae: SaeWeights,
    readonly batch = 256,
  ) {
    checkRunnerFits(sae.d, sae.features, device.limits, batch);
    const up = (name: string, data: Float32Array) => {
      const buf = storage(device, name, data.byteLength);
      writeArray(device, buf, 0, data);
      return buf;
    };
    this.weights = { W_enc: up('W_enc', sae.W_enc), b_enc: up('b_enc', sae.b_enc), W_dec: up('W_dec', sae.W_dec), b_dec: up('b_dec', sae.b_dec) };
  }

  private plan(rows: number): Plan {
    const cached = this.plans.get(rows);
    if (cached) return cached;
    const { device, sae } = this;
    const { d, features: F } = sae;
    const w = this.weights;
    const buffers: GPUBuffer[] = [];
    const { X, Xs, acts, list, rowsU, idx, val, f32 } = this.encoderSteps(rows, buffers);
    const Xhat = f32('Xhat', rows * d);
    const G = f32('G', rows * d);
    const rowsq = f32('rowsq', rows);
    const rowl0 = f32('rowl0', rows);
    const rowterm = f32('rowterm', rows);
    const topk = sae.arch === 'topk';
    const k = sae.k ?? 0;
    const stepK = Kernel.get(device, 'stats', 'row_stats');
    const stepU = stepK.uniform('u', { B: rows, F, step: 0, dead_steps: 1, k, slots: k, sparse: topk ? 1 : 0 });
    const plan: Plan = { rows, dispatches: list, X, Xhat, rowsq, rowl0, acts, buffers, idx, val };
    if (idx && val) {
      const dec = sparseDecode(device, { rows, d, K: k, stride: k, offset: 0, bias: true }, { sidx: idx, sval: val, W_dec: w.W_dec, b_dec: w.b_dec, Xhat });
      buffers.push(dec.uniform);
      list.push(dec.dispatch);
    } else {
      list.push(gemm(device, defaultGemmVariant({ M: rows, N: d, K: F, transA: false, transB: false }), rows, d, F, acts, w.W_dec, Xhat, { bias: w.b_dec }, w.b_dec));
      plan.fireCount = f32('fireCount', F);
      const lastFired = f32('lastFired', F);
      const fire = Kernel.get(device, 'stats', 'fire_dense');
      list.push(dispatch(fire, { u: stepU.buffer, f: acts, fireCount: plan.fireCount, lastFired }, flatGrid(F)));
    }
    const res = Kernel.get(device, 'rows', 'residual');
    list.push(dispatch(res, { u: rowsU.buffer, Xhat, Xs, G, rowsq }, flatGrid(rows)));
    list.push(dispatch(stepK, { u: stepU.buffer, f: acts, norms: acts, val: plan.val ?? rowsq, rowl0, rowterm }, flatGrid(rows)));
    this.plans.set(rows, plan);
    return plan;
  }

  private run(x: Float32Array, rows: number): Plan {
    const plan = this.plan(rows);
    writeArray(this.device, plan.X, 0, x);
    if (plan.fireCount) this.device.queue.writeBuffer(plan.fireCount, 0, new Uint32Array(this.sae.features));
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, plan.dispatches);
    pass.end();
    this.device.queue.submit([enc.finish()]);
    return plan;
  }

  /** Feature activations (rows, F), dense, and reconstructions (rows, d) of raw rows x. */
  async forward(x: Float32Array): Promise<{ acts: Float32Array; recon: Float32Array }> {
    const rows = x.length / this.sae.d;
    const plan = this.run(x, rows);
    const recon = new Float32Array(await readBuffer(this.device, plan.Xhat, 0, rows * this.sae.d * 4));
    if (!plan.idx) return { acts: new Float32Array(await readBuffer(this.device, plan.acts, 0, rows * this.sae.features * 4)), recon };
    const { idx, val } = await this.readPicks(plan);
    const acts = new Float32Array(rows * this.sae.features);
    const k = this.sae.k!;
    for (let r = 0; r < rows * k; r++) if (idx[r] !== 0xffffffff) acts[Math.floor(r / k) * this.sae.features + idx[r]!] = val[r]!;
    return { acts, recon };
  }

  /**
   * The encoder's dispatches for `rows` rows — prepare (centre), the encoder GEMM (+ ReLU for standard),
   * and for TopK the selection — and their buffers, pushed onto `buffers`: shared by plan() and encodePlan().
   */
  private encoderSteps(rows: number, buffers: GPUBuffer[]) {
    const { device, sae } = this;
    const { d, features: F } = sae;
    const w = this.weights;
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
    const prep = Kernel.get(device, 'rows', 'prepare');
    const rowsU = prep.uniform('u', { B: rows, d, scale: 1, center: sae.applyBDecToInput ? 1 : 0, coef: 1 });
    buffers.push(rowsU.buffer);
    list.push(dispatch(prep, { u: rowsU.buffer, X, b_dec: w.b_dec, Xs, Xc }, flatGrid(rows * d)));
    const topk = sae.arch === 'topk';
    list.push(gemm(device, defaultGemmVariant({ M: rows, N: F, K: d, transA: false, transB: false }), rows, F, d, Xc, w.W_enc, acts, { bias: w.b_enc, relu: !topk }, w.b_enc));
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
    return { X, Xs, Xc, acts, list, rowsU, idx, val, f32 };
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

  /** RECIPE §3 metrics over the rows the chunks yield (each chunk: whole rows, raw units). */
  async evaluate(chunks: AsyncIterable<Float32Array> | Iterable<Float32Array>): Promise<EvalMetrics & { density: Float64Array }> {
    const { d, features: F } = this.sae;
    const acc = new Accumulator(d, F);
    for await (const chunk of chunks) {
      for (let start = 0; start < chunk.length / d; start += this.batch) {
        const rows = Math.min(this.batch, chunk.length / d - start);
        const x = chunk.subarray(start * d, (start + rows) * d);
        const plan = this.run(x, rows);
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
        acc.addRows(x, rows, rowsq, rowl0);
      }
    }
    return acc.result();
  }

  destroy(): void {
    for (const plan of this.plans.values()) for (const b of plan.buffers) b.destroy();
    for (const plan of this.encodePlans.values()) for (const b of plan.buffers) b.destroy();
    for (const b of Object.values(this.weights)) b.destroy();
  }
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
    const fvu = this.sqErr / total;
    return {
      mse_per_token: this.sqErr / this.n,
      fvu,
      explained_variance: 1 - fvu,
      l0: this.l0 / this.n,
      dead_frac_eval: frac((p) => p === 0),
      dense_frac: frac((p) => p > 0.1),
      dense_frac_1pct: frac((p) => p > 0.01),
      eval_tokens: this.n,
      density,
    };
  }
}
