// TopK against the dense standard SAE of the same size, the speed issue's sparse target: d=512, F=16384,
// B=256, k=32, k_aux=d/2=256, in Node (Dawn). The dead window is one batch, so from the second step every
// latent that did not fire in the step before is dead and AuxK selects, decodes and back-propagates its
// 256 latents per row: the timed TopK steps do all of AuxK's work.
import { defaultConfig, type Arch } from '../src/engine/config.ts';
import { generateSynthetic } from '../src/data/synth.ts';
import { timeEngine } from './engine-run.ts';
import { dataStats, usefulFlops, type Workload } from './workload.ts';

export const SPARSE_SHAPE = { d: 512, features: 16384, batch: 256, k: 32 };

export interface SparseRun {
  arch: Arch;
  kernels: string;
  warmup: number;
  steps: number;
  ms_per_step: number;
  tokens_per_s: number;
  gflops: number;
  final_loss: number | null;
  /** dead latents at each timed step (AuxK runs when this is > 0) */
  dead: number[];
  /** one further step with each kernel timed alone: where the time goes */
  profile: { kernel: string; ms: number }[];
}

export interface SparseVersusDense {
  runs: SparseRun[];
  /** TopK tokens/s over the dense standard SAE's */
  ratio: number;
}

export async function sparseVersusDense(device: GPUDevice, adapter: string, log: (line: string) => void): Promise<SparseVersusDense> {
  const { d, features, batch, k } = SPARSE_SHAPE;
  const { data } = generateSynthetic({ d, features: 4 * d, rows: 2 * batch, seed: 0 });
  const stats = dataStats(data, d);
  const runs: SparseRun[] = [];
  for (const arch of ['standard', 'topk'] as const) {
    const cfg = defaultConfig({ arch, d, features, batch, k, steps: 1000, seed: 0, deadWindowTokens: batch });
    const w: Workload = { cfg, stats, data, batch: (t) => data.subarray((t % 2) * batch * d, ((t % 2) + 1) * batch * d) };
    const warmup = 1;
    const steps = 2;
    const r = await timeEngine(device, adapter, w, warmup, steps, { retune: false, profile: true });
    const run: SparseRun = {
      arch, kernels: r.kernels, warmup, steps, ms_per_step: r.ms_per_step,
      tokens_per_s: (batch * 1000) / r.ms_per_step,
      gflops: usefulFlops(cfg) / r.ms_per_step / 1e6,
      final_loss: r.history.at(-1)?.loss ?? null,
      dead: r.history.slice(warmup).map((m) => m.dead),
      profile: r.profile ?? [],
    };
    runs.push(run);
    log(`[bench] TopK vs dense: ${arch} ${run.ms_per_step.toFixed(0)} ms/step (${r.kernels}; tuned in ${(r.tuning_ms / 1000).toFixed(1)} s)`);
  }
  return { runs, ratio: runs[1]!.tokens_per_s / runs[0]!.tokens_per_s };
}
