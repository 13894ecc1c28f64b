// The browser half of `npm run bench:scale` and `npm run bench:stream`: what one tab holds at scale, with
// the lab's own engine and dataset store.
//   dictionary: 65,536 features over d = 768 trained on navigator.gpu (bench/scale-run.ts, as in Node);
//   write:      a generated dataset imported into IndexedDB through the store the lab imports files with
//               (chunk by chunk, statistics on the way), as large as asked (larger than the machine's memory);
//   stream:     one epoch of it read back as training reads it (shuffled blocks, data/batches.ts, through the
//               prefetcher), without the GPU: rows/s the store delivers;
//   train:      a TopK SAE trained on that stream for some steps (engine/train-loop.ts, as the worker does);
//   drop:       the dataset deleted (its disk given back).
// Each call returns plain numbers; the page's JS heap is sampled on the way (Chromium's performance.memory).
import { createBatchSource } from '../../src/data/batches.ts';
import { BatchPrefetcher } from '../../src/data/prefetch.ts';
import type { RowSource } from '../../src/data/sources.ts';
import { openStore, type DatasetStore } from '../../src/data/store.ts';
import { defaultConfig, type Arch } from '../../src/engine/config.ts';
import { initParams } from '../../src/engine/init.ts';
import { Rng } from '../../src/engine/random.ts';
import { trainSteps } from '../../src/engine/train-loop.ts';
import { Trainer } from '../../src/engine/trainer.ts';
import { tuneStep } from '../../src/engine/tuner.ts';
import { unitDirections } from '../../src/data/synth.ts';
import { measureScale, type ScaleRow } from '../scale-run.ts';
import { ourDevice, pageInfo } from './common.ts';

export type ScaleSpec =
  | { kind: 'dictionary'; arch: Arch; steps: number }
  | { kind: 'write'; rows: number; d: number }
  | { kind: 'stream'; id: string; batch: number; maxSeconds: number }
  | { kind: 'train'; id: string; features: number; k: number; batch: number; steps: number }
  | { kind: 'drop'; id: string };

export interface HeapPeak {
  /** the page's largest JS heap seen (bytes), where the browser tells it */
  heap_peak_mib: number | null;
}
export type WriteResult = HeapPeak & { id: string; rows: number; bytes: number; chunks: number; seconds: number; mib_per_s: number; storage_usage_gib: number | null };
export type StreamResult = HeapPeak & { rows: number; of: number; seconds: number; rows_per_s: number; mib_per_s: number };
export type TrainResult = HeapPeak & { steps: number; seconds: number; steps_per_s: number; rows_per_s: number; stream_wait_s: number; delivered_rows_per_s: number; loss_first: number; loss_last: number };
export type ScaleResult = ScaleRow | WriteResult | StreamResult | TrainResult | { dropped: boolean };

const STORE = 'sae-lab-bench-stream';
const MiB = 2 ** 20;

let heapPeak = 0;
function sampleHeap(): void {
  const used = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize;
  if (used !== undefined) heapPeak = Math.max(heapPeak, used);
}
function takeHeapPeak(): HeapPeak {
  const has = (performance as unknown as { memory?: unknown }).memory !== undefined;
  const peak = has ? Math.round(heapPeak / MiB) : null;
  heapPeak = 0;
  return { heap_peak_mib: peak };
}

/**
 * Rows made on read, never whole in memory: each a sum of three of 4·d fixed unit directions with magnitudes
 * in [0.5, 1.5) (the toy superposition model, so the SAE has something to find). A pure function of the row.
 */
class GeneratedRows implements RowSource {
  readonly name: string;
  private readonly truth: Float32Array;
  private readonly directions: number;

  constructor(
    readonly rows: number,
    readonly d: number,
  ) {
    this.name = `generated ${rows}×${d}`;
    this.directions = 4 * d;
    this.truth = unitDirections(this.directions, d, new Rng(0, 11));
  }

  async readRows(start: number, count: number): Promise<Float32Array> {
    const { d, truth } = this;
    const out = new Float32Array(count * d);
    const rng = new Rng(0, 12, start);
    for (let r = 0; r < count; r++) {
      for (let a = 0; a < 3; a++) {
        const j = rng.int(this.directions);
        const c = 0.5 + rng.float();
        for (let i = 0; i < d; i++) out[r * d + i]! += c * truth[j * d + i]!;
      }
    }
    return out;
  }
}

let store: Promise<DatasetStore> | undefined;
const getStore = () => (store ??= openStore({ name: STORE }));

async function write(rows: number, d: number): Promise<WriteResult> {
  const s = await getStore();
  const source = new GeneratedRows(rows, d);
  let lastSaid = 0;
  const t0 = performance.now();
  const r = await s.importRows(source, { source: { kind: 'synthetic', name: source.name, size: rows * d * 4 } }, {
    nonFinite: 'refuse',
    onProgress(done, all) {
      sampleHeap();
      if (performance.now() - lastSaid > 30_000) {
        lastSaid = performance.now();
        console.info(`[write] ${((100 * done) / all).toFixed(1)}% (${(((done * d * 4) / 2 ** 30)).toFixed(2)} GiB) after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      }
    },
  });
  const m = r.dataset;
  const seconds = (performance.now() - t0) / 1000;
  const usage = (await navigator.storage?.estimate?.())?.usage;
  return {
    id: m.id, rows: m.rows, bytes: m.bytes, chunks: m.chunks, seconds, mib_per_s: +(m.bytes / MiB / seconds).toFixed(1),
    storage_usage_gib: usage === undefined ? null : +(usage / 2 ** 30).toFixed(2), ...takeHeapPeak(),
  };
}

async function stream(id: string, batch: number, maxSeconds: number): Promise<StreamResult> {
  const s = await getStore();
  const rows = await s.rowSource(id);
  const split = await s.split(id);
  const batches = createBatchSource(rows, split.trainBlocks, batch, 0);
  const of = rows.rows - split.heldOut.reduce((n, [a, b]) => n + b - a, 0); // the training rows
  const steps = Math.floor(of / batch);
  const prefetch = new BatchPrefetcher(batches, 0, steps, 2);
  const t0 = performance.now();
  let done = 0;
  let lastSaid = t0;
  for (let t = 0; t < steps && performance.now() - t0 < maxSeconds * 1000; t++) {
    await prefetch.take();
    done += batch;
    sampleHeap();
    if (performance.now() - lastSaid > 30_000) {
      lastSaid = performance.now();
      console.info(`[stream] ${((100 * done) / of).toFixed(1)}% after ${((lastSaid - t0) / 1000).toFixed(0)} s`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  return { rows: done, of, seconds, rows_per_s: Math.round(done / seconds), mib_per_s: +((done * rows.d * 4) / MiB / seconds).toFixed(1), ...takeHeapPeak() };
}

async function train(spec: Extract<ScaleSpec, { kind: 'train' }>): Promise<TrainResult> {
  const { device, adapter, errors } = await ourDevice();
  const s = await getStore();
  const rows = await s.rowSource(spec.id);
  const split = await s.split(spec.id);
  const stats = await s.dataStats(spec.id);
  const cfg = defaultConfig({ arch: 'topk', d: rows.d, features: spec.features, k: spec.k, batch: spec.batch, steps: spec.steps, seed: 0 });
  const { choices } = await tuneStep(device, adapter, cfg);
  const trainer = Trainer.create(device, cfg, stats, initParams(cfg, stats), { metricsEvery: 1, gemms: choices });
  try {
    let stream = { waitMs: 0, deliveredRowsPerS: 0 };
    const { seconds } = await trainSteps({
      trainer, batches: createBatchSource(rows, split.trainBlocks, cfg.batch, cfg.seed), steps: cfg.steps,
      afterStep: (_, st) => {
        sampleHeap();
        stream = st();
      },
    });
    const history = await trainer.flushMetrics();
    if (errors.length) throw new Error(`WebGPU errors: ${errors.join('; ')}`);
    return {
      steps: cfg.steps, seconds, steps_per_s: +(cfg.steps / seconds).toFixed(3), rows_per_s: Math.round((cfg.steps * cfg.batch) / seconds),
      stream_wait_s: +(stream.waitMs / 1000).toFixed(1), delivered_rows_per_s: Math.round(stream.deliveredRowsPerS),
      loss_first: history[0]!.loss, loss_last: history.at(-1)!.loss, ...takeHeapPeak(),
    };
  } finally {
    trainer.destroy();
  }
}

async function run(spec: ScaleSpec): Promise<ScaleResult> {
  switch (spec.kind) {
    case 'dictionary': {
      const { device, adapter, errors } = await ourDevice();
      const row = await measureScale(device, adapter, spec.arch, spec.steps);
      if (errors.length) throw new Error(`WebGPU errors: ${errors.join('; ')}`);
      return row;
    }
    case 'write':
      return write(spec.rows, spec.d);
    case 'stream':
      return stream(spec.id, spec.batch, spec.maxSeconds);
    case 'train':
      return train(spec);
    case 'drop':
      return { dropped: await (await getStore()).delete(spec.id) };
  }
}

const saeScale = { info: pageInfo, run };

declare global {
  interface Window {
    saeScale: typeof saeScale;
  }
}
window.saeScale = saeScale;
document.body.dataset.ready = 'true';
