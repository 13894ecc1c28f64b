// The browser half of `npm run bench` (bench/browser.ts drives it in headless Chromium): one tab that trains
// the bench's runs (bench/workload.ts) with this project's engine on navigator.gpu, and with TF.js 4.22 on
// its WebGPU and WASM backends (bench/tfjs-sae.ts), one run per call of window.saeBench.run, so the Node
// side can print progress and keep to its time budget between runs.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
// the .wasm binaries from this page's own origin (as the lab's harvest does: src/data/harvest/browser-tf.ts)
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import type { Arch } from '../../src/engine/config.ts';
import { describeAdapter } from '../../src/engine/device.ts';
import { initParams } from '../../src/engine/init.ts';
import { timeEngine, type EngineTiming } from '../engine-run.ts';
import { TfSaeTrainer, tfSupportsSparse, type TopkMode } from '../tfjs-sae.ts';
import { SHAPES, workload, type Shape } from '../workload.ts';
import { ourDevice, pageInfo } from './common.ts';

export type Engine = 'sae-lab' | 'tfjs';
export type Backend = 'webgpu' | 'wasm';

export interface RunSpec {
  engine: Engine;
  backend: Backend;
  shape: Shape['name'];
  arch: Arch;
  /** untimed steps first (pipeline and shader compilation) */
  warmup: number;
  /** timed steps after the warm-up */
  steps: number;
  /** TF.js TopK formulation (bench/tfjs-sae.ts); by default sparse where the backend can */
  topk?: TopkMode;
}

export interface RunResult {
  /** the adapter the run used (for TF.js WASM: the CPU) */
  adapter: string;
  /** what else names the backend: kernel variants, WASM build and threads */
  detail: string;
  steps: number;
  ms_per_step: number;
  /** the loss of every step, warm-up included (scaled units, before each step's update) */
  losses: number[];
  /** ms of the warm-up steps together */
  warmup_ms: number;
  /** this engine's runs: the tuner's choices and timings */
  engine?: EngineTiming;
}

let wasmPathsSet = false;

async function useTfBackend(backend: Backend): Promise<void> {
  if (backend === 'wasm' && !wasmPathsSet) {
    setWasmPaths({
      'tfjs-backend-wasm.wasm': wasmPlain,
      'tfjs-backend-wasm-simd.wasm': wasmSimd,
      'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimd,
    });
    wasmPathsSet = true;
  }
  if (tf.getBackend() !== backend && !(await tf.setBackend(backend))) throw new Error(`TF.js: the ${backend} backend failed to start`);
  await tf.ready();
}

async function tfDetail(backend: Backend): Promise<{ adapter: string; detail: string }> {
  if (backend === 'wasm') {
    const [simd, threads] = await Promise.all([
      tf.env().getAsync('WASM_HAS_SIMD_SUPPORT') as Promise<boolean>,
      tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT') as Promise<boolean>,
    ]);
    const build = simd && threads ? 'threaded-simd' : simd ? 'simd' : 'plain';
    return { adapter: `CPU (${navigator.hardwareConcurrency} logical cores)`, detail: `wasm ${build}, ${getThreadsCount()} thread(s)` };
  }
  // TF.js asks navigator.gpu for its own adapter; name the one it got as the engine's adapter is named
  const info = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  return { adapter: adapter ? describeAdapter(adapter.info) : 'unknown', detail: `tfjs adapterInfo ${info?.vendor ?? '?'} ${info?.architecture ?? '?'}` };
}

async function run(spec: RunSpec): Promise<RunResult> {
  const shape = SHAPES.find((s) => s.name === spec.shape);
  if (!shape) throw new Error(`no shape ${spec.shape}`);
  const w = workload(shape, spec.arch);
  const init = initParams(w.cfg, w.stats);
  const total = spec.warmup + spec.steps;
  if (spec.engine === 'sae-lab') {
    if (spec.backend !== 'webgpu') throw new Error('the engine runs on WebGPU only');
    const { device, adapter, errors } = await ourDevice();
    const r = await timeEngine(device, adapter, w, spec.warmup, spec.steps);
    if (errors.length) throw new Error(`WebGPU errors: ${errors.join('; ')}`);
    return { adapter, detail: r.kernels, steps: spec.steps, ms_per_step: r.ms_per_step, losses: r.history.map((m) => m.loss), warmup_ms: r.warmup_ms, engine: r };
  }
  await useTfBackend(spec.backend);
  const { adapter, detail: backendDetail } = await tfDetail(spec.backend);
  const trainer = new TfSaeTrainer(w.cfg, w.stats, init, spec.topk ? { topk: spec.topk } : {});
  const detail = spec.arch === 'topk' ? `${backendDetail}, ${trainer.mode} TopK` : backendDetail;
  const losses: tf.Scalar[] = [];
  try {
    const start = performance.now();
    for (let t = 0; t < spec.warmup; t++) losses.push(trainer.step(w.batch(t)));
    await losses[losses.length - 1]?.data(); // the queue is empty once the last warm-up loss is read
    const t0 = performance.now();
    // the losses are read once at the end, as a user who logs them would batch the readback
    for (let t = spec.warmup; t < total; t++) losses.push(trainer.step(w.batch(t)));
    const all = tf.stack(losses);
    const values = Array.from(await all.data());
    const t1 = performance.now();
    all.dispose();
    return { adapter, detail, steps: spec.steps, ms_per_step: (t1 - t0) / spec.steps, losses: values, warmup_ms: t0 - start };
  } finally {
    tf.dispose(losses);
    trainer.dispose();
  }
}

const saeBench = { info: pageInfo, run, sparseTopk: async (backend: Backend) => (await useTfBackend(backend), tfSupportsSparse()) };

declare global {
  interface Window {
    saeBench: typeof saeBench;
  }
}
window.saeBench = saeBench;
document.body.dataset.ready = 'true';
