// An SAE spliced into a language model at its hook, on the GPU inside the model's own pass (shaders/splice.wgsl):
// the activation is replaced by the SAE's reconstruction x̂, or kept with its error term (x = x̂ + (x − x̂)),
// and features are edited on the way — clamped to a value (the seed's intervention) or their decoder
// direction added with a strength (steering). Positions holding special tokens (BOS, EOS) keep their
// activation, as SAELens's evaluation does (an SAE never saw them in training); steering, like
// `forward --add`, adds its vector at every position.
import { Kernel, dispatch, flatGrid, storage, writeArray, type Dispatch } from '../engine/kernel.ts';
import { SaeRunner } from '../engine/evaluate.ts';
import type { SaeWeights } from '../engine/sae.ts';
import type { LmConfig } from './config.ts';
import type { HookEdit } from './lm.ts';
import { parseHook } from './hooks.ts';

export interface FeatureEdits {
  /** add alpha·W_dec,feature at every position */
  steer?: readonly { feature: number; alpha: number }[];
  /** set the feature's activation to value at every position (its change goes through the decoder) */
  clamp?: readonly { feature: number; value: number }[];
}

export interface SpliceOptions extends FeatureEdits {
  /** keep x − x̂: with no edit the model's output is the clean one */
  errorTerm: boolean;
}

export class SaeSplice {
  private readonly runner: SaeRunner;
  private readonly dummy: GPUBuffer;

  /** `rows`: the most positions a forward pass will hand the splice at once */
  constructor(
    readonly device: GPUDevice,
    readonly sae: SaeWeights,
    rows: number,
    /** token ids left unedited (the model's BOS and EOS) */
    readonly specialIds: readonly number[],
  ) {
    this.runner = new SaeRunner(device, sae, rows);
    this.dummy = storage(device, 'splice.dummy', 16);
  }

  /** the most positions one pass may hand the splice */
  get rows(): number {
    return this.runner.batch;
  }

  /** The hook edit that splices this SAE in with `o`'s feature edits. */
  edit(o: SpliceOptions): HookEdit {
    const { sae } = this;
    const clamps = o.clamp ?? [];
    const steers = o.steer ?? [];
    for (const e of [...clamps, ...steers]) {
      if (!Number.isInteger(e.feature) || e.feature < 0 || e.feature >= sae.features) throw new RangeError(`feature ${e.feature} is not one of the SAE's ${sae.features} (0 … ${sae.features - 1})`);
    }
    if (clamps.length && sae.normalize) {
      // a clamp moves x̂ along W_dec in the SAE's normalised units; the row's scale is not carried to the splice
      throw new RangeError(`clamping a feature of an SAE with normalize_activations "${sae.normalize}" is not supported; steer it instead`);
    }
    const steer = new Float32Array(sae.d);
    for (const { feature, alpha } of steers) for (let j = 0; j < sae.d; j++) steer[j]! += alpha * sae.W_dec[feature * sae.d + j]!;
    const Wc = new Float32Array(Math.max(1, clamps.length) * sae.d);
    clamps.forEach(({ feature }, c) => Wc.set(sae.W_dec.subarray(feature * sae.d, (feature + 1) * sae.d), c * sae.d));
    return { kind: 'apply', record: (act, rows, ids) => this.record(act, rows, ids, o.errorTerm, clamps, steer, Wc) };
  }

  private record(act: GPUBuffer, rows: number, ids: ArrayLike<number>, errorTerm: boolean, clamps: readonly { feature: number; value: number }[], steer: Float32Array, Wc: Float32Array): { dispatches: Dispatch[]; buffers: GPUBuffer[] } {
    const { device, sae } = this;
    if (rows > this.rows) throw new RangeError(`the SAE splice takes at most ${this.rows} positions a pass, got ${rows}`);
    const buffers: GPUBuffer[] = [];
    const up = (label: string, data: Float32Array | Uint32Array) => {
      const b = storage(device, `splice.${label}`, Math.max(16, data.byteLength));
      writeArray(device, b, 0, data);
      buffers.push(b);
      return b;
    };
    const special = new Set(this.specialIds);
    const keep = up('keep', Uint32Array.from({ length: rows }, (_, r) => (special.has(ids[r]!) ? 1 : 0)));
    const dispatches: Dispatch[] = [];
    const nc = clamps.length;
    const topk = sae.arch === 'topk';
    const u = { rows, d: sae.d, F: sae.features, k: sae.k ?? 0, nc };
    let Xhat = this.dummy;
    let coef = this.dummy;
    // With the error term kept, x̂ itself cancels: only the clamped features' activations are needed.
    if (!errorTerm || nc > 0) {
      const rec = this.runner.reconstruction(rows);
      const copy = Kernel.get(device, 'residual', 'copy');
      const cu = copy.uniform('u', { rows, d: sae.d, T: rows }).buffer;
      buffers.push(cu);
      dispatches.push(dispatch(copy, { u: cu, src: act, dst: rec.X }, flatGrid(rows * sae.d)), ...rec.dispatches);
      Xhat = rec.Xhat;
      if (nc > 0) {
        coef = storage(device, 'splice.coef', 4 * rows * nc);
        buffers.push(coef);
        const k = Kernel.get(device, 'splice', 'clamp_coef', { TOPK: topk });
        const ub = k.uniform('u', u).buffer;
        buffers.push(ub);
        const e = rec.encoded;
        const feat = up('feat', Uint32Array.from(clamps, (c) => c.feature));
        const clampTo = up('clampTo', Float32Array.from(clamps, (c) => c.value));
        dispatches.push(dispatch(k, { u: ub, acts: e.dense ?? this.dummy, idx: e.idx ?? this.dummy, val: e.val ?? this.dummy, feat, clampTo, coef }, flatGrid(rows * nc)));
      }
    }
    const k = Kernel.get(device, 'splice', 'splice_out', { ERROR_TERM: errorTerm });
    const ub = k.uniform('u', u).buffer;
    buffers.push(ub);
    dispatches.push(dispatch(k, { u: ub, X: act, Xhat, Wc: up('Wc', Wc), steer: up('steer', steer), keep, coefIn: coef }, flatGrid(rows * sae.d)));
    return { dispatches, buffers };
  }

  destroy(): void {
    this.runner.destroy();
    this.dummy.destroy();
  }
}

/** the token ids a splice leaves alone: the model's BOS and EOS */
export function specialTokenIds(c: LmConfig): number[] {
  return [...(c.bosTokenId !== null ? [c.bosTokenId] : []), ...c.eosTokenIds];
}

/** The hook's activation replaced by `vector` at every position (zeros: zero ablation; a mean: mean ablation). */
export function fillEdit(device: GPUDevice, vector: Float32Array): HookEdit {
  return {
    kind: 'apply',
    record(act, rows) {
      const k = Kernel.get(device, 'splice', 'fill');
      const u = k.uniform('u', { rows, d: vector.length, F: 0, k: 0, nc: 0 }).buffer;
      const steer = storage(device, 'splice.fill', 4 * vector.length);
      writeArray(device, steer, 0, vector);
      return { dispatches: [dispatch(k, { u, X: act, steer }, flatGrid(rows * vector.length))], buffers: [u, steer] };
    },
  };
}

/**
 * The hook the SAE is spliced in at, refused with both sides named when the SAE cannot read the model there;
 * a warning when its cfg.json says it was trained on another model's activations.
 */
export function checkSaeForModel(sae: SaeWeights, saeName: string, c: LmConfig, modelName: string, hook?: string): { hook: string; warning?: string } {
  const meta = sae.metadata ?? {};
  const trainedHook = typeof meta.hook_name === 'string' ? meta.hook_name : undefined;
  const at = hook ?? trainedHook;
  if (sae.dOut !== undefined) {
    throw new RangeError(`${saeName} is a transcoder: it reads one activation and writes another, and is not spliced in at a single hook`);
  }
  if (!at) throw new RangeError(`${saeName}: its cfg.json names no hook_name; say which hook of ${modelName} it reads`);
  if (trainedHook && at !== trainedHook) throw new RangeError(`${saeName} was trained at ${trainedHook}, not at ${at}`);
  parseHook(at, c);
  if (sae.d !== c.d) throw new RangeError(`${saeName} reads activations of width d_in=${sae.d}; ${modelName} has d=${c.d} at ${at}`);
  const trainedOn = typeof meta.model_name === 'string' ? meta.model_name : undefined;
  const warning = trainedOn && trainedOn !== modelName ? `${saeName} was trained on ${trainedOn}'s activations, not ${modelName}'s` : undefined;
  return { hook: at, warning };
}
