// The GPU worker's entry: owns the device and runs training on datasets streamed from IndexedDB.
// Exposes GpuApi (src/worker/api.ts) over comlink; progress goes back through a proxied callback.
import { expose } from 'comlink';
import { createBatchSource } from '../data/batches.ts';
import { splitRows } from '../data/split.ts';
import { openStore, type DatasetStore } from '../data/store.ts';
import { defaultConfig } from '../engine/config.ts';
import { describeAdapter, requiredLimitsFor } from '../engine/device.ts';
import { initParams } from '../engine/init.ts';
import { checkFits } from '../engine/memory.ts';
import { Trainer, type StepMetrics } from '../engine/trainer.ts';
import type { GpuApi, TrainProgress, TrainRequest } from './api.ts';

let device: Promise<{ device: GPUDevice; adapter: string }> | undefined;
let store: Promise<DatasetStore> | undefined;
let stopping = false;

async function getDevice(): Promise<{ device: GPUDevice; adapter: string }> {
  device ??= (async () => {
    if (!('gpu' in navigator)) throw new Error('this browser has no WebGPU: use a recent Chrome or Edge');
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new Error('WebGPU found no adapter: check that hardware acceleration is on');
    return { device: await adapter.requestDevice({ requiredLimits: requiredLimitsFor(adapter) }), adapter: describeAdapter(adapter.info) };
  })();
  return device;
}

const REPORT_MS = 250;

const api: GpuApi = {
  async init() {
    return { adapter: (await getDevice()).adapter };
  },

  async train(req: TrainRequest, onProgress: (p: TrainProgress) => void) {
    const { device: dev } = await getDevice();
    const s = await (store ??= openStore());
    const manifest = await s.get(req.datasetId);
    if (!manifest || manifest.status !== 'complete') throw new Error(`dataset ${req.datasetId} is not stored (or still importing)`);
    const rows = await s.rowSource(manifest.id);
    const stats = await s.dataStats(manifest.id);
    const cfg = defaultConfig({ ...req.config, d: manifest.d, seed: manifest.heldOut.seed });
    checkFits(cfg, dev.limits);
    const split = splitRows(rows.rows, manifest.heldOut, manifest.name);
    const batches = createBatchSource(rows, split.trainBlocks, cfg.batch, cfg.seed);
    let pending: StepMetrics[] = [];
    const trainer = Trainer.create(dev, cfg, stats, initParams(cfg, stats), { metricsEvery: 10, onMetrics: (m) => pending.push(...m) });
    stopping = false;
    const t0 = performance.now();
    let lastReport = 0;
    let step = 0;
    try {
      let next = batches.batch(0);
      for (; step < cfg.steps && !stopping; step++) {
        const batch = await next;
        if (step + 1 < cfg.steps) next = batches.batch(step + 1);
        await trainer.step(batch);
        const now = performance.now();
        if (now - lastReport > REPORT_MS) {
          lastReport = now;
          onProgress({ step: step + 1, steps: cfg.steps, metrics: pending, tokensPerS: ((step + 1) * cfg.batch * 1000) / (now - t0) });
          pending = [];
        }
      }
      await trainer.flushMetrics();
      onProgress({ step, steps: cfg.steps, metrics: pending, tokensPerS: (step * cfg.batch * 1000) / (performance.now() - t0) });
      return { steps: step, stopped: step < cfg.steps, seconds: (performance.now() - t0) / 1000 };
    } finally {
      trainer.destroy();
    }
  },

  stop() {
    stopping = true;
  },
};

expose(api);
