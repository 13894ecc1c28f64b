// This engine's timed run, shared by the bench's Node side (Dawn) and its page (Chromium) so both do the
// same: the start-up tuner chooses the GEMM kernels (twice, from scratch, to show that a rerun picks the
// same), then warm-up steps, then timed steps ending when the device has finished.
import { initParams } from '../src/engine/init.ts';
import { Trainer } from '../src/engine/trainer.ts';
import type { StepMetrics } from '../src/engine/run-state.ts';
import { describeKernels, describeTuning, tuneStep } from '../src/engine/tuner.ts';
import type { Workload } from './workload.ts';

export interface EngineTiming {
  /** the kernels run, e.g. "GEMM kernels: encode vec4x8 · …" */
  kernels: string;
  /** the first tuning: one line per GEMM with each variant's time */
  tuning: string[];
  tuning_ms: number;
  /** null when both tunings chose the same (or there was one); else what the second chose */
  retune_differs: string | null;
  ms_per_step: number;
  warmup_ms: number;
  /** every step's metrics, warm-up included */
  history: StepMetrics[];
  /** with `profile`: one more step, each kernel timed alone (Trainer.profileStep), ms summed per kernel, largest first */
  profile?: { kernel: string; ms: number }[];
}

/** `retune`: tune a second time from scratch and report whether it chose the same; `profile`: see EngineTiming. */
export async function timeEngine(device: GPUDevice, adapter: string, w: Workload, warmup: number, steps: number, o: { retune?: boolean; profile?: boolean } = {}): Promise<EngineTiming> {
  const retune = o.retune ?? true;
  const first = await tuneStep(device, adapter, w.cfg);
  const second = retune ? await tuneStep(device, adapter, w.cfg) : first;
  const kernels = describeKernels({ matmul: first.choices });
  const again = describeKernels({ matmul: second.choices });
  const trainer = Trainer.create(device, w.cfg, w.stats, initParams(w.cfg, w.stats), { metricsEvery: 50, gemms: first.choices });
  try {
    const start = performance.now();
    for (let t = 0; t < warmup; t++) await trainer.step(w.batch(t));
    await device.queue.onSubmittedWorkDone();
    const t0 = performance.now();
    for (let t = warmup; t < warmup + steps; t++) await trainer.step(w.batch(t));
    await device.queue.onSubmittedWorkDone();
    const t1 = performance.now();
    const history = await trainer.flushMetrics();
    const profile = o.profile ? byKernel(await trainer.profileStep(w.batch(warmup + steps))) : undefined;
    return {
      kernels,
      tuning: describeTuning(first),
      tuning_ms: first.ms,
      retune_differs: again === kernels ? null : again,
      ms_per_step: (t1 - t0) / steps,
      warmup_ms: t0 - start,
      history,
      ...(profile ? { profile } : {}),
    };
  } finally {
    trainer.destroy();
  }
}

function byKernel(times: { kernel: string; ms: number }[]): { kernel: string; ms: number }[] {
  const sums = new Map<string, number>();
  for (const t of times) sums.set(t.kernel, (sums.get(t.kernel) ?? 0) + t.ms);
  return [...sums].map(([kernel, ms]) => ({ kernel, ms })).sort((a, b) => b.ms - a.ms);
}
