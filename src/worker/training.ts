// Training in the GPU worker: a run trained from its checkpoint (or its initialisation) on a dataset streamed
// from IndexedDB, through the engine's training loop (engine/train-loop.ts). Every run is checkpointed (the
// trainer's snapshot and the metric history) every CHECKPOINT_STEPS steps and when paused, holds a Web Lock
// while it trains (two tabs never train one run at once), and resumes from its last checkpoint when the
// device is lost. At each checkpoint the page gets the live views of its dictionary (checkpoint-views.ts).
import { createBatchSource } from '../data/batches.ts';
import type { RunRecord } from '../data/runs.ts';
import { idbTunerCache } from '../data/tuner-cache.ts';
import { defaultConfig, type TrainConfig } from '../engine/config.ts';
import { initParams } from '../engine/init.ts';
import { checkFits } from '../engine/memory.ts';
import { trainSteps } from '../engine/train-loop.ts';
import { Trainer } from '../engine/trainer.ts';
import type { StepMetrics } from '../engine/run-state.ts';
import { describeKernels, tuneStep, type GemmChoices } from '../engine/tuner.ts';
import type { GpuApi, TrainOutcome, TrainProgress, TrainRequest } from './api.ts';
import { CheckpointViews, contextSample } from './checkpoint-views.ts';
import { getDatasets, getDevice, getRuns, jobs, lossReason, lostWithin } from './gpu-context.ts';

const REPORT_MS = 250;
const CHECKPOINT_STEPS = 50;
const MAX_DEVICE_LOSSES = 3;

let stopping = false;

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
/** The loss became NaN/Inf: the run's own failure, whatever the device does. */
class DivergedError extends Error {}

/** Trains `run` from its checkpoint, re-acquiring the device and resuming from the last checkpoint when it is lost. */
async function trainResilient(run: RunRecord, onProgress: (p: TrainProgress) => void): Promise<TrainOutcome> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await trainRun(run, onProgress);
    } catch (e) {
      if (!(e instanceof DeviceLostError) || attempt >= MAX_DEVICE_LOSSES) throw e;
      // getDevice has dropped the lost device: the next attempt asks the adapter again
      const saved = await (await getRuns()).get(run.id);
      Object.assign(run, saved);
      // The page may lack metrics the lost trainer never reported: hand it the checkpoint's whole history.
      onProgress({ runId: run.id, step: run.step, steps: run.config.steps, metrics: [], tokensPerS: 0, history: run.history, notice: `the GPU device was lost (${e.message}); resumed from the checkpoint at step ${run.step}` });
    }
  }
}

/** Trains `run` from its checkpoint (or its initialisation); any failure of a device that was lost meanwhile is its loss. */
async function trainRun(run: RunRecord, onProgress: (p: TrainProgress) => void): Promise<TrainOutcome> {
  const { device: dev, adapter } = await getDevice();
  try {
    return await trainOn(dev, adapter, run, onProgress);
  } catch (e) {
    if (e instanceof DeviceLostError || e instanceof DivergedError) throw e;
    const why = await lostWithin(dev);
    if (why) throw new DeviceLostError(why);
    throw e;
  }
}

/** Trains `run` on `dev` from its checkpoint (or from its initialisation when it has none) until done or stopped. */
async function trainOn(dev: GPUDevice, adapter: string, run: RunRecord, onProgress: (p: TrainProgress) => void): Promise<TrainOutcome> {
  let lost: string | undefined;
  void dev.lost.then((info) => (lost = lossReason(info)));
  const store = await getDatasets();
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
    if (tuner) onProgress({ runId: run.id, step: 0, steps: cfg.steps, metrics: [], tokensPerS: 0, kernels: 'choosing GEMM kernels for this adapter…' });
    trainer = Trainer.create(dev, cfg, stats, initParams(cfg, stats), { ...options, gemms: await gemmChoices(dev, adapter, cfg) });
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
      throw new DivergedError(message);
    }
  };
  const sample = manifest.hasContext ? await contextSample(store, manifest.id, rows) : undefined;
  const views = new CheckpointViews(dev, run.id, cfg, sample, run.snapshot);
  const checkpoint = async (status: RunRecord['status']) => {
    const snapshot = await trainer.snapshot(); // waits for the GPU and every metric up to this step
    await check(); // never checkpoint a diverged state
    Object.assign(run, { snapshot, step: snapshot.step, history: history.slice(0, snapshot.step), status });
    await runsDb.put(run);
    const v = await views.at(snapshot, status !== 'running');
    if (v) onProgress(v);
  };
  stopping = false;
  const first = trainer.stepCount;
  const t0 = performance.now();
  let lastReport = 0;
  const report = (step: number, stream?: TrainProgress['stream']) => {
    const tokensPerS = ((step - first) * cfg.batch * 1000) / (performance.now() - t0);
    onProgress({ runId: run.id, step, steps: cfg.steps, metrics: unsent, tokensPerS, stream });
    unsent = [];
  };
  try {
    run.status = 'running';
    await runsDb.put(run);
    let stream: TrainProgress['stream'];
    await trainSteps({
      trainer, batches, steps: cfg.steps,
      stopped: () => stopping,
      beforeStep: () => jobs.yieldTo(), // an evaluation or measurement asked for mid-run goes between two steps
      afterStep: async (done, streamStats) => {
        await check();
        // the last step's checkpoint is the final one, below
        if (done % CHECKPOINT_STEPS === 0 && done < cfg.steps) await checkpoint('running');
        stream = streamStats();
        if (performance.now() - lastReport > REPORT_MS) {
          lastReport = performance.now();
          report(done, stream);
        }
      },
    });
    const done = trainer.stepCount >= cfg.steps;
    await trainer.flushMetrics();
    await check();
    report(trainer.stepCount, stream);
    await checkpoint(done ? 'done' : 'paused');
    return { runId: run.id, steps: trainer.stepCount, stopped: !done, seconds: (performance.now() - t0) / 1000 };
  } finally {
    trainer.destroy();
  }
}

/** false after `useTuner(false)` (the page's ?tune=off, the CLI's --no-tune): every GEMM takes its default variant */
let tuner = true;

/** the GEMM variants a new run of `cfg` uses: tuned now, or read from the tuner's cache; the defaults with the tuner off */
async function gemmChoices(dev: GPUDevice, adapter: string, cfg: TrainConfig): Promise<GemmChoices> {
  return tuner ? (await tuneStep(dev, adapter, cfg, idbTunerCache())).choices : {};
}

/** Milliseconds per training step of `config` on this adapter: a few steps on made-up rows after a warm-up. */
async function measureStep(config: TrainConfig): Promise<number> {
  const { device: dev, adapter } = await getDevice();
  checkFits(config, dev.limits);
  const stats = { scale: 1, mean: new Float64Array(config.d), variance: config.d };
  // the kernels a run of this configuration would use
  const trainer = Trainer.create(dev, config, stats, initParams(config, stats), { gemms: await gemmChoices(dev, adapter, config) });
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

/** the GPU worker's training and run methods */
export const trainingApi: Pick<GpuApi, 'useTuner' | 'train' | 'resume' | 'measureStep' | 'stop' | 'listRuns' | 'runHistory' | 'paramsDigest'> = {
  useTuner(on: boolean) {
    tuner = on;
  },

  async train(req: TrainRequest, onProgress: (p: TrainProgress) => void) {
    const store = await getDatasets();
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
      ...(req.sweep ? { sweep: req.sweep } : {}),
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

  async listRuns() {
    return (await getRuns()).list();
  },

  async runHistory(runId: string) {
    return (await (await getRuns()).get(runId))?.history ?? [];
  },

  async paramsDigest(runId: string) {
    const snap = (await (await getRuns()).get(runId))?.snapshot;
    if (!snap) return null;
    const bytes = new Uint8Array(snap.params.buffer, snap.params.byteOffset, snap.params.byteLength);
    const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  },
};
