// One timed forward run of the bench's LM part, shared by Node (bench/lm-bench.ts) and the bench page
// (bench/pages/lm.ts) so that both do the same: a warm-up pass (pipeline and shader compilation), then
// timed passes, each a full forward over B × T tokens with every position's logits read back to the CPU.
// This engine runs src/model/lm.ts; onnxruntime-web runs the model's ONNX export (bench/onnx/lm-graph.ts).
import type * as Ort from 'onnxruntime-web';
import { LanguageModel } from '../src/model/lm.ts';
import type { LmModel } from './lm-models.ts';
import { lmToOnnx } from './onnx/lm-graph.ts';

export interface LmTiming {
  ms_per_pass: number;
  passes: number;
  warmup_ms: number;
  /** from the model's weights to the first pass: uploads, or the export and session creation */
  setup_ms: number;
  /** the first timed pass's logits (B, T, vocab) */
  logits: Float32Array;
  detail: string;
}

/** a run whose warm-up pass took longer than this times one pass only (a 100M model on a software adapter) */
const LONG_PASS_MS = 10_000;

/** from `t0` (setup's start): one warm-up pass, then the timed passes; the first timed pass's logits */
async function timePasses(t0: number, forward: () => Promise<Float32Array>, passes: number): Promise<Omit<LmTiming, 'detail'>> {
  const t1 = performance.now();
  await forward();
  const t2 = performance.now();
  if (t2 - t1 > LONG_PASS_MS) passes = 1;
  let logits: Float32Array | undefined;
  for (let p = 0; p < passes; p++) {
    const out = await forward();
    logits ??= out;
  }
  const t3 = performance.now();
  return { ms_per_pass: (t3 - t2) / passes, passes, warmup_ms: t2 - t1, setup_ms: t1 - t0, logits: logits! };
}

export async function timeOursLm(device: GPUDevice, m: LmModel, batch: number, context: number, passes: number): Promise<LmTiming> {
  const t0 = performance.now();
  const lm = LanguageModel.create(device, m.config, m.weights, m.name, batch, context);
  try {
    await device.queue.onSubmittedWorkDone();
    const timing = await timePasses(t0, async () => (await lm.forward({ ids: m.ids, batch })).logits!, passes);
    return { ...timing, detail: 'src/model/lm.ts, f32' };
  } finally {
    lm.destroy();
  }
}

export type OrtModule = typeof Ort;

/**
 * `ep`: onnxruntime-web's execution provider ('webgpu' or 'wasm'); the session as a transformers.js user
 * gets it (graph optimisation 'all', onnxruntime's default), logits returned to the CPU.
 */
export async function timeOrtLm(ort: OrtModule, ep: 'webgpu' | 'wasm', m: LmModel, batch: number, context: number, passes: number): Promise<LmTiming> {
  const t0 = performance.now();
  const bytes = lmToOnnx(m.config, m.weights, batch, context, m.name);
  const session = await ort.InferenceSession.create(bytes, { executionProviders: [ep], graphOptimizationLevel: 'all' });
  try {
    const input = new ort.Tensor('int64', BigInt64Array.from(m.ids, (v) => BigInt(v)), [batch, context]);
    const forward = async () => {
      const out = await session.run({ input_ids: input });
      const logits = out.logits!;
      const data = (await logits.getData()) as Float32Array;
      for (const v of Object.values(out)) v.dispose();
      return data;
    };
    const timing = await timePasses(t0, forward, passes);
    const onnxMiB = (bytes.length / 2 ** 20).toFixed(0);
    return { ...timing, detail: `ONNX opset 17, ${onnxMiB} MiB, ${ep} EP` };
  } finally {
    await session.release();
  }
}

/** max |a − ref| / max |ref| over every logit */
export function relativeDeviation(a: Float32Array, ref: Float32Array): number {
  if (a.length !== ref.length) return Infinity;
  let dev = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(a[i]! - ref[i]!);
    if (!(d <= dev)) dev = d; // NaN propagates
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return dev / scale;
}
