// The GPU trainer: one readable step, recorded as a list of dispatches once and replayed every step.
// A step is: upload the batch → one compute pass (forward, loss, backward, norm, Adam, fire stats) → submit.
// Nothing is read back inside a step; metrics land in a ring on the GPU and come back asynchronously.
import { ADAM, ADAM_EPS, CLIP_NORM, deadSteps, type DataStats, type TrainConfig } from './config.ts';
import {
  Kernel,
  dispatch,
  encodeDispatches,
  flatGrid,
  readBuffer,
  storage,
  timeSubmission,
  writeArray,
  type Constants,
  type Dispatch,
  type Resource,
  type Uniform,
} from './kernel.ts';
import {
  alignFloats,
  METRIC_COLUMNS, METRIC_STRIDE, PARAM_NAMES, STATS, segmentBinding, type ParamLayout, type ParamName,
} from './layout.ts';
import { GEMM_VARIANTS, gemm, gemmApplies, type GemmOptions, type GemmVariant } from './gemm.ts';
import { defaultChoices, stepGemms, type GemmChoices, type GemmRole } from './tuner.ts';
import { foldSae } from './fold.ts';
import { checkFits } from './memory.ts';
import { joinFlats, packShards, shardLayouts, shardsOfSnapshot, splitFlats, unpackShards, type Shard } from './shards.ts';
import { sparseDecode } from './sparse-decode.ts';
import { biasCorrections, l1Coefficient, learningRate } from './schedule.ts';
import type { SaeWeights } from './sae.ts';
import type { KernelVariants, Params32, StepMetrics, TrainerSnapshot } from './run-state.ts';

export interface TrainerOptions {
  /** metrics come back every this many steps (the ring size) */
  metricsEvery?: number;
  /** called with each block of metrics as it arrives, in step order */
  onMetrics?: (rows: StepMetrics[]) => void;
  /** the GEMM variant of each of the step's GEMMs (tuneStep's choices); unset ones use the default */
  gemms?: GemmChoices;
  /**
   * at most this many features per shard (a multiple of 64): by default a shard holds as many as the
   * device's buffer limits allow, so a dictionary is split only where it must be; tests split small ones
   */
  featuresPerShard?: number;
}

const MAX_IN_FLIGHT = 3;

/** The variants of a snapshot, checked against this build; an older snapshot's single variant applies to every GEMM. */
function snapshotVariants(device: GPUDevice, config: TrainConfig, kernels: { matmul: GemmChoices | GemmVariant }): KernelVariants {
  const recorded = kernels.matmul;
  const matmul: GemmChoices = {};
  for (const p of stepGemms(config)) {
    const v = typeof recorded === 'string' ? recorded : recorded[p.role];
    if (v === undefined) continue;
    if (!GEMM_VARIANTS.includes(v) || !gemmApplies(v, p, device.features)) throw new Error(`snapshot used kernel matmul=${v} for ${p.role}, which this build or device does not have`);
    matmul[p.role] = v;
  }
  return { matmul: { ...defaultChoices(config), ...matmul } };
}

export class Trainer {
  /** each shard's flat layout (one shard: the dictionary's) */
  readonly layouts: ParamLayout[];
  readonly history: StepMetrics[] = [];
  private stepIndex = 0;
  private readonly dispatches: Dispatch[];
  private readonly perStep: { write(step: number): void };
  private readonly ringSlots: number;
  private ringStart = 0; // first step whose metrics are still only in the ring
  private readback: Promise<void> = Promise.resolve();
  private readonly buffers: GPUBuffer[] = [];
  private readonly clears: GPUBuffer[] = [];
  private readonly inFlight: Promise<undefined>[] = [];

  private constructor(
    readonly device: GPUDevice,
    readonly config: TrainConfig,
    readonly stats: DataStats,
    /** the dictionary's feature shards (one where it fits the device's buffer limits) */
    readonly shards: Shard[],
    private readonly b: Record<string, GPUBuffer>,
    private readonly options: TrainerOptions,
    readonly variants: KernelVariants,
  ) {
    this.layouts = shardLayouts(config.d, shards);
    this.ringSlots = b.ring!.size / (4 * METRIC_STRIDE);
    const built = buildStep(device, config, stats, shards, this.layouts, b, variants);
    this.dispatches = built.dispatches;
    this.perStep = built;
    this.clears = built.clears;
    this.buffers = Object.values(b);
  }

  static create(device: GPUDevice, config: TrainConfig, stats: DataStats, init: Params32, options: TrainerOptions = {}): Trainer {
    const shards = checkFits(config, device.limits, options.featuresPerShard);
    const b = createBuffers(device, config, shards, options.metricsEvery ?? 50);
    const trainer = new Trainer(device, config, stats, shards, b, options, { matmul: { ...defaultChoices(config), ...options.gemms } });
    trainer.writeParams(init);
    return trainer;
  }

  /** steps done so far (the next step's 0-based index) */
  get stepCount(): number {
    return this.stepIndex;
  }

  /**
   * Submit one step and wait only while more than MAX_IN_FLIGHT steps are queued on the GPU, so a fast
   * producer neither stalls the GPU nor queues unbounded work.
   */
  async step(batch: Float32Array): Promise<void> {
    this.trainStep(batch);
    this.inFlight.push(this.device.queue.onSubmittedWorkDone());
    if (this.inFlight.length > MAX_IN_FLIGHT) await this.inFlight.shift();
  }

  /** Record and submit one training step on a batch of raw rows (B × d). Returns without waiting. */
  trainStep(batch: Float32Array): void {
    const enc = this.beginStep(batch);
    const pass = enc.beginComputePass();
    encodeDispatches(pass, this.dispatches);
    pass.end();
    this.device.queue.submit([enc.finish()]);
    this.endStep();
  }

  /**
   * One step with every dispatch in its own submission, timed to the device's completion: where a step's
   * time goes (benchmarks and kernel work; the step's results are those of trainStep).
   */
  async profileStep(batch: Float32Array): Promise<{ kernel: string; ms: number }[]> {
    this.device.queue.submit([this.beginStep(batch).finish()]);
    const times: { kernel: string; ms: number }[] = [];
    for (const d of this.dispatches) {
      const enc = this.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      encodeDispatches(pass, [d]);
      pass.end();
      times.push({ kernel: d.kernel.label, ms: await timeSubmission(this.device, enc.finish()) });
    }
    this.endStep();
    return times;
  }

  /** Upload the batch and the step's uniforms; an encoder with the step's buffer clears recorded. */
  private beginStep(batch: Float32Array): GPUCommandEncoder {
    const { batch: B, d } = this.config;
    if (batch.length !== B * d) throw new Error(`batch has ${batch.length} values, expected ${B}×${d}`);
    writeArray(this.device, this.b.X!, 0, batch);
    this.perStep.write(this.stepIndex);
    const enc = this.device.createCommandEncoder();
    for (const buf of this.clears) enc.clearBuffer(buf);
    return enc;
  }

  private endStep(): void {
    this.stepIndex++;
    if (this.stepIndex - this.ringStart === this.ringSlots) this.collectMetrics();
  }

  /** Copy the ring's filled slots to a staging buffer and map it later: no stall of the queue. */
  private collectMetrics(): void {
    const from = this.ringStart;
    const count = this.stepIndex - from;
    if (count === 0) return;
    this.ringStart = this.stepIndex;
    const firstSlot = from % this.ringSlots;
    const slotBytes = METRIC_STRIDE * 4;
    const staging = this.device.createBuffer({ size: count * slotBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder();
    // After a restore or a flush at a step that is not a multiple of the ring's size, the slots to read
    // wrap around the ring's end: copy them in two pieces, in step order.
    const head = Math.min(count, this.ringSlots - firstSlot);
    enc.copyBufferToBuffer(this.b.ring!, firstSlot * slotBytes, staging, 0, head * slotBytes);
    if (head < count) enc.copyBufferToBuffer(this.b.ring!, 0, staging, head * slotBytes, (count - head) * slotBytes);
    this.device.queue.submit([enc.finish()]);
    const mapped = staging.mapAsync(GPUMapMode.READ);
    this.readback = this.readback.then(async () => {
      await mapped;
      const data = new Float32Array(staging.getMappedRange().slice(0));
      staging.destroy();
      const rows: StepMetrics[] = [];
      for (let s = 0; s < count; s++) {
        const row = { step: from + s } as StepMetrics;
        METRIC_COLUMNS.forEach((name, c) => (row[name] = data[s * METRIC_STRIDE + c]!));
        rows.push(row);
      }
      this.history.push(...rows);
      this.options.onMetrics?.(rows);
    });
  }

  /** Metrics of every step so far (waits for the GPU). */
  async flushMetrics(): Promise<StepMetrics[]> {
    this.collectMetrics();
    await this.readback;
    return this.history;
  }

  private writeParams(p: Params32): void {
    const { d, features: F } = this.config;
    const want: Record<ParamName, number> = { W_enc: d * F, b_enc: F, W_dec: F * d, b_dec: d };
    for (const name of PARAM_NAMES) if (p[name].length !== want[name]) throw new Error(`${name} has ${p[name].length} values, expected ${want[name]}`);
    this.writeFlats('params', packShards(p, d, this.shards));
  }

  private writeFlats(kind: FlatKind, flats: Float32Array[]): void {
    flats.forEach((flat, s) => writeArray(this.device, this.b[shardName(kind, s)]!, 0, flat));
  }

  /** One flat buffer per shard: parameters, gradients or an Adam moment. */
  private async readFlats(kind: FlatKind): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let s = 0; s < this.shards.length; s++) out.push(new Float32Array(await readBuffer(this.device, this.b[shardName(kind, s)]!)));
    return out;
  }

  private async readTensors(kind: FlatKind): Promise<Params32> {
    return unpackShards(await this.readFlats(kind), this.config.d, this.shards);
  }

  async readParams(): Promise<Params32> {
    return this.readTensors('params');
  }

  /** The gradients of the last step (after projection for TopK, before clipping). */
  async readGrads(): Promise<Params32> {
    return this.readTensors('grads');
  }

  async readAdam(): Promise<{ m: Params32; v: Params32 }> {
    return { m: await this.readTensors('adamM'), v: await this.readTensors('adamV') };
  }

  async readFireStats(): Promise<{ fireCount: Uint32Array; lastFired: Uint32Array }> {
    const F = this.config.features;
    return {
      fireCount: new Uint32Array(await readBuffer(this.device, this.b.fireCount!, 0, F * 4)),
      lastFired: new Uint32Array(await readBuffer(this.device, this.b.lastFired!, 0, F * 4)),
    };
  }

  /** Names of the internal buffers (for tests and debugging: every kernel's output can be inspected). */
  get internalBuffers(): string[] {
    return Object.keys(this.b);
  }

  /** The raw bytes of an internal buffer, e.g. 'f', 'G', 'h', 'lists' (see createBuffers). */
  async readInternal(name: string): Promise<ArrayBuffer> {
    const buf = this.b[name];
    if (!buf) throw new Error(`no internal buffer '${name}'`);
    return readBuffer(this.device, buf);
  }

  /** Fill an internal buffer's range with one float (tests poison outputs with NaN before a step). */
  fillInternal(name: string, value: number, offsetFloats = 0, count?: number): void {
    const buf = this.b[name];
    if (!buf) throw new Error(`no internal buffer '${name}'`);
    const n = count ?? buf.size / 4 - offsetFloats;
    writeArray(this.device, buf, offsetFloats * 4, new Float32Array(n).fill(value));
  }

  async snapshot(): Promise<TrainerSnapshot> {
    await this.flushMetrics();
    const { fireCount, lastFired } = await this.readFireStats();
    return {
      version: 1,
      config: { ...this.config },
      stats: { scale: this.stats.scale, mean: Array.from(this.stats.mean), variance: this.stats.variance },
      step: this.stepIndex,
      kernels: { matmul: { ...this.variants.matmul } },
      params: joinFlats(await this.readFlats('params')),
      adamM: joinFlats(await this.readFlats('adamM')),
      adamV: joinFlats(await this.readFlats('adamV')),
      lastFired,
      fireCount,
      ...(this.shards.length > 1 ? { shards: this.shards.map((s) => s.F) } : {}),
    };
  }

  /** A trainer that continues `snap` exactly where it stopped. */
  static restore(device: GPUDevice, snap: TrainerSnapshot, options: TrainerOptions = {}): Trainer {
    if (snap.version !== 1) throw new Error(`snapshot version ${snap.version} is not supported`);
    const variants = snapshotVariants(device, snap.config, snap.kernels);
    const stats: DataStats = { scale: snap.stats.scale, mean: Float64Array.from(snap.stats.mean), variance: snap.stats.variance };
    // the snapshot's shards (its sums were grouped by them): checkFits makes the same split, or refuses it
    const shards = shardsOfSnapshot(snap.config.features, snap.shards);
    checkFits(snap.config, device.limits, shards[0]!.F);
    const b = createBuffers(device, snap.config, shards, options.metricsEvery ?? 50);
    const trainer = new Trainer(device, snap.config, stats, shards, b, options, variants);
    const d = snap.config.d;
    trainer.writeFlats('params', splitFlats(snap.params, d, shards));
    trainer.writeFlats('adamM', splitFlats(snap.adamM, d, shards));
    trainer.writeFlats('adamV', splitFlats(snap.adamV, d, shards));
    writeArray(device, b.lastFired!, 0, snap.lastFired);
    writeArray(device, b.fireCount!, 0, snap.fireCount);
    trainer.stepIndex = snap.step;
    trainer.ringStart = snap.step;
    return trainer;
  }

  /** The SAE in raw activation units, ready to save the SAELens way (RECIPE §1: the scale folded in). */
  async exportSae(metadata: Record<string, unknown> = {}): Promise<SaeWeights> {
    return foldSae(await this.readParams(), this.config, this.stats.scale, metadata);
  }

  destroy(): void {
    for (const buf of this.buffers) buf.destroy();
  }
}

/** The buffers a feature shard has of its own: shard 0's under these names, shard s's as `name#s`. */
type FlatKind = 'params' | 'grads' | 'adamM' | 'adamV';
function shardName(name: string, s: number): string {
  return s === 0 ? name : `${name}#${s}`;
}

function createBuffers(device: GPUDevice, cfg: TrainConfig, shards: Shard[], ringSlots: number): Record<string, GPUBuffer> {
  const { d, features: F, batch: B } = cfg;
  const S = cfg.k + cfg.kAux;
  const f32 = (label: string, n: number) => storage(device, label, n * 4);
  const layouts = shardLayouts(d, shards);
  const b: Record<string, GPUBuffer> = {
    X: f32('X (B, d) raw batch', B * d),
    Xs: f32("Xs (B, d) x'", B * d),
    Xc: f32('Xc (B, d) encoder input', B * d),
    Xhat: f32("Xhat (B, d) x̂'", B * d),
    rowsq: f32('rowsq (B)', B),
    rowl0: f32('rowl0 (B)', B),
    rowterm: f32('rowterm (B)', B),
    lastFired: f32('lastFired (F)', F),
    fireCount: f32('fireCount (F)', F),
    dead: f32('dead (F)', F),
    stats: f32('stats', STATS.length),
    partial: f32('partial sums', layouts.reduce((n, l) => n + partialCount(l.total), 0) * 64),
    ring: f32('metrics ring', ringSlots * METRIC_STRIDE),
  };
  shards.forEach((sh, s) => {
    const P = layouts[s]!.total;
    const at = shards.length > 1 ? ` (shard ${s}: features ${sh.f0}..${sh.f0 + sh.F - 1})` : '';
    b[shardName('params', s)] = f32(`params${at}`, P);
    b[shardName('grads', s)] = f32(`grads${at}`, P);
    b[shardName('adamM', s)] = f32(`adam m${at}`, P);
    b[shardName('adamV', s)] = f32(`adam v${at}`, P);
    if (cfg.arch === 'standard') {
      b[shardName('f', s)] = f32(`f (B, F)${at}`, B * sh.F);
      b[shardName('dF', s)] = f32(`dF (B, F) ∂L/∂pre${at}`, B * sh.F);
    } else {
      b[shardName('pre', s)] = f32(`pre (B, F)${at}`, B * sh.F);
    }
  });
  if (cfg.arch === 'standard') {
    Object.assign(b, {
      G: f32('G (B, d) ∂L/∂x̂', B * d),
      fsum: f32('fsum (F)', F),
      norms: f32('norms (F)', F),
    });
  } else {
    Object.assign(b, {
      // each row's TopK picks in slots 0..k-1, its AuxK picks in k..S-1: slot = the sparse backward's entry
      picks: f32('picks (B, S)', B * S),
      pvals: f32('pvals (B, S)', B * S),
      // ∂L/∂x̂ (B, d) and, bindable after it, AuxK's Gaux (B, d): the sparse backward reads both as one
      G: f32('G (B, d), then Gaux (B, d)', auxGradOffset(B, d) + B * d),
      Ehat: f32('Ehat (B, d) ê', B * d),
      emean: f32('emean (d)', d),
      rowvar: f32('rowvar (B)', B),
      h: f32('h (B·S)', B * S),
      counts: f32('counts (F)', F),
      cursor: f32('cursor (F)', F),
      offsets: f32('offsets (F+1)', F + 1),
      lists: f32('lists (B·S)', B * S),
      benc: f32('benc (F) ∂b_enc', F),
    });
    if (shards.length > 1) {
      // every shard's best max(k, k_aux) of each row, merged into the picks (topk.merge_topk)
      const C = shards.length * Math.max(cfg.k, cfg.kAux);
      Object.assign(b, { candIdx: f32('shard candidates (B, shards·K)', B * C), candVal: f32('shard candidate values (B, shards·K)', B * C) });
    }
  }
  return b;
}

/** Where Gaux starts in the TopK trainer's G buffer (floats): after G, on a bindable boundary. */
function auxGradOffset(B: number, d: number): number {
  return alignFloats(B * d);
}

const PARTIAL_CHUNK = 4096;
function partialCount(n: number): number {
  return Math.ceil(n / PARTIAL_CHUNK);
}

/**
 * Record the step's dispatches (bind groups made once) and the writer of its per-step uniforms. Per-feature
 * work runs once per feature shard, on the shard's own buffers and its range of the per-feature ones; sums
 * over features (the decoder, per-row statistics, ∂b_dec) add the shards in order. With one shard this is
 * the step of an unsplit dictionary, dispatch for dispatch.
 */
function buildStep(
  device: GPUDevice,
  cfg: TrainConfig,
  stats: DataStats,
  shards: Shard[],
  layouts: ParamLayout[],
  b: Record<string, GPUBuffer>,
  variants: KernelVariants,
): { dispatches: Dispatch[]; clears: GPUBuffer[]; write(step: number): void } {
  const { d, features: F, batch: B, k: K, kAux: KA } = cfg;
  const topk = cfg.arch === 'topk';
  const S = K + KA;
  const split = shards.length > 1;
  const last = shards.length - 1;
  // rows of d floats come in whole vec4s: the vec4 paths of the TopK, sparse and decoder-row kernels apply
  const quads = d % 4 === 0;
  /** A shard's buffers and bindings: its tensors, and its range of each per-feature buffer. */
  const views = shards.map((sh, s) => {
    const seg = (kind: FlatKind, name: ParamName) => segmentBinding(b[shardName(kind, s)]!, layouts[s]![name]);
    return {
      ...sh,
      s,
      W_enc: seg('params', 'W_enc'), b_enc: seg('params', 'b_enc'), W_dec: seg('params', 'W_dec'),
      gW_enc: seg('grads', 'W_enc'), gb_enc: seg('grads', 'b_enc'), gW_dec: seg('grads', 'W_dec'),
      flat: (kind: FlatKind) => b[shardName(kind, s)]!,
      acts: (name: 'f' | 'dF' | 'pre') => b[shardName(name, s)]!,
      /** features f0 .. f0 + F (+ extra) of a per-feature buffer */
      feat: (name: string, extra = 0): GPUBufferBinding => ({ buffer: b[name]!, offset: sh.f0 * 4, size: (sh.F + extra) * 4 }),
    };
  });
  const b_dec = segmentBinding(b[shardName('params', last)]!, layouts[last]!.b_dec);
  const gb_dec = segmentBinding(b[shardName('grads', last)]!, layouts[last]!.b_dec);
  const list: Dispatch[] = [];
  const writers: ((step: number) => void)[] = [];

  const matmul = (role: GemmRole, M: number, N: number, Kd: number, A: Resource, Bm: Resource, C: Resource, o: GemmOptions) =>
    list.push(gemm(device, variants.matmul[role]!, M, N, Kd, A, Bm, C, o, views[0]!.b_enc));
  const colsum = (M: number, N: number, A: GPUBuffer, out: GPUBuffer | GPUBufferBinding) => {
    const k = Kernel.get(device, 'reduce', 'colsum');
    list.push(dispatch(k, { cols: k.uniform('cols', { M, N }).buffer, A, out }, flatGrid(N)));
  };

  // Forward.
  const rowsK = Kernel.get(device, 'rows', 'prepare');
  const rowsU = rowsK.uniform('u', { B, d, scale: stats.scale, center: topk ? 1 : 0, coef: topk ? 2 / (B * stats.variance) : 2 / B });
  list.push(dispatch(rowsK, { u: rowsU.buffer, X: b.X!, b_dec, Xs: b.Xs!, Xc: b.Xc! }, flatGrid(B * d)));

  const stepK = Kernel.get(device, 'stats', 'dead_mask');
  // the step's bookkeeping uniform of each shard (F: the shard's features)
  const stepUs = views.map((v) => {
    const values = (step: number) => ({ B, F: v.F, step, dead_steps: deadSteps(cfg), k: K, slots: S, sparse: topk ? 1 : 0, acc: v.s > 0 ? 1 : 0 });
    const u = stepK.uniform('u', values(0));
    writers.push((step) => u.write(values(step)));
    return u;
  });
  const lossK = Kernel.get(device, 'stats', 'loss');
  const lossValues = (step: number) => ({
    B, F, slot: step % (b.ring!.size / (4 * METRIC_STRIDE)), sparse: topk ? 1 : 0,
    lam: topk ? 0 : l1Coefficient(cfg, step), inv_v: 1 / stats.variance, alpha: cfg.auxAlpha,
  });
  const lossU = lossK.uniform('lu', lossValues(0));
  writers.push((step) => lossU.write(lossValues(step)));
  const residual = () => {
    const k = Kernel.get(device, 'rows', 'residual');
    list.push(dispatch(k, { u: rowsU.buffer, Xhat: b.Xhat!, Xs: b.Xs!, G: b.G!, rowsq: b.rowsq! }, flatGrid(B)));
  };
  const deadMask = () => {
    for (const v of views) list.push(dispatch(stepK, { u: stepUs[v.s]!.buffer, lastFired: v.feat('lastFired'), dead: v.feat('dead') }, flatGrid(v.F)));
  };

  if (!topk) {
    const normsK = Kernel.get(device, 'norms', 'row_norms');
    const shapeUs = views.map((v) => normsK.uniform('u', { F: v.F, d }));
    for (const v of views) list.push(dispatch(normsK, { u: shapeUs[v.s]!.buffer, W_dec: v.W_dec, norms: v.feat('norms') }, flatGrid(v.F)));
    for (const v of views) matmul('encode', B, v.F, d, b.Xs!, v.W_enc, v.acts('f'), { bias: v.b_enc, relu: true });
    for (const v of views) matmul('decode', B, d, v.F, v.acts('f'), v.W_dec, b.Xhat!, v.s === 0 ? { bias: b_dec } : { accumulate: true });
    residual();
    const rs = Kernel.get(device, 'stats', 'row_stats');
    for (const v of views) list.push(dispatch(rs, { u: stepUs[v.s]!.buffer, f: v.acts('f'), norms: v.feat('norms'), val: b.rowsq!, rowl0: b.rowl0!, rowterm: b.rowterm! }, flatGrid(B)));
    deadMask();
    // Backward (RECIPE §1).
    const dpre = Kernel.get(device, 'standard', 'dpre');
    const penaltyUs = views.map((v) => {
      const u = dpre.uniform('u', { B, F: v.F, d, lam_over_B: 0 });
      writers.push((step) => u.write({ B, F: v.F, d, lam_over_B: l1Coefficient(cfg, step) / B }));
      return u;
    });
    const pen = Kernel.get(device, 'standard', 'dec_pen');
    for (const v of views) {
      const penaltyU = penaltyUs[v.s]!.buffer;
      matmul('backprop', B, v.F, d, b.G!, v.W_dec, v.acts('dF'), { transB: true });
      list.push(dispatch(dpre, { u: penaltyU, f: v.acts('f'), norms: v.feat('norms'), dF: v.acts('dF') }, flatGrid(B * v.F)));
      matmul('gradDec', v.F, d, B, v.acts('f'), b.G!, v.gW_dec, { transA: true });
      colsum(B, v.F, v.acts('f'), v.feat('fsum'));
      list.push(dispatch(pen, { u: penaltyU, W_dec: v.W_dec, fsum: v.feat('fsum'), norms: v.feat('norms'), gW_dec: v.gW_dec }, flatGrid(v.F * d)));
    }
    colsum(B, d, b.G!, gb_dec);
    for (const v of views) {
      matmul('gradEnc', d, v.F, B, b.Xs!, v.acts('dF'), v.gW_enc, { transA: true });
      colsum(B, v.F, v.acts('dF'), v.gb_enc);
    }
  } else {
    for (const v of views) matmul('encode', B, v.F, d, b.Xc!, v.W_enc, v.acts('pre'), { bias: v.b_enc });
    deadMask();
    // The main picks fill slots 0..K-1 of each row, AuxK's slots K..S-1. A split dictionary selects per
    // shard (raw values, indices from the shard's first feature), then merges the shards' candidates.
    const select = (masked: boolean, count: number, offset: number) => {
      const k = Kernel.get(device, 'topk', 'select_topk', { MASKED: masked, QUADS: F % 4 === 0 });
      const C = shards.length * count; // candidates per row: each shard's best `count`
      for (const v of views) {
        const su = k.uniform('su', split
          ? { B, F: v.F, K: count, stride: C, offset: v.s * count, base: v.f0, raw: 1 }
          : { B, F, K: count, stride: S, offset });
        const out = split ? { idx: b.candIdx!, val: b.candVal! } : { idx: b.picks!, val: b.pvals! };
        const dead = v.feat('dead');
        list.push(dispatch(k, { su: su.buffer, pre: v.acts('pre'), pre4: v.acts('pre'), dead, dead4: dead, ...out }, flatGrid(B)));
      }
      if (split) {
        const m = Kernel.get(device, 'topk', 'merge_topk');
        const su = m.uniform('su', { B, F: C, K: count, stride: S, offset });
        list.push(dispatch(m, { su: su.buffer, cand_idx: b.candIdx!, cand_val: b.candVal!, idx: b.picks!, val: b.pvals! }, flatGrid(B)));
      }
    };
    select(false, K, 0);
    select(true, KA, K);
    const decode = (bias: boolean, count: number, offset: number, out: GPUBuffer) => {
      for (const v of views) {
        const shard = split ? { f0: v.f0, F: v.F, accumulate: v.s > 0 } : undefined;
        const o = { rows: B, d, K: count, stride: S, offset, bias: bias && v.s === 0, ...(shard ? { shard } : {}) };
        list.push(sparseDecode(device, o, { sidx: b.picks!, sval: b.pvals!, W_dec: v.W_dec, b_dec, Xhat: out }).dispatch);
      }
    };
    decode(true, K, 0, b.Xhat!);
    residual();
    const rs = Kernel.get(device, 'stats', 'row_stats');
    list.push(dispatch(rs, { u: stepUs[0]!.buffer, f: views[0]!.acts('pre'), norms: b.rowsq!, val: b.pvals!, rowl0: b.rowl0!, rowterm: b.rowterm! }, flatGrid(B)));
    // AuxK (RECIPE §2): reconstruct the main residual from the dead latents.
    decode(false, KA, K, b.Ehat!);
    const auxMean = Kernel.get(device, 'topk', 'aux_mean');
    const au = auxMean.uniform('au', { B, d, F, alpha: cfg.auxAlpha });
    const aux = { au: au.buffer, Xs: b.Xs!, Xh: b.Xhat!, Eh: b.Ehat! };
    list.push(dispatch(auxMean, { ...aux, emean: b.emean! }, flatGrid(d)));
    list.push(dispatch(Kernel.get(device, 'topk', 'aux_rows'), { ...aux, emean_in: b.emean!, rowvar: b.rowvar!, rowaux: b.rowterm! }, flatGrid(B)));
    list.push(dispatch(Kernel.get(device, 'topk', 'aux_scale'), { au: au.buffer, rowvar_in: b.rowvar!, dead_in: b.dead!, stats: b.stats! }, [1]));
    const auxG = auxGradOffset(B, d);
    const Gaux = { buffer: b.G!, offset: auxG * 4, size: B * d * 4 };
    list.push(dispatch(Kernel.get(device, 'topk', 'aux_grad'), { ...aux, stats_in: b.stats!, Gaux }, flatGrid(B * d)));
    // Backward, sparse: group the kept entries by feature, then sum each group in order.
    const sp = (entry: string, constants: Constants = {}) => Kernel.get(device, 'sparse', entry, constants);
    // the whole dictionary's uniform (grouping), and each shard's (its features from f0)
    const spU = sp('count').uniform('u', { B, d, F, K, KA, aux_g: auxG, f0: 0 });
    const shardUs = split ? views.map((v) => sp('count').uniform('u', { B, d, F: v.F, K, KA, aux_g: auxG, f0: v.f0 })) : [spU];
    const picksOf = (u: Uniform) => ({ u: u.buffer, picks: b.picks!, pvals: b.pvals!, gvec: b.G!, gvec4: b.G! });
    const groupsOf = (v: (typeof views)[number]) => ({ u: shardUs[v.s]!.buffer, offsets_in: v.feat('offsets', 1), lists_in: b.lists! });
    for (const v of views) {
      const picks = picksOf(shardUs[v.s]!);
      if (quads && K % 4 === 0 && KA % 4 === 0) {
        list.push(dispatch(sp('h_quads'), { ...picks, W_dec4: v.W_dec, h: b.h! }, flatGrid(B * S / 4, 256)));
      } else {
        list.push(dispatch(sp('h_entries', { QUADS: quads }), { ...picks, W_dec: v.W_dec, W_dec4: v.W_dec, h: b.h! }, flatGrid(B * S, 256)));
      }
    }
    const picks = picksOf(spU);
    list.push(dispatch(sp('count'), { ...picks, counts: b.counts! }, flatGrid(B * S)));
    list.push(dispatch(sp('scan'), { u: spU.buffer, counts_in: b.counts!, offsets: b.offsets! }, [1]));
    list.push(dispatch(sp('scatter'), { ...picks, offsets_in: b.offsets!, cursor: b.cursor!, lists: b.lists! }, flatGrid(B * S)));
    list.push(dispatch(sp('sort_lists'), { u: spU.buffer, offsets_in: b.offsets!, lists: b.lists! }, flatGrid(F)));
    const project = Kernel.get(device, 'norms', quads ? 'project4' : 'project');
    for (const v of views) {
      // Per-feature sums: where QUADS, 32 columns per invocation (the lanes run together then read 512
      // contiguous bytes of each entry's row), else 8.
      const featureRuns = (cols: number) => v.F * Math.ceil(d / cols);
      const groups = groupsOf(v);
      const own = picksOf(shardUs[v.s]!);
      list.push(quads
        ? dispatch(sp('dwdec_wide'), { ...own, ...groups, gW_dec: v.gW_dec }, flatGrid(featureRuns(32)))
        : dispatch(sp('dwdec'), { ...own, ...groups, gW_dec: v.gW_dec }, flatGrid(featureRuns(8), 256)));
      const shapeU = project.uniform('u', { F: v.F, d });
      list.push(dispatch(project, quads ? { u: shapeU.buffer, W_dec4: v.W_dec, gW_dec4: v.gW_dec } : { u: shapeU.buffer, W_dec: v.W_dec, gW_dec: v.gW_dec }, flatGrid(v.F)));
      list.push(quads
        // dwenc_wide's lane groups of 4 runs: a whole number of them per feature
        ? dispatch(sp('dwenc_wide'), { ...groups, h_in: b.h!, Xc4: b.Xc!, gW_enc: v.gW_enc }, flatGrid(featureRuns(128) * 4))
        : dispatch(sp('dwenc'), { ...groups, h_in: b.h!, Xc: b.Xc!, gW_enc: v.gW_enc }, flatGrid(featureRuns(8), 256)));
      list.push(dispatch(sp('dbenc'), { ...groups, h_in: b.h!, gb_enc: v.gb_enc, benc: v.feat('benc') }, flatGrid(v.F)));
    }
    for (const v of views) {
      const k = sp('dbdec', { F_QUADS: v.F % 4 === 0, ...(v.s > 0 ? { ACCUMULATE: true } : {}) });
      const benc = v.feat('benc');
      list.push(dispatch(k, { u: shardUs[v.s]!.buffer, gvec: b.G!, W_enc: v.W_enc, W_enc4: v.W_enc, benc_in: benc, benc4: benc, gb_dec }, flatGrid(d)));
    }
  }

  // Global gradient norm (and the clip factor) over every shard's gradients, then Adam over each shard's
  // parameters in one dispatch.
  const partials = Kernel.get(device, 'reduce', 'sumsq_partials');
  let parts = 0;
  for (const v of views) {
    const P = layouts[v.s]!.total;
    const flatU = partials.uniform('flat', { n: P, chunk: PARTIAL_CHUNK, parts: partialCount(P), clip: 0 });
    const partial = { buffer: b.partial!, offset: parts * 64 * 4, size: partialCount(P) * 64 * 4 };
    list.push(dispatch(partials, { flat: flatU.buffer, values: v.flat('grads'), partial }, [partialCount(P)]));
    parts += partialCount(P);
  }
  const clip = Kernel.get(device, 'reduce', 'clip');
  const clipU = clip.uniform('flat', { n: 0, chunk: PARTIAL_CHUNK, parts, clip: topk ? 0 : CLIP_NORM });
  list.push(dispatch(clip, { flat: clipU.buffer, partial: b.partial!, stats: b.stats! }, [1]));
  const adam = Kernel.get(device, 'adam', 'main');
  for (const v of views) {
    const n = layouts[v.s]!.total;
    const values = (step: number) => {
      const { bc1, bc2 } = biasCorrections(step);
      return { n, lr_over_bc1: learningRate(cfg, step) / bc1, sqrt_bc2: Math.sqrt(bc2), beta1: ADAM.beta1, beta2: ADAM.beta2, eps: ADAM_EPS[cfg.arch] };
    };
    const adamU = adam.uniform('u', values(0));
    writers.push((step) => adamU.write(values(step)));
    list.push(dispatch(adam, { u: adamU.buffer, grads: v.flat('grads'), stats: b.stats!, params: v.flat('params'), m1: v.flat('adamM'), m2: v.flat('adamV') }, flatGrid(n / 4, 256)));
  }
  for (const v of views) {
    const u = stepUs[v.s]!.buffer;
    const fired = { fireCount: v.feat('fireCount'), lastFired: v.feat('lastFired') };
    if (topk) {
      const renorm = Kernel.get(device, 'norms', quads ? 'renorm4' : 'renorm');
      list.push(dispatch(renorm, { u: renorm.uniform('u', { F: v.F, d }).buffer, W: v.W_dec, W4: v.W_dec }, flatGrid(v.F)));
      list.push(dispatch(Kernel.get(device, 'stats', 'fire_sparse'), { u, offsets: v.feat('offsets', 1), lists: b.lists!, ...fired }, flatGrid(v.F)));
    } else {
      list.push(dispatch(Kernel.get(device, 'stats', 'fire_dense'), { u, f: v.acts('f'), ...fired }, flatGrid(v.F)));
    }
  }
  list.push(dispatch(lossK, {
    lu: lossU.buffer, rowsq: b.rowsq!, rowl0_in: b.rowl0!, rowterm_in: b.rowterm!, dead_in: b.dead!, stats: b.stats!, ring: b.ring!,
  }, [1]));

  return {
    dispatches: list,
    clears: topk ? [b.counts!, b.cursor!] : [],
    write(step: number) {
      for (const w of writers) w(step);
    },
  };
}
