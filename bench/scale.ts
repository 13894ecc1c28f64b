// `npm run bench:scale`: how large a dictionary one tab trains here — 65,536 features over d = 768 —
// on this machine's adapter through the same engine the page runs (Dawn in Node; the page's Chromium runs the
// same kernels on the same SwiftShader): its GPU memory (engine/memory.ts, and the feature shards it needs
// under this adapter's buffer limits) and its ms/step, TopK and the standard SAE, timed after the tuner and a
// warm-up step. Writes bench-scale.json beside a table. SAE_SCALE_STEPS: timed steps (default 2).
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { generateSynthetic } from '../src/data/synth.ts';
import { defaultConfig, type Arch } from '../src/engine/config.ts';
import { checkFits, estimateMemory } from '../src/engine/memory.ts';
import { requestNodeDevice } from '../src/engine/node-device.ts';
import { ARCH_STEPS } from '../src/engine/steps/index.ts';
import { timeEngine } from './engine-run.ts';
import { dataStats } from './workload.ts';

const D = 768;
const F = 65_536;
const B = 256;
const STEPS = Number(process.env.SAE_SCALE_STEPS ?? 2);
const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;

const gpu = await requestNodeDevice();
const { data } = generateSynthetic({ d: D, features: 4 * D, rows: 4 * B, seed: 0 });
const stats = dataStats(data, D);
const rows: Record<string, unknown>[] = [];
console.log(`${gpu.adapter}; ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(1)}; maxBufferSize ${mib(gpu.device.limits.maxBufferSize)}, maxStorageBufferBindingSize ${mib(gpu.device.limits.maxStorageBufferBindingSize)}`);
for (const arch of ['topk', 'standard'] as Arch[]) {
  const cfg = defaultConfig({ arch, d: D, features: F, batch: B, steps: 1000, k: 32, seed: 0 });
  const shards = checkFits(cfg, gpu.device.limits);
  const memory = estimateMemory(cfg, Math.max(...shards.map((s) => s.F)));
  const t0 = performance.now();
  const timing = await timeEngine(gpu.device, gpu.adapter, { cfg, stats, data, batch: (t) => data.subarray((t % 4) * B * D, ((t % 4) + 1) * B * D) }, 1, STEPS, { retune: false });
  const flops = ARCH_STEPS[arch].flops(cfg);
  const row = {
    arch, d: D, features: F, batch: B, shards: shards.length, gpu_memory_mib: Math.round(memory.total / 2 ** 20), largest_buffer: `${memory.largest.name} ${mib(memory.largest.bytes)}`,
    ms_per_step: Math.round(timing.ms_per_step), tokens_per_s: Math.round((B * 1000) / timing.ms_per_step), gflop_per_s: +(flops / timing.ms_per_step / 1e6).toFixed(2),
    timed_steps: STEPS, tuning_s: +(timing.tuning_ms / 1000).toFixed(1), wall_s: +((performance.now() - t0) / 1000).toFixed(0), kernels: timing.kernels,
    loss: timing.history.map((h) => h.loss),
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}
gpu.device.destroy();
console.log('\n| arch | d × F | batch | shards | GPU memory | ms/step | tokens/s | GFLOP/s |\n| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.arch} | ${D} × ${F} | ${B} | ${r.shards} | ${r.gpu_memory_mib} MiB | ${r.ms_per_step} | ${r.tokens_per_s} | ${r.gflop_per_s} |`);
writeFileSync('bench-scale.json', JSON.stringify({ adapter: gpu.adapter, cpus: cpus().length, date: new Date().toISOString(), rows }, null, 2) + '\n');
