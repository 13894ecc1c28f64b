// The same SAE training step written with TensorFlow.js 4.22, as a TF.js user would write it: tf.variableGrads
// for the gradients, tf.train.adam for the optimiser, the global-norm clip by hand (TF.js has no clip op for a
// list of gradients). It is the comparison point of `npm run bench` (docs/BENCHMARKS.md), so it follows the
// engine's math exactly (RECIPE §1–2, docs/ENGINE.md "Definitions"): input scaling, the loss, the λ warm-up
// and lr schedule (src/engine/schedule.ts), Adam ε, the clip rule, and for TopK the AuxK term, the dead
// window, the decoder-gradient projection and the row renormalisation. It starts from the same initial
// parameters (src/engine/init.ts) and is fed the same raw batches, so its loss curve can be compared with the
// engine's step for step.
//
// TopK has two formulations (TopkMode below): the sparse one, which does the work TopK is meant to save, and
// a dense one that every backend can differentiate; which is faster depends on the backend and the shape.
// TF.js has no gradient for TopK and refuses any unregistered op between the parameters and the loss, so the
// selection runs inside tf.customGrad ops (their forward is not recorded): in the sparse formulation its
// gradient scatters ∂L/∂z back onto the selected pre-activations and its indices leave the op as plain
// integer data for the gathers; in the dense one it yields a 0/1 mask with no gradient. The sparse gradients
// need the UnsortedSegmentSum kernel, which tfjs-backend-wasm 4.22 lacks.
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients (the @tensorflow/tfjs bundle does this same import)
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { ADAM, ADAM_EPS, CLIP_NORM, deadSteps, type DataStats, type TrainConfig } from '../src/engine/config.ts';
import { l1Coefficient, learningRate } from '../src/engine/schedule.ts';
import type { Params32 } from '../src/engine/run-state.ts';

type Vars = { W_enc: tf.Variable; b_enc: tf.Variable; W_dec: tf.Variable; b_dec: tf.Variable };
const NAMES = ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const;

// Variable names are global to TF.js's engine; each trainer gets its own prefix.
let instances = 0;

/**
 * How TopK is written. 'sparse': tf.topk's indices, tf.gather of the kept decoder rows, segment sums in the
 * gradient (the work TopK is meant to save). 'dense': the TopK activation as ReLU(pre) times a 0/1 mask of
 * each row's k largest entries, decoded with a dense matMul (all of B·F, zeros included), which every
 * backend can differentiate.
 */
export type TopkMode = 'sparse' | 'dense';

/** Whether the current backend has the kernel the sparse gradients need. */
export function tfSupportsSparse(): boolean {
  return tf.getKernel('UnsortedSegmentSum', tf.getBackend()) !== undefined;
}

/** tf.customGrad with its inputs typed (TF.js types every argument as Tensor | GradSaveFunc). */
function customOp<A extends tf.Tensor[]>(
  f: (...args: [...A, tf.GradSaveFunc]) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] },
): (...inputs: A) => tf.Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as (...inputs: A) => tf.Tensor;
}

/**
 * The `k` largest entries of each row of a (B, F) tensor: their values (differentiable: the gradient lands
 * on the selected entries) and their feature indices (B, k), which are not tracked by the tape. The op's
 * forward runs in a tidy of its own, so the indices are kept: the caller disposes them.
 */
function topkSelect(k: number, rowOffsets: tf.Tensor): (x: tf.Tensor2D) => { values: tf.Tensor2D; indices: tf.Tensor2D } {
  return (x) => {
    let indices: tf.Tensor2D | undefined;
    const [B, F] = x.shape;
    const op = customOp<[tf.Tensor]>((pre: tf.Tensor, save: tf.GradSaveFunc) => {
      const top = tf.topk(pre as tf.Tensor2D, k);
      indices = tf.keep(top.indices);
      save([tf.reshape(tf.add(top.indices, rowOffsets), [B * k])]);
      return {
        value: top.values,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.reshape(tf.unsortedSegmentSum(tf.reshape(dy, [B * k]), saved[0] as tf.Tensor1D, B * F), [B, F]),
      };
    });
    const values = op(x) as tf.Tensor2D;
    return { values, indices: indices! };
  };
}

/**
 * 1 on the `k` largest entries of each row of a (B, F) tensor, 0 elsewhere (the dense formulation): the
 * k-th largest value from tf.topk is each row's threshold. Ties at the threshold would keep more than k
 * entries; float pre-activations practically never tie. A constant of the step (zero gradient).
 */
const maskOp = (k: number) =>
  customOp<[tf.Tensor]>((x: tf.Tensor) => ({
    value: tf.tidy(() => {
      const values = tf.topk(x as tf.Tensor2D, k).values;
      return tf.cast(tf.greaterEqual(x, tf.slice(values, [0, k - 1], [-1, 1])), 'float32');
    }),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  }));
const masks = new Map<number, (x: tf.Tensor) => tf.Tensor>();
function topkMask(x: tf.Tensor, k: number): tf.Tensor {
  if (!masks.has(k)) masks.set(k, maskOp(k));
  return masks.get(k)!(x);
}

// e = x' − x̂' enters AuxK with its gradient stopped (RECIPE §2).
const stopGradient = customOp<[tf.Tensor]>((x: tf.Tensor) => ({ value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) }));

// 1 / (B·v_e) with v_e = (1/B) Σ_b ‖e_b − mean(e)‖², or 0 when no latent is dead or v_e = 0 (docs/ENGINE.md):
// a constant of the step, computed where TF.js records nothing (comparisons have no gradient in TF.js).
const auxWeight = customOp<[tf.Tensor, tf.Tensor]>((e: tf.Tensor, anyDead: tf.Tensor) => ({
  value: tf.tidy(() => {
    const B = e.shape[0]!;
    const ve = tf.div(tf.sum(tf.squaredDifference(e, tf.mean(e, 0))), B);
    const live = tf.logicalAnd(tf.greater(ve, 0), tf.greater(anyDead, 0));
    return tf.where(live, tf.div(1, tf.mul(tf.where(live, ve, tf.onesLike(ve)), B)), tf.zerosLike(ve));
  }),
  gradFunc: () => [tf.zerosLike(e), tf.zerosLike(anyDead)],
}));

export class TfSaeTrainer {
  private t = 0;
  private readonly v: Vars;
  private readonly optimizer: tf.AdamOptimizer;
  /** (F) step + 1 of each latent's last fire (TopK's dead window), not trained */
  private readonly lastFired: tf.Variable | null;
  /** (B, 1) b·F: turns per-row feature indices into indices of the flattened (B·F) pre-activations */
  private readonly rowOffsets: tf.Tensor | null;
  private readonly topkMain: ReturnType<typeof topkSelect> | null;
  private readonly topkAux: ReturnType<typeof topkSelect> | null;

  readonly mode: TopkMode;

  constructor(readonly cfg: TrainConfig, readonly stats: DataStats, init: Params32, options: { topk?: TopkMode } = {}) {
    const { d, features: F, batch: B } = cfg;
    const id = `sae${instances++}`;
    // (the tidy frees the initial tensors; the variables keep their data)
    this.v = tf.tidy(() => ({
      W_enc: tf.variable(tf.tensor2d(init.W_enc, [d, F]), true, `${id}/W_enc`),
      b_enc: tf.variable(tf.tensor1d(init.b_enc), true, `${id}/b_enc`),
      W_dec: tf.variable(tf.tensor2d(init.W_dec, [F, d]), true, `${id}/W_dec`),
      b_dec: tf.variable(tf.tensor1d(init.b_dec), true, `${id}/b_dec`),
    }));
    this.optimizer = tf.train.adam(cfg.lr, ADAM.beta1, ADAM.beta2, ADAM_EPS[cfg.arch]);
    const topk = cfg.arch === 'topk';
    this.mode = options.topk ?? (tfSupportsSparse() ? 'sparse' : 'dense');
    if (this.mode === 'sparse' && !tfSupportsSparse()) throw new Error(`TF.js ${tf.getBackend()}: no UnsortedSegmentSum kernel, so no sparse TopK`);
    this.lastFired = topk ? tf.tidy(() => tf.variable(tf.zeros([F]), false, `${id}/lastFired`)) : null;
    this.rowOffsets = topk ? tf.tidy(() => tf.reshape(tf.range(0, B * F, F, 'int32'), [B, 1])) : null;
    this.topkMain = topk ? topkSelect(cfg.k, this.rowOffsets!) : null;
    this.topkAux = topk ? topkSelect(cfg.kAux, this.rowOffsets!) : null;
  }

  get stepCount(): number {
    return this.t;
  }

  /** One training step on raw rows (B × d). Returns the step's loss (before the update); the caller disposes it. */
  step(batch: Float32Array): tf.Scalar {
    const { batch: B, d } = this.cfg;
    if (batch.length !== B * d) throw new Error(`batch has ${batch.length} values, expected ${B}×${d}`);
    // TF.js optimisers have no schedule API; Adam reads `learningRate` at every applyGradients.
    (this.optimizer as unknown as { learningRate: number }).learningRate = learningRate(this.cfg, this.t);
    const loss = tf.tidy(() => {
      const x = tf.mul(tf.tensor2d(batch, [B, d]), this.stats.scale) as tf.Tensor2D;
      return this.cfg.arch === 'standard' ? this.standardStep(x) : this.topkStep(x);
    });
    this.t++;
    return loss;
  }

  private standardStep(x: tf.Tensor2D): tf.Scalar {
    const { W_enc, b_enc, W_dec, b_dec } = this.v;
    const B = this.cfg.batch;
    const lam = l1Coefficient(this.cfg, this.t);
    const { value, grads } = tf.variableGrads(() => {
      const f = tf.fused.matMul({ a: x, b: W_enc, bias: b_enc, activation: 'relu' });
      const xhat = tf.fused.matMul({ a: f, b: W_dec, bias: b_dec });
      const recon = tf.div(tf.sum(tf.squaredDifference(xhat, x)), B);
      // λ Σ_i f_i ‖W_dec,i‖, the decoder norms inside the penalty (rows are not normalised)
      const norms = tf.sqrt(tf.sum(tf.square(W_dec), 1));
      const penalty = tf.mul(tf.sum(tf.mul(f, norms)), lam / B);
      return tf.add(recon, penalty) as tf.Scalar;
    }, this.varList());
    this.optimizer.applyGradients(named(clipByGlobalNorm(grads, CLIP_NORM)));
    return value;
  }

  private topkStep(x: tf.Tensor2D): tf.Scalar {
    const { W_enc, b_enc, W_dec, b_dec } = this.v;
    const { batch: B, features: F, d, k, kAux, auxAlpha } = this.cfg;
    const sparse = this.mode === 'sparse';
    const lastFired = this.lastFired!;
    // No latent can be dead before one dead window has passed (lastFired starts at 0), so until then AuxK is
    // left out of the graph: the same loss, less work.
    const auxLive = this.t >= deadSteps(this.cfg);
    const dead = auxLive ? tf.cast(tf.greaterEqual(tf.sub(this.t, lastFired), deadSteps(this.cfg)), 'float32') : null;
    const kept: tf.Tensor[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const pre = tf.add(tf.matMul(tf.sub(x, b_dec), W_enc), b_enc) as tf.Tensor2D;
      const decode = (ix: tf.Tensor, vals: tf.Tensor, n: number) =>
        tf.sum(tf.mul(tf.reshape(tf.gather(W_dec, tf.reshape(ix, [B * n])), [B, n, d]), tf.reshape(vals, [B, n, 1])), 1);
      // main TopK: z = ReLU of the k largest pre-activations of each row
      let xhat: tf.Tensor;
      if (sparse) {
        const main = this.topkMain!(pre);
        const val = tf.relu(main.values);
        kept.push(main.indices, tf.keep(val));
        xhat = tf.add(decode(main.indices, val, k), b_dec);
      } else {
        const f = tf.mul(tf.relu(pre), topkMask(pre, k));
        kept.push(tf.keep(f));
        xhat = tf.add(tf.matMul(f, W_dec), b_dec);
      }
      const mainLoss = tf.div(tf.sum(tf.squaredDifference(xhat, x)), B * this.stats.variance);
      if (!dead) return mainLoss as tf.Scalar;
      // AuxK: the k_aux largest pre-activations among dead latents reconstruct the stopped residual; live
      // latents are pushed to −1e30, so a pick of one (when fewer than k_aux are dead) is 0 after the ReLU
      const masked = tf.add(pre, tf.mul(tf.sub(dead, 1), 1e30)) as tf.Tensor2D;
      let ehat: tf.Tensor;
      if (sparse) {
        const aux = this.topkAux!(masked);
        kept.push(aux.indices);
        ehat = decode(aux.indices, tf.relu(aux.values), kAux);
      } else {
        ehat = tf.matMul(tf.mul(tf.relu(masked), topkMask(masked, kAux)), W_dec);
      }
      const e = stopGradient(tf.sub(x, xhat));
      const auxLoss = tf.mul(tf.sum(tf.squaredDifference(ehat, e)), auxWeight(e, tf.max(dead)));
      return tf.add(mainLoss, tf.mul(auxLoss, auxAlpha)) as tf.Scalar;
    }, this.varList());
    // remove from each decoder row's gradient its component along the (unit) row
    const gW = grads[W_dec.name]!;
    grads[W_dec.name] = tf.sub(gW, tf.mul(W_dec, tf.sum(tf.mul(gW, W_dec), 1, true)));
    this.optimizer.applyGradients(named(grads));
    W_dec.assign(tf.div(W_dec, tf.sqrt(tf.sum(tf.square(W_dec), 1, true))));
    // fire statistics: a latent fired when one of its kept entries is positive in some row
    let fired: tf.Tensor;
    if (sparse) {
      const [idx, val] = kept as [tf.Tensor, tf.Tensor];
      fired = tf.greater(tf.unsortedSegmentSum(tf.reshape(tf.cast(tf.greater(val, 0), 'float32'), [B * k]), tf.reshape(idx, [B * k]), F), 0);
    } else {
      fired = tf.greater(tf.max(kept[0]!, 0), 0);
    }
    lastFired.assign(tf.where(fired, tf.fill([F], this.t + 1), lastFired));
    tf.dispose(kept);
    return value;
  }

  private varList(): tf.Variable[] {
    return NAMES.map((n) => this.v[n]);
  }

  async readParams(): Promise<Params32> {
    const out = {} as Params32;
    for (const n of NAMES) out[n] = (await this.v[n].data()) as Float32Array;
    return out;
  }

  dispose(): void {
    tf.dispose([...this.varList(), ...(this.lastFired ? [this.lastFired] : []), ...(this.rowOffsets ? [this.rowOffsets] : [])]);
    this.optimizer.dispose();
  }
}

/** PyTorch's clip_grad_norm_ over all gradients together: g · min(1, max / (‖g‖ + 1e-6)). */
function clipByGlobalNorm(grads: tf.NamedTensorMap, maxNorm: number): tf.NamedTensorMap {
  const list = Object.values(grads);
  const norm = tf.sqrt(tf.addN(list.map((g) => tf.sum(tf.square(g)))));
  const factor = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6)));
  const out: tf.NamedTensorMap = {};
  for (const [name, g] of Object.entries(grads)) out[name] = tf.mul(g, factor);
  return out;
}

function named(grads: tf.NamedTensorMap): { name: string; tensor: tf.Tensor }[] {
  return Object.entries(grads).map(([name, tensor]) => ({ name, tensor }));
}
