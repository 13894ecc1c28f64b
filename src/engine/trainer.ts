// The GPU trainer: one readable step, recorded as a list of dispatches once and replayed every step.
// A step is: upload the batch → one compute pass (forward, loss, backward, norm, Adam, fire stats) → submit.
// Nothing is read back inside a step; metrics land in a ring on the GPU and come back asynchronously.
import { deadSteps, type DataStats, type TrainConfig } from './config.ts';
import { Kernel, dispatch, encodeDispatches, flatGrid, readBuffer, storage, timeSubmission, writeArray, type Dispatch } from './kernel.ts';
import { METRIC_COLUMNS, METRIC_STRIDE, PARAM_NAMES, STATS, segmentBinding, type ParamLayout, type ParamName } from './layout.ts';
import { GEMM_VARIANTS, gemm, gemmApplies, type GemmVariant } from './gemm.ts';
import { defaultChoices, stepGemms, type GemmChoices } from './tuner.ts';
import { foldSae } from './fold.ts';
import { checkFits } from './memory.ts';
import { joinFlats, packShards, shardLayouts, shardsOfSnapshot, splitFlats, unpackShards, type Shard } from './shards.ts';
import { adamValues } from './schedule.ts';
import type { SaeWeights } from './sae.ts';
import type { KernelVariants, Params32, StepMetrics, TrainerSnapshot } from './run-state.ts';
import { ARCH_STEPS, type StepContext } from './steps/index.ts';
import { shardName, type FlatKind, type ShardView } from './steps/context.ts';

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
    trainer.writeState(ARCH_STEPS[config.arch].state?.init(config) ?? {});
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

  /** the architecture's own state buffers (JumpReLU's thresholds and their Adam moments) */
  private writeState(state: Record<string, Float32Array>): void {
    for (const [name, data] of Object.entries(state)) {
      const buf = this.b[name];
      if (!buf || data.byteLength > buf.size) throw new Error(`no state buffer '${name}' of ${data.length} values`);
      writeArray(this.device, buf, 0, data);
    }
  }

  /** the architecture's own state, as snapshots keep it */
  async readState(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const name of ARCH_STEPS[this.config.arch].state?.names ?? []) out[name] = new Float32Array(await readBuffer(this.device, this.b[name]!));
    return out;
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
      ...(ARCH_STEPS[this.config.arch].state ? { state: await this.readState() } : {}),
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
    const names = ARCH_STEPS[snap.config.arch].state?.names ?? [];
    const missing = names.filter((n) => !snap.state?.[n]);
    if (missing.length) throw new Error(`a ${snap.config.arch} snapshot needs its ${missing.join(', ')}; this one has none`);
    trainer.writeState(snap.state ?? {});
    trainer.stepIndex = snap.step;
    trainer.ringStart = snap.step;
    return trainer;
  }

  /** The SAE in raw activation units, ready to save the SAELens way (RECIPE §1: the scale folded in). */
  async exportSae(metadata: Record<string, unknown> = {}): Promise<SaeWeights> {
    return foldSae(await this.readParams(), this.config, this.stats.scale, metadata, await this.readState());
  }

  destroy(): void {
    for (const buf of this.buffers) buf.destroy();
  }
}

function createBuffers(device: GPUDevice, cfg: TrainConfig, shards: Shard[], ringSlots: number): Record<string, GPUBuffer> {
  const { d, features: F, batch: B } = cfg;
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
    rowinner: f32('rowinner (B) Matryoshka\'s inner reconstructions, else 0', B),
    lastFired: f32('lastFired (F)', F),
    fireCount: f32('fireCount (F)', F),
    dead: f32('dead (F)', F),
    stats: f32('stats', STATS.length),
    partial: f32('partial sums', layouts.reduce((n, l) => n + partialCount(l.total), 0) * 64),
    ring: f32('metrics ring', ringSlots * METRIC_STRIDE),
  };
  const own = ARCH_STEPS[cfg.arch].buffers(cfg, shards.map((sh) => sh.F));
  shards.forEach((sh, s) => {
    const P = layouts[s]!.total;
    const at = shards.length > 1 ? ` (shard ${s}: features ${sh.f0}..${sh.f0 + sh.F - 1})` : '';
    b[shardName('params', s)] = f32(`params${at}`, P);
    b[shardName('grads', s)] = f32(`grads${at}`, P);
    b[shardName('adamM', s)] = f32(`adam m${at}`, P);
    b[shardName('adamV', s)] = f32(`adam v${at}`, P);
    for (const [name, [label, n]] of Object.entries(own.perShard(sh.F))) b[shardName(name, s)] = f32(`${label}${at}`, n);
  });
  for (const [name, [label, n]] of Object.entries(own.shared)) b[name] = f32(label, n);
  return b;
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
  const { d, features: F, batch: B } = cfg;
  const arch = ARCH_STEPS[cfg.arch];
  const last = shards.length - 1;
  const views: ShardView[] = shards.map((sh, s) => {
    const seg = (kind: FlatKind, name: ParamName) => segmentBinding(b[shardName(kind, s)]!, layouts[s]![name]);
    return {
      ...sh,
      s,
      W_enc: seg('params', 'W_enc'), b_enc: seg('params', 'b_enc'), W_dec: seg('params', 'W_dec'),
      gW_enc: seg('grads', 'W_enc'), gb_enc: seg('grads', 'b_enc'), gW_dec: seg('grads', 'W_dec'),
      flat: (kind: FlatKind) => b[shardName(kind, s)]!,
      acts: (name: string) => b[shardName(name, s)]!,
      feat: (name: string, extra = 0): GPUBufferBinding => ({ buffer: b[name]!, offset: sh.f0 * 4, size: (sh.F + extra) * 4 }),
    };
  });
  const b_dec = segmentBinding(b[shardName('params', last)]!, layouts[last]!.b_dec);
  const gb_dec = segmentBinding(b[shardName('grads', last)]!, layouts[last]!.b_dec);
  const list: Dispatch[] = [];
  const writers: ((step: number) => void)[] = [];

  // Forward: x' = s·x, and the encoder's input (x' − b_dec where the architecture centres).
  const rowsK = Kernel.get(device, 'rows', 'prepare');
  const rowsU = rowsK.uniform('u', { B, d, scale: stats.scale, center: arch.center ? 1 : 0, coef: arch.residualCoef(cfg, stats) });
  list.push(dispatch(rowsK, { u: rowsU.buffer, X: b.X!, b_dec, Xs: b.Xs!, Xc: b.Xc! }, flatGrid(B * d)));

  const stepK = Kernel.get(device, 'stats', 'dead_mask');
  const sparse = arch.lossTerms(cfg, 0).sparse;
  // the step's bookkeeping uniform of each shard (F: the shard's features)
  const stepUs = views.map((v) => {
    const { k, S } = arch.slots?.(cfg) ?? { k: cfg.k, S: cfg.k + cfg.kAux };
    const values = (step: number) => ({ B, F: v.F, step, dead_steps: deadSteps(cfg), k, slots: S, sparse, acc: v.s > 0 ? 1 : 0 });
    const u = stepK.uniform('u', values(0));
    writers.push((step) => u.write(values(step)));
    return u;
  });
  const lossK = Kernel.get(device, 'stats', 'loss');
  const lossValues = (step: number) => ({
    B, F, slot: step % (b.ring!.size / (4 * METRIC_STRIDE)), ...arch.lossTerms(cfg, step), inv_v: 1 / stats.variance, alpha: cfg.auxAlpha,
  });
  const lossU = lossK.uniform('lu', lossValues(0));
  writers.push((step) => lossU.write(lossValues(step)));
  const ctx: StepContext = {
    device, cfg, stats, shards, layouts, b, views, b_dec, gb_dec, variants, list, writers, stepUs,
    quads: d % 4 === 0,
    matmul: (role, M, N, Kd, A, Bm, C, o) => list.push(gemm(device, variants.matmul[role]!, M, N, Kd, A, Bm, C, o, views[0]!.b_enc)),
    colsum(M, N, A, out) {
      const k = Kernel.get(device, 'reduce', 'colsum');
      list.push(dispatch(k, { cols: k.uniform('cols', { M, N }).buffer, A, out }, flatGrid(N)));
    },
    residual() {
      const k = Kernel.get(device, 'rows', 'residual');
      list.push(dispatch(k, { u: rowsU.buffer, Xhat: b.Xhat!, Xs: b.Xs!, G: b.G!, rowsq: b.rowsq! }, flatGrid(B)));
    },
    deadMask() {
      for (const v of views) list.push(dispatch(stepK, { u: stepUs[v.s]!.buffer, lastFired: v.feat('lastFired'), dead: v.feat('dead') }, flatGrid(v.F)));
    },
    adam(n, bufs) {
      const k = Kernel.get(device, 'adam', 'main');
      const u = k.uniform('u', adamValues(cfg, 0, n));
      writers.push((step) => u.write(adamValues(cfg, step, n)));
      list.push(dispatch(k, { u: u.buffer, stats: b.stats!, ...bufs }, flatGrid(n / 4, 256)));
    },
  };
  arch.record(ctx);

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
  const clipU = clip.uniform('flat', { n: 0, chunk: PARTIAL_CHUNK, parts, clip: arch.clip });
  list.push(dispatch(clip, { flat: clipU.buffer, partial: b.partial!, stats: b.stats! }, [1]));
  for (const v of views) ctx.adam(layouts[v.s]!.total, { grads: v.flat('grads'), params: v.flat('params'), m1: v.flat('adamM'), m2: v.flat('adamV') });
  arch.finish(ctx);
  list.push(dispatch(lossK, {
    lu: lossU.buffer, rowsq: b.rowsq!, rowl0_in: b.rowl0!, rowterm_in: b.rowterm!, rowinner_in: b.rowinner!, dead_in: b.dead!,
    stats: b.stats!, ring: b.ring!,
  }, [1]));

  return {
    dispatches: list,
    // rowinner stays 0 but for Matryoshka, which writes every row
    clears: [...arch.clears(b), b.rowinner!],
    write(step: number) {
      for (const w of writers) w(step);
    },
  };
}
