// The GPU worker's entry: owns the device and runs training on datasets streamed from IndexedDB.
// Exposes GpuApi (src/worker/api.ts) over comlink; progress goes back through a proxied callback.
// Every run is checkpointed (the trainer's snapshot and the metric history) every CHECKPOINT_STEPS steps
// and when paused, and holds a Web Lock while it trains, so two tabs can never train one run at once.
// GPU jobs (training, evaluating an SAE, measuring the step time) go through one queue (gpu-queue.ts);
// training lets waiting jobs through between steps. At each checkpoint the run also sends the live views of
// its dictionary: density, decoder norms, born features and, now and then, the neighbour graph for the map.
import { expose, transfer } from 'comlink';
import { densityHistogram } from '../analysis/density.ts';
import { decoderNormHistogram } from '../analysis/decoder-norms.ts';
import { newlyBorn, topLabels, type BornFeature } from '../analysis/born.ts';
import type { RowSource } from '../data/sources.ts';
import { decoderFits, decoderNeighbours } from '../engine/neighbours.ts';
import { unzipSync, zipSync } from 'fflate';
import { createBatchSource, rangeChunks } from '../data/batches.ts';
import { BatchPrefetcher } from '../data/prefetch.ts';
import { decodeSaelens, encodeSaelens } from '../data/formats/saelens.ts';
import { RunStore, type RunRecord } from '../data/runs.ts';
import { openStore, type DatasetStore } from '../data/store.ts';
import { defaultConfig, type TrainConfig } from '../engine/config.ts';
import { describeAdapter, requestBrowserDevice } from '../engine/device.ts';
import { SaeRunner } from '../engine/evaluate.ts';
import { foldSae, snapshotParams } from '../engine/fold.ts';
import { initParams } from '../engine/init.ts';
import { checkFits } from '../engine/memory.ts';
import { Trainer, type StepMetrics, type TrainerSnapshot } from '../engine/trainer.ts';
import { describeKernels, tuneStep } from '../engine/tuner.ts';
import { idbTunerCache } from '../data/tuner-cache.ts';
import { GpuQueue } from './gpu-queue.ts';
import { featureSplitting, orderFamilies } from '../analysis/splitting.ts';
import { computeFeatures, exportFeatureJson, featureCard, type FeatureJobProgress } from './feature-job.ts';
import type { SaeWeights } from '../engine/sae.ts';
import { HARVEST_LAYERS, LAYER_NODES, type HarvestLayer } from '../data/harvest/model.ts';
import type { GpuApi, TrainOutcome, TrainProgress, TrainRequest } from './api.ts';

const REPORT_MS = 250;

const LOOSE = '';

/** cfg.json and sae_weights.safetensors from a SAELens folder's files or from a .zip of it. */
async function saeFiles(files: File[]): Promise<{ name: string; cfg: string; weights: Uint8Array }> {
  let entries: Record<string, Uint8Array> = {};
  let name = files[0]?.name ?? 'sae';
  if (files.length === 1 && files[0]!.name.toLowerCase().endsWith('.zip')) {
    entries = unzipSync(new Uint8Array(await files[0]!.arrayBuffer()));
    name = name.replace(/\.zip$/i, '');
  } else {
    for (const f of files) entries[f.webkitRelativePath || f.name] = new Uint8Array(await f.arrayBuffer());
    name = files[0]?.webkitRelativePath.split('/')[0] || LOOSE;
  }
  const find = (file: string) => Object.keys(entries).find((k) => k === file || k.endsWith(`/${file}`));
  const cfg = find('cfg.json');
  const weights = find('sae_weights.safetensors');
  if (!cfg || !weights) throw new Error(`${name || files[0]?.name}: a SAELens SAE needs cfg.json and sae_weights.safetensors (found: ${Object.keys(entries).join(', ') || 'nothing'})`);
  return { name, cfg: new TextDecoder().decode(entries[cfg]), weights: entries[weights]! };
}
const CHECKPOINT_STEPS = 50;
const PREFETCH_DEPTH = 2;
const MAP_EVERY_MS = 10_000;
const MAP_NEIGHBOURS = 15;
const BORN_SHOWN = 12;
/** rows of the born-features strip's token sample: SAMPLE_RUNS runs of SAMPLE_RUN consecutive rows, spread over the dataset */
const SAMPLE_RUNS = 16;
const SAMPLE_RUN = 64;

interface ContextSample {
  x: Float32Array;
  /** the token of each sample row */
  labels: string[];
}

/** A fixed sample of the dataset's rows with their tokens, spread evenly over it, for the born-features strip. */
async function contextSample(store: DatasetStore, id: string, rows: RowSource): Promise<ContextSample | undefined> {
  const ctx = await store.readContext(id);
  if (!ctx) return undefined;
  const runs = Math.max(1, Math.min(SAMPLE_RUNS, Math.floor(rows.rows / SAMPLE_RUN)));
  const len = Math.min(SAMPLE_RUN, rows.rows);
  const starts = Array.from({ length: runs }, (_, i) => Math.floor((i * (rows.rows - len)) / Math.max(1, runs - 1)));
  const x = new Float32Array(runs * len * rows.d);
  const labels: string[] = [];
  for (const [i, start] of starts.entries()) {
    x.set(await rows.readRows(start, len), i * len * rows.d);
    for (let r = start; r < start + len; r++) labels.push(ctx.strings[ctx.token[r]!]!);
  }
  return { x, labels };
}

/** The newly born features with their strongest tokens in the sample (none without token context). */
async function bornFeatures(dev: GPUDevice, snap: TrainerSnapshot, features: number[], sample: ContextSample | null): Promise<BornFeature[]> {
  const fires = (f: number) => snap.fireCount[f]!;
  if (!sample) return features.map((feature) => ({ feature, step: snap.step, fires: fires(feature), tokens: [] }));
  const runner = new SaeRunner(dev, foldSae(snapshotParams(snap), snap.config, snap.stats.scale), SAMPLE_RUN);
  try {
    const F = snap.config.features;
    const d = snap.config.d;
    const n = sample.labels.length;
    const cols = new Float32Array(n * features.length); // only the born features' columns are kept
    for (let r0 = 0; r0 < n; r0 += SAMPLE_RUN) {
      const { acts } = await runner.forward(sample.x.subarray(r0 * d, Math.min(n, r0 + SAMPLE_RUN) * d));
      for (let r = 0; r < acts.length / F; r++) features.forEach((f, j) => (cols[(r0 + r) * features.length + j] = acts[r * F + f]!));
    }
    const tokens = topLabels(cols, features.length, features.map((_, j) => j), sample.labels);
    return features.map((feature, j) => ({ feature, step: snap.step, fires: fires(feature), tokens: tokens[j]! }));
  } finally {
    runner.destroy();
  }
}

let device: Promise<{ device: GPUDevice; adapter: string }> | undefined;
let datasets: Promise<DatasetStore> | undefined;
let runs: Promise<RunStore> | undefined;
let stopping = false;
/** one job on the device at a time; training lets the others through between its steps */
const jobs = new GpuQueue();

async function getDevice(): Promise<{ device: GPUDevice; adapter: string }> {
  device ??= requestBrowserDevice().then(({ device, adapter }) => ({ device, adapter: describeAdapter(adapter.info) }));
  return device;
}

const getRuns = () => (runs ??= RunStore.open());

/** Runs `work` holding the run's Web Lock; refuses when another tab holds it. */
async function withRunLock<T>(runId: string, work: () => Promise<T>): Promise<T> {
  if (!('locks' in navigator)) return work();
  return navigator.locks.request(`sae-lab-run:${runId}`, { ifAvailable: true }, async (lock) => {
    if (!lock) throw new Error('this run is training in another tab');
    return work();
  }) as Promise<T>;
}

/** The device went away mid-run (driver reset, GPU process crash, or destroy()). */
class DeviceLostError extends Error {}

/** Trains `run` from its checkpoint, re-acquiring the device and resuming from the last checkpoint when it is lost. */
async function trainResilient(run: RunRecord, onProgress: (p: TrainProgress) => void): Promise<TrainOutcome> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await trainRun(run, onProgress);
    } catch (e) {
      if (!(e instanceof DeviceLostError) || attempt >= MAX_DEVICE_LOSSES) throw e;
      device = undefined; // the next getDevice() asks the adapter again
      const saved = await (await getRuns()).get(run.id);
      Object.assign(run, saved);
      // The page may lack metrics the lost trainer never reported: hand it the checkpoint's whole history.
      onProgress({ runId: run.id, step: run.step, steps: run.config.steps, metrics: [], tokensPerS: 0, history: run.history, notice: `the GPU device was lost (${e.message}); resumed from the checkpoint at step ${run.step}` });
    }
  }
}

const MAX_DEVICE_LOSSES = 3;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Trains `run` from its checkpoint (or from its initialisation when it has none) until done or stopped. */
async function trainRun(run: RunRecord, onProgress: (p: TrainProgress) => void): Promise<TrainOutcome> {
  const { device: dev, adapter } = await getDevice();
  let lost: string | undefined;
  void dev.lost.then((info) => (lost = info.message || info.reason || 'lost'));
  const store = await (datasets ??= openStore());
  const manifest = await store.get(run.datasetId);
  if (!manifest || manifest.status !== 'complete') throw new Error(`dataset '${run.datasetName}' is no longer stored`);
  const rows = await store.rowSource(manifest.id);
  const cfg = run.config;
  checkFits(cfg, dev.limits);
  const split = await store.split(manifest.id);
  const batches = createBatchSource(rows, split.trainBlocks, cfg.batch, cfg.seed);
  const history = [...run.history]; // every step's metrics, checkpointed with the run
  let unsent: StepMetrics[] = []; // not yet reported to the page
  let diverged: StepMetrics | undefined;
  const options = {
    metricsEvery: 10,
    onMetrics: (m: StepMetrics[]) => {
      diverged ??= m.find((x) => !Number.isFinite(x.loss));
      history.push(...m);
      unsent.push(...m);
    },
  };
  let trainer: Trainer;
  if (run.snapshot) {
    trainer = Trainer.restore(dev, run.snapshot, options);
  } else {
    const stats = await store.dataStats(manifest.id);
    // The start-up tuner: the first run of these shapes on this adapter times the GEMM variants (seconds on a
    // software adapter), later ones read its choices from IndexedDB. The snapshot records what was used.
    onProgress({ runId: run.id, step: 0, steps: cfg.steps, metrics: [], tokensPerS: 0, kernels: 'choosing GEMM kernels for this adapter…' });
    const tuning = await tuneStep(dev, adapter, cfg, idbTunerCache());
    trainer = Trainer.create(dev, cfg, stats, initParams(cfg, stats), { ...options, gemms: tuning.choices });
  }
  onProgress({ runId: run.id, step: trainer.stepCount, steps: cfg.steps, metrics: [], tokensPerS: 0, kernels: describeKernels(trainer.variants) });
  const runsDb = await getRuns();
  /** Stops on a lost device or a diverged loss; a diverged run keeps its last good checkpoint. */
  const check = async () => {
    if (lost) throw new DeviceLostError(lost);
    if (diverged) {
      const message = `training diverged at step ${diverged.step} (loss ${diverged.loss}); the run is back at its last good checkpoint (step ${run.step}). Lower the learning rate and start again.`;
      const saved = await runsDb.get(run.id);
      await runsDb.put({ ...(saved ?? run), status: 'failed', error: message });
      throw new Error(message);
    }
  };
  let lastMap: number | undefined;
  // The map's neighbour search binds W_dec whole: a dictionary whose W_dec passes one buffer trains
  // without the map.
  const mapFits = decoderFits(cfg.features, cfg.d, dev.limits);
  const sample = manifest.hasContext ? await contextSample(store, manifest.id, rows) : undefined;
  let counted = run.snapshot ? { step: run.snapshot.step, fireCount: run.snapshot.fireCount } : null;
  const checkpoint = async (status: RunRecord['status']) => {
    const snapshot = await trainer.snapshot(); // waits for the GPU and every metric up to this step
    await check(); // never checkpoint a diverged state
    Object.assign(run, { snapshot, step: snapshot.step, history: history.slice(0, snapshot.step), status });
    await runsDb.put(run);
    // Views of the dictionary since the last checkpoint: feature density from the GPU's fire counters and
    // the decoder norms every time; the neighbour graph for the map at the first and last checkpoints and
    // at most every MAP_EVERY_MS between them (on a slow adapter it costs about a second).
    const since = counted?.step ?? 0;
    if (snapshot.step > since) {
      const tokens = (snapshot.step - since) * cfg.batch;
      const density = densityHistogram(snapshot.fireCount, counted?.fireCount ?? null, tokens, snapshot.step);
      const { W_dec } = snapshotParams(snapshot);
      const decoderNorms = decoderNormHistogram(W_dec, cfg.features, cfg.d, snapshot.step);
      const views: TrainProgress = { runId: run.id, step: snapshot.step, steps: cfg.steps, metrics: [], tokensPerS: 0, density, decoderNorms };
      const born = newlyBorn(counted?.fireCount ?? null, snapshot.fireCount);
      if (born.length) views.born = { step: snapshot.step, total: born.length, shown: await bornFeatures(dev, snapshot, born.slice(0, BORN_SHOWN), sample ?? null) };
      if (mapFits && cfg.features >= 2 && (lastMap === undefined || status !== 'running' || performance.now() - lastMap >= MAP_EVERY_MS)) {
        lastMap = performance.now();
        const K = Math.min(MAP_NEIGHBOURS, cfg.features - 1);
        const { idx, sim } = await decoderNeighbours(dev, W_dec, cfg.features, cfg.d, K);
        const fired = Float32Array.from(snapshot.fireCount, (c, i) => Math.log10((c - (counted?.fireCount[i] ?? 0)) / tokens + 1e-10));
        views.neighbours = { step: snapshot.step, graph: { idx, sim, F: cfg.features, K }, density: fired };
      }
      onProgress(views);
    }
    counted = { step: snapshot.step, fireCount: snapshot.fireCount };
  };
  stopping = false;
  const first = trainer.stepCount;
  const t0 = performance.now();
  let lastReport = 0;
  // Batches are read PREFETCH_DEPTH steps ahead while the GPU works through the steps already queued.
  const stream = new BatchPrefetcher(batches, first, cfg.steps, PREFETCH_DEPTH);
  const report = (step: number) => {
    const tokensPerS = ((step - first) * cfg.batch * 1000) / (performance.now() - t0);
    onProgress({ runId: run.id, step, steps: cfg.steps, metrics: unsent, tokensPerS, stream: stream.stats() });
    unsent = [];
  };
  try {
    run.status = 'running';
    await runsDb.put(run);
    for (let step = first; step < cfg.steps && !stopping; step++) {
      const batch = await stream.take();
      await jobs.yieldTo(); // an evaluation or measurement asked for mid-run goes between two steps
      await trainer.step(batch);
      await check();
      // the last step's checkpoint is the final one, below
      if ((step + 1) % CHECKPOINT_STEPS === 0 && step + 1 < cfg.steps) await checkpoint('running');
      if (performance.now() - lastReport > REPORT_MS) {
        lastReport = performance.now();
        report(step + 1);
      }
    }
    const done = trainer.stepCount >= cfg.steps;
    await trainer.flushMetrics();
    await check();
    report(trainer.stepCount);
    await checkpoint(done ? 'done' : 'paused');
    return { runId: run.id, steps: trainer.stepCount, stopped: !done, seconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    // A failed readback can come before device.lost settles: give it a moment to say whether it was the cause.
    const why = lost ?? (await Promise.race([dev.lost.then((i) => i.message || i.reason), sleep(250).then(() => undefined)]));
    if (why) throw new DeviceLostError(why);
    throw e;
  } finally {
    trainer.destroy();
  }
}

/** A run's SAE at its checkpoint (raw units) or an imported one, with a label and the layer its data came from. */
async function resolveSae(kind: 'run' | 'imported', id: string): Promise<{ sae: SaeWeights; layer: HarvestLayer | null; label: string; step: number }> {
  const runsDb = await getRuns();
  if (kind === 'imported') {
    const rec = await runsDb.getSae(id);
    if (!rec) throw new Error(`no imported SAE ${id}`);
    const hook = String((rec.sae.metadata as { hook_name?: unknown }).hook_name ?? '');
    return { sae: rec.sae, layer: layerOf(hook), label: rec.name, step: 0 };
  }
  const run = await runsDb.get(id);
  const snap = run?.snapshot;
  if (!run || !snap) throw new Error('this run has no checkpoint yet');
  const manifest = await (await (datasets ??= openStore())).get(run.datasetId);
  const label = `${run.config.arch} F=${run.config.features} on ${run.datasetName} at step ${snap.step}`;
  return { sae: foldSae(snapshotParams(snap), snap.config, snap.stats.scale), layer: layerOf(`${manifest?.source.name ?? ''} ${run.datasetName}`), label, step: snap.step };
}

/** the feature statistics job in progress, to cancel */
let featureJob: AbortController | undefined;

/** the shipped model's layer a dataset or hook name speaks of ('… via USE-lite resid0', a node name), if any */
function layerOf(text: string): HarvestLayer | null {
  for (const layer of HARVEST_LAYERS) if (text.includes(`USE-lite ${layer}`) || text === LAYER_NODES[layer].node || text === layer) return layer;
  return null;
}

/** Milliseconds per training step of `config` on this adapter: a few steps on made-up rows after a warm-up. */
async function measureStep(config: TrainConfig): Promise<number> {
  const { device: dev, adapter } = await getDevice();
  checkFits(config, dev.limits);
  const stats = { scale: 1, mean: new Float64Array(config.d), variance: config.d };
  // the kernels a run of this configuration would use (tuned now, or read from the tuner's cache)
  const { choices } = await tuneStep(dev, adapter, config, idbTunerCache());
  const trainer = Trainer.create(dev, config, stats, initParams(config, stats), { gemms: choices });
  try {
    const batch = Float32Array.from({ length: config.batch * config.d }, (_, i) => Math.sin(i * 12.9898) * 2);
    for (let t = 0; t < 2; t++) await trainer.step(batch); // compile and warm up
    await dev.queue.onSubmittedWorkDone();
    const t0 = performance.now();
    for (let t = 0; t < 3; t++) await trainer.step(batch);
    await dev.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / 3;
  } finally {
    trainer.destroy();
  }
}

const api: GpuApi = {
  async init() {
    return { adapter: (await getDevice()).adapter };
  },

  async train(req: TrainRequest, onProgress: (p: TrainProgress) => void) {
    const store = await (datasets ??= openStore());
    const manifest = await store.get(req.datasetId);
    if (!manifest || manifest.status !== 'complete') throw new Error(`dataset ${req.datasetId} is not stored (or still importing)`);
    const run: RunRecord = {
      id: crypto.randomUUID(),
      datasetId: manifest.id,
      datasetName: manifest.name,
      config: defaultConfig({ ...req.config, d: manifest.d, seed: manifest.heldOut.seed }),
      status: 'running',
      step: 0,
      history: [],
      snapshot: null,
      created: Date.now(),
      updated: Date.now(),
    };
    return withRunLock(run.id, () => jobs.run(() => trainResilient(run, onProgress)));
  },

  async resume(runId: string, onProgress: (p: TrainProgress) => void) {
    return withRunLock(runId, async () => {
      const run = await (await getRuns()).get(runId);
      if (!run) throw new Error(`no run ${runId}`);
      if (run.status === 'done') throw new Error('this run has finished');
      return jobs.run(() => trainResilient(run, onProgress));
    });
  },

  measureStep(config: TrainConfig) {
    return jobs.run(() => measureStep(config));
  },

  stop() {
    stopping = true;
  },

  async loseDevice() {
    (await getDevice()).device.destroy();
  },

  async listRuns() {
    return (await getRuns()).list();
  },

  async runHistory(runId: string) {
    return (await (await getRuns()).get(runId))?.history ?? [];
  },

  async exportSae(runId: string) {
    const run = await (await getRuns()).get(runId);
    const snap = run?.snapshot;
    if (!run || !snap) throw new Error('this run has no checkpoint yet: train at least one checkpoint interval');
    const sae = foldSae(snapshotParams(snap), snap.config, snap.stats.scale);
    // Density over the training tokens seen (held-out statistics come with the feature explorer).
    const tokens = Math.max(1, snap.step * snap.config.batch);
    const sparsity = Float32Array.from(snap.fireCount, (c) => Math.log10(c / tokens + 1e-10));
    // rows harvested from a language model name it, its hook, context and BOS, as SAELens records them
    const provenance = (await (await (datasets ??= openStore())).get(run.datasetId))?.source.provenance ?? {};
    const files = encodeSaelens(sae, sparsity, { dataset_path: run.datasetName, training_steps: snap.step, ...provenance });
    const name = `sae-${run.config.arch}-${run.config.features}-${run.datasetName.replace(/[^\w.-]+/g, '_')}-step${snap.step}`;
    const zip = zipSync(Object.fromEntries(Object.entries(files).map(([f, bytes]) => [`${name}/${f}`, bytes])));
    return transfer({ name, zip }, [zip.buffer as ArrayBuffer]);
  },

  async importSae(files: File[]) {
    const { name, cfg, weights } = await saeFiles(files);
    const sae = decodeSaelens(cfg, weights, name);
    // Loose files carry no folder name: name the SAE after the model and hook it was trained on.
    const meta = sae.metadata as { model_name?: string; hook_name?: string };
    const label = name !== LOOSE ? name : [meta.model_name, meta.hook_name].filter(Boolean).join(' ') || 'imported SAE';
    const rec = { id: crypto.randomUUID(), name: label, sae, created: Date.now() };
    await (await getRuns()).putSae(rec);
    return { id: rec.id, name: label, arch: sae.arch, d: sae.d, features: sae.features, created: rec.created };
  },

  async listSaes() {
    return (await getRuns()).listSaes();
  },

  async evaluateSae(saeId: string, datasetId: string, which: 'held-out' | 'all') {
    const rec = await (await getRuns()).getSae(saeId);
    if (!rec) throw new Error(`no imported SAE ${saeId}`);
    const store = await (datasets ??= openStore());
    const manifest = await store.get(datasetId);
    if (!manifest || manifest.status !== 'complete') throw new Error(`dataset ${datasetId} is not stored`);
    if (manifest.d !== rec.sae.d) throw new Error(`${manifest.name} has rows of width ${manifest.d}; the SAE ${rec.name} has d_in=${rec.sae.d}`);
    const rows = await store.rowSource(manifest.id);
    const ranges: [number, number][] = which === 'all' ? [[0, rows.rows]] : (await store.split(manifest.id)).heldOut;
    return jobs.run(async () => {
      const runner = new SaeRunner((await getDevice()).device, rec.sae, 512);
      try {
        const { density: _density, ...metrics } = await runner.evaluate(rangeChunks(rows, ranges));
        return metrics;
      } finally {
        runner.destroy();
      }
    });
  },

  async saeWeights(kind: 'run' | 'imported', id: string) {
    const { sae, layer } = await resolveSae(kind, id);
    return { sae, layer };
  },

  computeFeatures(kind: 'run' | 'imported', id: string, datasetId: string, onProgress: (p: FeatureJobProgress) => void) {
    featureJob?.abort();
    const abort = new AbortController();
    featureJob = abort;
    return jobs.run(async () => {
      const { sae, label, step } = await resolveSae(kind, id);
      const store = await (datasets ??= openStore());
      const rec = await computeFeatures((await getDevice()).device, store, sae, { key: `${kind}:${id}`, step, saeLabel: label, datasetId }, abort.signal, (p) => void Promise.resolve(onProgress(p)).catch(() => {}));
      await (await getRuns()).putFeatures(rec);
      return rec.table;
    }).finally(() => {
      if (featureJob === abort) featureJob = undefined;
    });
  },

  async saeNeighbours(kind: 'run' | 'imported', id: string) {
    const { sae } = await resolveSae(kind, id);
    const K = Math.min(MAP_NEIGHBOURS, sae.features - 1);
    return jobs.run(async () => {
      const { idx, sim } = await decoderNeighbours((await getDevice()).device, sae.W_dec, sae.features, sae.d, K);
      return { idx, sim, F: sae.features, K };
    });
  },

  exportFeatures(kind: 'run' | 'imported', id: string, onProgress: (p: FeatureJobProgress) => void) {
    featureJob?.abort();
    const abort = new AbortController();
    featureJob = abort;
    return jobs.run(async () => {
      const rec = await (await getRuns()).getFeatures(`${kind}:${id}`);
      if (!rec) throw new Error('compute the feature statistics first');
      const { sae } = await resolveSae(kind, id);
      const store = await (datasets ??= openStore());
      const files = await exportFeatureJson((await getDevice()).device, store, sae, rec, abort.signal, (p) => void Promise.resolve(onProgress(p)).catch(() => {}));
      const name = `features-${rec.table.saeLabel.replace(/[^\w.=-]+/g, '_')}`.slice(0, 120);
      const zip = zipSync(Object.fromEntries(Object.entries(files).map(([f, bytes]) => [`${name}/${f}`, bytes])));
      return transfer({ name, zip }, [zip.buffer as ArrayBuffer]);
    }).finally(() => {
      if (featureJob === abort) featureJob = undefined;
    });
  },

  async splitFeatures(a: { kind: 'run' | 'imported'; id: string }, b: { kind: 'run' | 'imported'; id: string }) {
    const [x, y] = await Promise.all([resolveSae(a.kind, a.id), resolveSae(b.kind, b.id)]);
    if (x.sae.d !== y.sae.d) throw new Error(`${x.label} reads rows of width ${x.sae.d} but ${y.label} reads ${y.sae.d}: feature splitting needs two SAEs of the same activations`);
    const [small, large] = x.sae.features <= y.sae.features ? [x, y] : [y, x];
    const keyOf = (s: typeof x) => (s === x ? `${a.kind}:${a.id}` : `${b.kind}:${b.id}`);
    // each feature's top tokens, where its statistics have been computed
    const tokens = async (s: typeof x) => (await (await getRuns()).getFeatures(keyOf(s)))?.table.features.map((f) => f.topTokens.slice(0, 3).join(' ')) ?? undefined;
    const [sl, ll] = await Promise.all([tokens(small), tokens(large)]);
    const split = featureSplitting(small.sae, large.sae, { labels: { small: sl, large: ll } });
    return { small: small.label, large: large.label, threshold: split.threshold, counts: split.counts, families: orderFamilies(split.families).filter((f) => f.children.length >= 2).slice(0, 40) };
  },

  cancelFeatures() {
    featureJob?.abort();
  },

  async featureTable(kind: 'run' | 'imported', id: string) {
    return (await (await getRuns()).getFeatures(`${kind}:${id}`))?.table ?? null;
  },

  async featureCard(kind: 'run' | 'imported', id: string, feature: number) {
    const rec = await (await getRuns()).getFeatures(`${kind}:${id}`);
    if (!rec) throw new Error('compute the feature statistics first');
    const { sae } = await resolveSae(kind, id);
    return jobs.run(async () => featureCard((await getDevice()).device, await (datasets ??= openStore()), sae, rec, feature));
  },

  async paramsDigest(runId: string) {
    const snap = (await (await getRuns()).get(runId))?.snapshot;
    if (!snap) return null;
    const bytes = new Uint8Array(snap.params.buffer, snap.params.byteOffset, snap.params.byteLength);
    const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  },
};

expose(api);
