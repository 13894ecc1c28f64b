// The browser half of the bench's LM part (bench/lm-browser.ts drives it in headless Chromium): one tab
// that times a language model's forward pass with this engine on navigator.gpu and with onnxruntime-web on
// its WebGPU and WASM backends, one run per call of window.lmBench.run. The model (config, weights, token
// ids) is made here from the same seed as in Node (bench/lm-models.ts), or read from the built-in model's
// folder over HTTP, so no weights cross the page boundary; the logits go back to Node to be compared.
// onnxruntime-web's runtime files from this page's own origin (the bundle's import.meta.url does not
// survive Vite's dependency pre-bundling)
import jsepMjs from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.mjs?url';
import jsepWasm from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';
import asyncifyMjs from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import asyncifyWasm from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { describeAdapter } from '../../src/engine/device.ts';
import { ourDevice, pageInfo } from './common.ts';
import { makeModel, urlModelFiles, type LmModel, type LmModelSpec } from '../lm-models.ts';
import { timeOrtLm, timeOursLm, type LmTiming, type OrtModule } from '../lm-run.ts';

/**
 * Which onnxruntime-web build: 'jsep' is the package's default import (its WebGPU backend written in
 * TypeScript over the WASM core, and the WASM backend); 'native' is `onnxruntime-web/webgpu`, onnxruntime's
 * C++ WebGPU execution provider compiled to WASM.
 */
export type OrtBuild = 'jsep' | 'native';

export interface LmPageSpec {
  model: LmModelSpec;
  /** the built-in model folder's file names, where Node found the folder */
  builtinFiles?: string[];
  absentWhy?: string;
  engine: 'sae-lab' | 'ort';
  backend: 'webgpu' | 'wasm';
  build?: OrtBuild;
  passes: number;
}

export interface LmPageResult extends Omit<LmTiming, 'logits'> {
  adapter: string;
  /** the logits (B, T, vocab) as little-endian float32, base64 */
  logits: string;
  source: string;
  params: number;
}

const builds = new Map<OrtBuild, Promise<OrtModule>>();

function ortBuild(build: OrtBuild): Promise<OrtModule> {
  let p = builds.get(build);
  if (!p) {
    p = (async () => {
      const ort = (build === 'jsep' ? await import('onnxruntime-web') : await import('onnxruntime-web/webgpu')) as OrtModule;
      ort.env.wasm.wasmPaths = build === 'jsep' ? { mjs: jsepMjs, wasm: jsepWasm } : { mjs: asyncifyMjs, wasm: asyncifyWasm };
      return ort;
    })();
    builds.set(build, p);
  }
  return p;
}

// the last model made, kept for the next run of the same spec (a GPT-2-sized one takes seconds to make)
let cached: { key: string; model: LmModel } | undefined;

async function model(spec: LmPageSpec): Promise<LmModel> {
  const key = JSON.stringify([spec.model, spec.builtinFiles]);
  if (cached?.key !== key) {
    cached = undefined; // the old one may be collected before the new one is made
    const files = spec.builtinFiles && spec.model.id === 'builtin' ? urlModelFiles('/models/builtin-lm', spec.builtinFiles) : undefined;
    cached = { key, model: await makeModel(spec.model, files, spec.absentWhy) };
  }
  return cached.model;
}

function base64(a: Float32Array): string {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

async function run(spec: LmPageSpec): Promise<LmPageResult> {
  const m = await model(spec);
  const { batch, context } = spec.model;
  let adapter: string;
  let t: LmTiming;
  if (spec.engine === 'sae-lab') {
    if (spec.backend !== 'webgpu') throw new Error('the engine runs on WebGPU only');
    const d = await ourDevice();
    adapter = d.adapter;
    t = await timeOursLm(d.device, m, batch, context, spec.passes);
    if (d.errors.length) throw new Error(`WebGPU errors: ${d.errors.join('; ')}`);
  } else {
    const build = spec.build ?? 'jsep';
    const ort = await ortBuild(build);
    t = await timeOrtLm(ort, spec.backend, m, batch, context, spec.passes);
    if (spec.backend === 'wasm') {
      adapter = `CPU (${navigator.hardwareConcurrency} logical cores)`;
      t.detail += `, ${ort.env.wasm.numThreads ?? '?'} thread(s)`;
    } else {
      // onnxruntime asks navigator.gpu for its own adapter; name the one it got as the engine's is named
      const a = (ort.env.webgpu as { adapter?: GPUAdapter }).adapter;
      adapter = a?.info ? describeAdapter(a.info) : `${(await ourDevice()).adapter} (the tab's only adapter; this build does not expose the one it took)`;
    }
    t.detail += build === 'jsep' ? ', default build (JSEP)' : ', onnxruntime-web/webgpu (C++ WebGPU EP)';
  }
  const { logits, ...rest } = t;
  return { ...rest, adapter, logits: base64(logits), source: m.source, params: m.params };
}

const lmBench = { info: pageInfo, run };

declare global {
  interface Window {
    lmBench: typeof lmBench;
  }
}
window.lmBench = lmBench;
document.body.dataset.ready = 'true';
