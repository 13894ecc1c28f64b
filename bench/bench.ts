// npm run bench — training speed of this engine on the adapter at hand (Dawn in Node), at the shapes of the
// speed issue: small (d=64, F=512, B=256), demo (d=512, F=4096, B=1024) and large (d=768, F=32768, B=4096,
// run only when the adapter is fast enough to finish it in the time budget). Prints a table and writes
// bench-results.json: one entry per engine × backend × shape × arch.
// GFLOP/s counts useful work only: a dense step is 10·B·d·F (forward 4·B·d·F, backward 6·B·d·F); a TopK
// step is its dense encoder, 2·B·d·F, plus 2·B·d per kept latent for each of decode, h, ∂W_dec and ∂W_enc,
// with k + k_aux latents (an upper bound: AuxK only runs while latents are dead).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSynthetic } from '../src/data/synth.ts';
import { defaultConfig, type Arch, type TrainConfig } from '../src/engine/config.ts';
import { initParams } from '../src/engine/init.ts';
import { estimateMemory, checkFits } from '../src/engine/memory.ts';
import { requestNodeDevice } from '../src/engine/node-device.ts';
import { Trainer } from '../src/engine/trainer.ts';

interface Shape {
  name: string;
  d: number;
  features: number;
  batch: number;
  warmup: number;
  steps: number;
}

const SHAPES: Shape[] = [
  { name: 'small', d: 64, features: 512, batch: 256, warmup: 5, steps: 30 },
  { name: 'demo', d: 512, features: 4096, batch: 1024, warmup: 1, steps: 3 },
  { name: 'large', d: 768, features: 32768, batch: 4096, warmup: 1, steps: 3 },
];
const ARCHES: Arch[] = ['standard', 'topk'];
const BUDGET_S = Number(process.env.SAE_BENCH_BUDGET_S ?? 900);

export function usefulFlops(cfg: TrainConfig): number {
  const { batch: B, d, features: F } = cfg;
  if (cfg.arch === 'standard') return 10 * B * d * F;
  return 2 * B * d * F + 4 * 2 * B * d * (cfg.k + cfg.kAux);
}

const gpu = await requestNodeDevice();
const results: Record<string, unknown>[] = [];
const rows: string[] = [];
const started = performance.now();
try {
  for (const shape of SHAPES) {
    const synth = generateSynthetic({ d: shape.d, features: shape.d * 4, rows: shape.batch * 4, seed: 0 });
    for (const arch of ARCHES) {
      const cfg = defaultConfig({ arch, d: shape.d, features: shape.features, batch: shape.batch, steps: 1000, k: 32, seed: 0 });
      const entry = { engine: 'sae-lab', backend: 'webgpu (Dawn, Node)', adapter: gpu.adapter, shape: { d: cfg.d, F: cfg.features, B: cfg.batch, arch, k: arch === 'topk' ? cfg.k : null } };
      const elapsed = (performance.now() - started) / 1000;
      const skip = skipReason(cfg, gpu.device.limits, elapsed, results);
      if (skip) {
        results.push({ ...entry, skipped: skip });
        rows.push(row(shape.name, arch, null, skip));
        continue;
      }
      const stats = { scale: 1, mean: new Float64Array(cfg.d), variance: cfg.d };
      const trainer = Trainer.create(gpu.device, cfg, stats, initParams(cfg, stats), { metricsEvery: 10 });
      const batch = (t: number) => synth.data.subarray(((t % 4) * cfg.batch) * cfg.d, ((t % 4) + 1) * cfg.batch * cfg.d);
      for (let t = 0; t < shape.warmup; t++) await trainer.step(batch(t));
      await gpu.device.queue.onSubmittedWorkDone();
      const t0 = performance.now();
      for (let t = shape.warmup; t < shape.warmup + shape.steps; t++) await trainer.step(batch(t));
      await gpu.device.queue.onSubmittedWorkDone();
      const ms = (performance.now() - t0) / shape.steps;
      const history = await trainer.flushMetrics();
      trainer.destroy();
      const r = {
        ...entry,
        steps: shape.steps,
        ms_per_step: ms,
        tokens_per_s: (cfg.batch * 1000) / ms,
        gflops: usefulFlops(cfg) / ms / 1e6,
        final_loss: history[history.length - 1]?.loss ?? null,
        gemm_variant: trainer.variants.matmul,
      };
      results.push(r);
      rows.push(row(shape.name, arch, r));
      console.error(rows[rows.length - 1]);
    }
  }
} finally {
  gpu.device.destroy();
}

function skipReason(cfg: TrainConfig, limits: GPUSupportedLimits, elapsed: number, done: Record<string, unknown>[]): string | null {
  try {
    checkFits(cfg, limits);
  } catch (e) {
    return `does not fit: ${(e as Error).message}`;
  }
  // Predict from the measured GFLOP/s of the same arch at the previous shape.
  const prev = [...done].reverse().find((r) => (r.shape as { arch: string }).arch === cfg.arch && typeof r.gflops === 'number');
  if (prev) {
    const predicted = (usefulFlops(cfg) / ((prev.gflops as number) * 1e9)) * 4;
    if (elapsed + predicted > BUDGET_S) return `predicted ${predicted.toFixed(0)} s at ${(prev.gflops as number).toFixed(2)} GFLOP/s; over the ${BUDGET_S} s budget (memory ${(estimateMemory(cfg).total / 2 ** 20).toFixed(0)} MiB)`;
  }
  return null;
}

function row(shape: string, arch: string, r: Record<string, unknown> | null, note = ''): string {
  if (!r) return `| ${shape} | ${arch} | — | — | — | ${note} |`;
  const f = (x: unknown, p: number) => (x as number).toFixed(p);
  return `| ${shape} | ${arch} | ${f(r.ms_per_step, 1)} | ${Math.round(r.tokens_per_s as number)} | ${f(r.gflops, 2)} | gemm ${r.gemm_variant} |`;
}

const table = ['| shape | arch | ms/step | tokens/s | GFLOP/s | note |', '|---|---|---|---|---|---|', ...rows].join('\n');
console.log(`adapter: ${gpu.adapter}\n${table}`);
writeFileSync(join(process.cwd(), 'bench-results.json'), JSON.stringify(results, null, 2) + '\n');
