// The per-step scalars the CPU hands to the kernels (RECIPE §1–2): learning rate, λ, Adam's bias corrections.
// They depend only on (config, step), so they are computed here and never read back from the GPU.
import { ADAM, type TrainConfig } from './config.ts';

/** Constant, then linear decay to 0 over the last 20% of steps. */
export function learningRate(cfg: TrainConfig, step: number): number {
  const decayStart = Math.floor(0.8 * cfg.steps);
  if (step < decayStart) return cfg.lr;
  return cfg.lr * Math.min(1, (cfg.steps - step) / (cfg.steps - decayStart));
}

/** λ rises linearly from 0 over the first 5% of steps (standard SAE only). */
export function l1Coefficient(cfg: TrainConfig, step: number): number {
  const warmup = Math.max(1, Math.floor(0.05 * cfg.steps));
  return cfg.l1 * Math.min(1, step / warmup);
}

/** Adam's bias corrections for the 0-based step: bc = 1 − β^(step+1). */
export function biasCorrections(step: number): { bc1: number; bc2: number } {
  return { bc1: 1 - ADAM.beta1 ** (step + 1), bc2: 1 - ADAM.beta2 ** (step + 1) };
}
