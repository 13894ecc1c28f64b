// The one training loop the page's GPU worker and the CLI both run: batches read PREFETCH_DEPTH steps ahead
// of the GPU (data/prefetch.ts), one trainer step each, and the caller's hooks between steps (other GPU
// jobs, checkpoints, progress). It stops at `steps` or when `stopped()` says so.
import type { RowBatchSource } from '../data/batches.ts';
import { BatchPrefetcher, type StreamStats } from '../data/prefetch.ts';
import type { Trainer } from './trainer.ts';

/** batches read ahead of the GPU: enough to hide a store's latency, few enough to keep memory small */
export const PREFETCH_DEPTH = 2;

export interface TrainLoopOptions {
  trainer: Trainer;
  batches: RowBatchSource;
  /** the step to train up to (exclusive) */
  steps: number;
  /** asked before each step: true ends the loop there */
  stopped?: () => boolean;
  /** awaited after the batch is read and before its step (the page lets waiting GPU jobs through here) */
  beforeStep?: () => Promise<void>;
  /** awaited after each step with the number of steps done and the stream's statistics */
  afterStep?: (done: number, stream: () => StreamStats) => Promise<void> | void;
}

/** Trains from the trainer's current step; resolves with the seconds it took. */
export async function trainSteps(o: TrainLoopOptions): Promise<{ first: number; seconds: number }> {
  const first = o.trainer.stepCount;
  const t0 = performance.now();
  if (first >= o.steps) return { first, seconds: 0 };
  const stream = new BatchPrefetcher(o.batches, first, o.steps, PREFETCH_DEPTH);
  const stats = () => stream.stats();
  for (let step = first; step < o.steps && !o.stopped?.(); step++) {
    const batch = await stream.take();
    await o.beforeStep?.();
    await o.trainer.step(batch);
    await o.afterStep?.(step + 1, stats);
  }
  return { first, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Several runs side by side on the same batches: one pass over the data for all of them, as SAELens's
 * multi-SAE runner trains. Their batch streams must be the same (one batch size, seed and split): each run
 * then trains exactly as it would alone. A run stops at its own step count; the loop at the longest.
 */
export async function trainStepsTogether(o: { runs: { trainer: Trainer; steps: number }[]; batches: RowBatchSource; afterStep?: (done: number) => void }): Promise<{ seconds: number[] }> {
  const t0 = performance.now();
  const first = Math.min(...o.runs.map((r) => r.trainer.stepCount));
  const end = Math.max(...o.runs.map((r) => r.steps));
  // each run's wall time: from the start until the step it ends at was submitted
  const seconds = o.runs.map(() => 0);
  const stream = new BatchPrefetcher(o.batches, first, end, PREFETCH_DEPTH);
  for (let step = first; step < end; step++) {
    const batch = await stream.take();
    for (const [i, r] of o.runs.entries()) {
      if (r.trainer.stepCount !== step || step >= r.steps) continue;
      await r.trainer.step(batch);
      if (step + 1 === r.steps) seconds[i] = (performance.now() - t0) / 1000;
    }
    o.afterStep?.(step + 1);
  }
  return { seconds };
}
