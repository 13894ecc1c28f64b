// A causal language model on the engine's own kernels: weights uploaded once, a key/value cache so that
// generation runs one position per new token, and hooks (TransformerLens names) that are read or edited
// on the GPU inside the pass. Every step is a kernel of shaders/ (embed, lmnorm, matmul, attention, mlp,
// residual) checked against src/reference/transformer.ts.
import { Kernel, dispatch, encodeDispatches, flatGrid, readBuffer, storage, writeArray, type Dispatch } from '../engine/kernel.ts';
import { defaultGemmVariant, gemm } from '../engine/gemm.ts';
import { qkvWidth, upWidth, type LmConfig, type LmWeights } from './config.ts';
import { hookName, parseHook, type HookKind } from './hooks.ts';
import { rotaryTable } from './rotary.ts';
import { checkLmFits } from './memory.ts';

/** An edit at a hook, applied at every position of every forward pass it is given to. */
export type HookEdit =
  | { kind: 'add'; vector: Float32Array }
  /**
   * the activation (rows, d) replaced in place by a function of itself (and of the pass's token ids),
   * recorded as dispatches; the buffers are destroyed when the pass is done
   */
  | { kind: 'apply'; record(act: GPUBuffer, rows: number, ids: ArrayLike<number>): { dispatches: Dispatch[]; buffers: GPUBuffer[] } };

export interface ForwardOptions {
  /** token ids, `batch` sequences of T side by side */
  ids: ArrayLike<number>;
  batch?: number;
  /** positions of each sequence already in the cache (0: a fresh start) */
  pos0?: number;
  /** hooks whose activations come back (rows, d) */
  read?: readonly string[];
  edits?: ReadonlyMap<string, HookEdit>;
  /**
   * logits of every position, of each sequence's last one, or none (default 'all'); with none the pass ends
   * at the last hook read, so the key/value cache of the layers after it is not written
   */
  logits?: 'all' | 'last' | 'none';
}

export interface ForwardResult {
  /** (rows, vocab) for 'all', (batch, vocab) for 'last' */
  logits?: Float32Array;
  hooks: Map<string, Float32Array>;
}

const ACT_CODE = { gelu_tanh: 0, gelu_erf: 1, relu: 2, silu: 3 } as const;

interface Work {
  batch: number;
  context: number;
  X: GPUBuffer; H: GPUBuffer; Y: GPUBuffer; QKV: GPUBuffer; O: GPUBuffer;
  U: GPUBuffer; F: GPUBuffer; last: GPUBuffer; logits: GPUBuffer; ids: GPUBuffer;
  K: GPUBuffer[]; V: GPUBuffer[];
  cos: GPUBuffer; sin: GPUBuffer;
}

export class LanguageModel {
  private readonly w = new Map<string, GPUBuffer>();
  private readonly dummy: GPUBuffer;
  private work?: Work;
  /** recorded GEMMs by shape and buffers (dropped with the buffers they bind) */
  private gemms = new Map<string, Dispatch>();

  private constructor(
    readonly device: GPUDevice,
    readonly config: LmConfig,
    /** shown in messages */
    readonly name: string,
  ) {
    this.dummy = storage(device, 'lm.dummy', 16);
  }

  /** Uploads the weights; refuses first, with the sizes, a model the device cannot hold at batch × context. */
  static create(device: GPUDevice, config: LmConfig, weights: LmWeights, name: string, batch = 1, context = Math.min(config.maxPositions, 256)): LanguageModel {
    checkLmFits(config, batch, context, device.limits, name);
    const lm = new LanguageModel(device, config, name);
    for (const [key, data] of weights) {
      const buf = storage(device, `lm.${key}`, data.byteLength);
      writeArray(device, buf, 0, data);
      lm.w.set(key, buf);
    }
    lm.reserve(batch, context);
    return lm;
  }

  /** the device buffers for `batch` sequences of up to `context` positions (kept when already as large) */
  reserve(batch: number, context: number): void {
    const c = this.config;
    if (context > c.maxPositions) throw new RangeError(`${this.name}: context ${context} is longer than the model's ${c.maxPositions} positions`);
    const have = this.work;
    if (have && have.batch >= batch && have.context >= context) return;
    batch = Math.max(batch, have?.batch ?? 0);
    context = Math.max(context, have?.context ?? 0);
    checkLmFits(c, batch, context, this.device.limits, this.name);
    this.releaseWork();
    const rows = batch * context;
    const buf = (label: string, floats: number) => storage(this.device, `lm.${label}`, 4 * floats);
    const cacheFloats = batch * c.nKvHeads * context * c.headDim;
    const half = c.headDim / 2;
    const work: Work = {
      batch, context,
      X: buf('X', rows * c.d), H: buf('H', rows * c.d), Y: buf('Y', rows * c.d),
      QKV: buf('QKV', rows * qkvWidth(c)), O: buf('O', rows * c.nHeads * c.headDim),
      U: buf('U', rows * upWidth(c)), F: buf('F', rows * c.dFf), last: buf('last', batch * c.d),
      logits: buf('logits', rows * c.vocab), ids: buf('ids', rows),
      K: Array.from({ length: c.nLayers }, (_, l) => buf(`K${l}`, cacheFloats)),
      V: Array.from({ length: c.nLayers }, (_, l) => buf(`V${l}`, cacheFloats)),
      cos: buf('cos', context * half), sin: buf('sin', context * half),
    };
    if (c.positions.kind === 'rotary') {
      const table = rotaryTable(c.positions.invFreq, context);
      writeArray(this.device, work.cos, 0, table.cos);
      writeArray(this.device, work.sin, 0, table.sin);
    }
    this.work = work;
  }

  get capacity(): { batch: number; context: number } {
    return { batch: this.work!.batch, context: this.work!.context };
  }

  async forward(o: ForwardOptions): Promise<ForwardResult> {
    const run = this.record(o);
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, run.dispatches);
    pass.end();
    this.device.queue.submit([enc.finish()]);
    const hooks = new Map<string, Float32Array>();
    for (const [name, buf] of run.reads) {
      hooks.set(name, new Float32Array(await readBuffer(this.device, buf, 0, run.rows * this.config.d * 4)));
      buf.destroy();
    }
    let logits: Float32Array | undefined;
    if (run.logitRows > 0) logits = new Float32Array(await readBuffer(this.device, this.work!.logits, 0, run.logitRows * this.config.vocab * 4));
    for (const u of run.transient) u.destroy();
    return { logits, hooks };
  }

  /** Every dispatch of one forward pass, with the buffers its hook reads land in. */
  private record(o: ForwardOptions) {
    const c = this.config;
    const batch = o.batch ?? 1;
    const pos0 = o.pos0 ?? 0;
    if (o.ids.length % batch !== 0 || o.ids.length === 0) throw new RangeError(`${o.ids.length} ids do not make ${batch} sequences`);
    const T = o.ids.length / batch;
    this.reserve(batch, pos0 + T);
    const work = this.work!;
    const rows = batch * T;
    for (let i = 0; i < o.ids.length; i++) {
      const id = o.ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= c.vocab) throw new RangeError(`token id ${id} is outside the vocabulary (0 … ${c.vocab - 1})`);
    }
    writeArray(this.device, work.ids, 0, Uint32Array.from(o.ids));
    const edits = new Map<string, HookEdit>();
    for (const [name, e] of o.edits ?? []) {
      parseHook(name, c);
      if (e.kind === 'add' && e.vector.length !== c.d) throw new RangeError(`the vector added at ${name} has ${e.vector.length} values; the model's d is ${c.d}`);
      edits.set(name, e);
    }
    const readSet = new Set(o.read ?? []);
    for (const name of readSet) parseHook(name, c);
    const transient: GPUBuffer[] = [];
    const reads = new Map<string, GPUBuffer>();
    const list: Dispatch[] = [];
    const uni = (k: Kernel, name: string, values: Record<string, number>) => {
      const b = k.uniform(name, values).buffer;
      transient.push(b);
      return b;
    };
    const elems = (entry: string, res: Record<string, GPUBuffer>, n: number, d = c.d, extraT = T) => {
      const k = Kernel.get(this.device, 'residual', entry);
      list.push(dispatch(k, { u: uni(k, 'u', { rows: n, d, T: extraT }), ...res }, flatGrid(n * d)));
    };
    const gemmInto = (M: number, N: number, K: number, A: GPUBuffer, B: GPUBuffer, C: GPUBuffer, bias?: GPUBuffer, transB = false) => {
      const variant = defaultGemmVariant({ M, N, K, transA: false, transB });
      // a GEMM's uniform depends on its shape alone, so generation (M = 1 each token) replays one recording
      const key = `${M},${N},${K},${A.label},${B.label},${C.label},${bias?.label ?? ''}`;
      let dsp = this.gemms.get(key);
      if (!dsp) this.gemms.set(key, (dsp = gemm(this.device, variant, M, N, K, A, B, C, { bias, transB }, this.dummy)));
      list.push(dsp);
    };
    const norm = (X: GPUBuffer, key: string) => {
      const k = Kernel.get(this.device, 'lmnorm', 'norm', { RMS: c.norm === 'rmsnorm' });
      list.push(dispatch(k, { u: uni(k, 'u', { rows, d: c.d, eps: c.normEps }), X, w: this.w.get(`${key}.w`)!, b: this.w.get(`${key}.b`) ?? this.dummy, Y: work.H }, flatGrid(rows)));
    };
    // With no logits asked for, the pass ends at the last hook read: a harvest of an early hook skips the
    // rest of the model.
    const mode = o.logits ?? 'all';
    let unread = readSet.size;
    // a hook: its edit applied, then its value copied out when read; true when nothing after it is needed
    const hook = (layer: number, kind: HookKind, act: GPUBuffer): boolean => {
      const name = hookName({ layer, kind });
      const e = edits.get(name);
      if (e?.kind === 'add') {
        const v = storage(this.device, `lm.edit.${name}`, 4 * c.d);
        writeArray(this.device, v, 0, e.vector);
        transient.push(v);
        elems('add_vector', { X: act, v }, rows);
      } else if (e?.kind === 'apply') {
        const rec = e.record(act, rows, o.ids);
        list.push(...rec.dispatches);
        transient.push(...rec.buffers);
      }
      if (readSet.has(name)) {
        const dst = storage(this.device, `lm.read.${name}`, 4 * rows * c.d);
        reads.set(name, dst);
        elems('copy', { src: act, dst }, rows);
        unread--;
      }
      return mode === 'none' && unread === 0;
    };

    const ek = Kernel.get(this.device, 'embed', 'embed', { LEARNED: c.positions.kind === 'learned' });
    list.push(dispatch(ek, { u: uni(ek, 'u', { rows, T, d: c.d, pos0 }), ids: work.ids, wte: this.w.get('wte')!, wpe: this.w.get('wpe') ?? this.dummy, X: work.X }, flatGrid(rows * c.d)));
    const W = qkvWidth(c);
    const heads = c.nHeads * c.headDim;
    for (let l = 0; l < c.nLayers; l++) {
      const wl = (k: string) => this.w.get(`L${l}.${k}`);
      if (hook(l, 'hook_resid_pre', work.X)) break;
      norm(work.X, `L${l}.ln1`);
      gemmInto(rows, W, c.d, work.H, wl('qkv.w')!, work.QKV, wl('qkv.b'));
      const attnU = { rows, T, pos0, nH: c.nHeads, nKv: c.nKvHeads, hd: c.headDim, ctx: work.context, scale: c.attnScale[l] };
      const rk = Kernel.get(this.device, 'attention', 'rope_store', { ROTARY: c.positions.kind === 'rotary' });
      list.push(dispatch(rk, { u: uni(rk, 'u', attnU), QKV: work.QKV, cosT: work.cos, sinT: work.sin, Kc: work.K[l], Vc: work.V[l] }, flatGrid(rows * (c.nHeads + c.nKvHeads))));
      const ak = Kernel.get(this.device, 'attention', 'attend');
      list.push(dispatch(ak, { u: uni(ak, 'u', attnU), Q: work.QKV, Kr: work.K[l], Vr: work.V[l], O: work.O }, flatGrid(rows * c.nHeads)));
      gemmInto(rows, c.d, heads, work.O, wl('o.w')!, work.Y, wl('o.b'));
      if (hook(l, 'hook_attn_out', work.Y)) break;
      elems('add', { X: work.X, Y: work.Y }, rows);
      if (hook(l, 'hook_resid_mid', work.X)) break;
      norm(work.X, `L${l}.ln2`);
      gemmInto(rows, upWidth(c), c.d, work.H, wl('up.w')!, work.U, wl('up.b'));
      const mk = Kernel.get(this.device, 'mlp', 'activate', { ACT: ACT_CODE[c.activation], GATED: c.gated });
      list.push(dispatch(mk, { u: uni(mk, 'u', { rows, dFf: c.dFf }), U: work.U, H: work.F }, flatGrid(rows * c.dFf)));
      gemmInto(rows, c.d, c.dFf, work.F, wl('down.w')!, work.Y, wl('down.b'));
      if (hook(l, 'hook_mlp_out', work.Y)) break;
      elems('add', { X: work.X, Y: work.Y }, rows);
      if (hook(l, 'hook_resid_post', work.X)) break;
    }
    let logitRows = 0;
    if (mode !== 'none') {
      norm(work.X, 'lnf');
      let src = work.H;
      logitRows = rows;
      if (mode === 'last') {
        elems('take_last', { src: work.H, dst: work.last }, batch);
        src = work.last;
        logitRows = batch;
      }
      gemmInto(logitRows, c.vocab, c.d, src, this.w.get(c.tied ? 'wte' : 'unembed')!, work.logits, undefined, true);
    }
    return { dispatches: list, reads, transient, rows, logitRows };
  }

  private releaseWork(): void {
    const w = this.work;
    if (!w) return;
    this.gemms.clear();
    for (const b of [w.X, w.H, w.Y, w.QKV, w.O, w.U, w.F, w.last, w.logits, w.ids, w.cos, w.sin, ...w.K, ...w.V]) b.destroy();
    this.work = undefined;
  }

  destroy(): void {
    this.releaseWork();
    for (const b of this.w.values()) b.destroy();
    this.dummy.destroy();
  }
}
