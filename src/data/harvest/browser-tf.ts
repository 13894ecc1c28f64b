// TF.js for the browser: tfjs-core + tfjs-converter + the WASM backend (4.22), the .wasm binaries served by
// Vite from the app's own origin (imported with ?url, so the build copies them and no CDN is asked). The
// backend picks its binary itself: threaded SIMD when the page (or worker) is cross-origin isolated and
// SharedArrayBuffer exists, SIMD otherwise, plain WASM without SIMD. The Node path (node-model.ts) uses
// the same backend from @energetic-ai/core (TF.js 4.5, SIMD, no threads).
import { getThreadsCount, setThreadsCount, setWasmPaths, version_wasm } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { loadGraphModel, version_converter } from '@tensorflow/tfjs-converter';
import * as tf from '@tensorflow/tfjs-core';
import type { GraphModelLike, TensorLike, TfLoader } from './model.ts';

/** what model.ts needs (TfLoader), plus what the page may want to know about the backend */
export interface BrowserTf extends TfLoader {
  /** 'wasm' */
  backend: string;
  /** the WASM build in use */
  build: 'threaded-simd' | 'simd' | 'plain';
  /** XNNPACK's thread-pool size (1 without threads; hardwareConcurrency / 2 by default) */
  threads: number;
  /** whether this context is cross-origin isolated (needed for threads) */
  crossOriginIsolated: boolean;
  /** versions of the TF.js packages, e.g. { 'tfjs-core': '4.22.0', … } */
  version: Record<string, string>;
}

export interface BrowserTfOptions {
  /**
   * XNNPACK threads. The backend caps any request at navigator.hardwareConcurrency / 2 (between 1 and 8), so
   * this can only lower its default; on 2 logical cores it is 1 thread (docs/HARVEST.md, "In the browser").
   */
  threads?: number;
}

let loading: Promise<BrowserTf> | undefined;

/** TF.js with the WASM backend ready. The first call's options win: the backend initializes only once. */
export function browserTf(opts: BrowserTfOptions = {}): Promise<BrowserTf> {
  loading ??= init(opts).catch((e: unknown) => {
    loading = undefined;
    throw e instanceof Error ? e : new Error(`TF.js WASM backend: ${(e as { message?: string })?.message ?? String(e)}`);
  });
  return loading;
}

async function init(opts: BrowserTfOptions): Promise<BrowserTf> {
  setWasmPaths({
    'tfjs-backend-wasm.wasm': wasmPlain,
    'tfjs-backend-wasm-simd.wasm': wasmSimd,
    'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimd,
  });
  if (opts.threads !== undefined) setThreadsCount(opts.threads);
  if (!(await failFast(tf.setBackend('wasm')))) throw new Error('TF.js: the WASM backend failed to initialize');
  await tf.ready();
  const [simd, threaded] = await Promise.all([
    tf.env().getAsync('WASM_HAS_SIMD_SUPPORT') as Promise<boolean>,
    tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT') as Promise<boolean>,
  ]);
  return {
    backend: tf.getBackend(),
    build: simd && threaded ? 'threaded-simd' : simd ? 'simd' : 'plain',
    threads: getThreadsCount(),
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    version: { 'tfjs-core': tf.version_core, 'tfjs-converter': version_converter, 'tfjs-backend-wasm': version_wasm },
    tensor1d: (values, dtype) => tf.tensor1d(values, dtype) as TensorLike,
    tensor2d: (values, shape, dtype) => tf.tensor2d(values, shape, dtype) as TensorLike,
    tensor: (values, shape, dtype) => tf.tensor(values, shape, dtype) as TensorLike,
    loadGraphModel: async (url) => (await loadGraphModel(url)) as unknown as GraphModelLike,
  };
}

/** ms the backend may take to start before it is given up */
const START_TIMEOUT_MS = 60_000;

/**
 * The backend's start, or an error: when a thread of the threaded build fails to start (its error reaches
 * this context as an uncaught error) TF.js never settles, so the first such error, or a timeout, ends it.
 */
async function failFast<T>(start: Promise<T>): Promise<T> {
  let onError: ((e: ErrorEvent) => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const failed = new Promise<never>((_, reject) => {
    onError = (e) => {
      const inner = (e.error as { message?: unknown } | null)?.message; // a thread's own ErrorEvent, rethrown here
      reject(new Error(`TF.js WASM backend: a thread failed to start: ${typeof inner === 'string' ? inner : e.message}`));
    };
    globalThis.addEventListener?.('error', onError);
    timer = setTimeout(() => reject(new Error(`TF.js WASM backend: not started after ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
  });
  try {
    return await Promise.race([start, failed]);
  } finally {
    if (onError) globalThis.removeEventListener?.('error', onError);
    clearTimeout(timer);
  }
}
