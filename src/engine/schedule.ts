// The per-step scalars the CPU hands to the kernels (RECIPE §1–2): learning rate, λ, Adam's bias corrections.
// They depend only on (config, step), so they are computed here and never read back from the GPU.
import { ADAM, ADAM_EPS, type TrainConfig } from './config.ts';

/** Constant, then linear decay to 0 over the last 20% of steps. */
export function learningRate(cfg: TrainConfig, step: number): number {
  const decayStart = Math.floor(0.8 * cfg.steps);
  if (step < decayStart) return cfg.lr;
  return cfg.lr * Math.min(1, (cfg.steps - step) / (cfg.steps - decayStart));
}

/** A sparsity coefficient's share at a step: it rises linearly from 0 over the first 5% of steps. */
function warmUp(cfg: TrainConfig, step: number): number {
  return Math.min(1, step / Math.max(1, Math.floor(0.05 * cfg.steps)));
}

/** λ, the standard SAE's L1 coefficient, at a step */
export function l1Coefficient(cfg: TrainConfig, step: number): number {
  return cfg.l1 * warmUp(cfg, step);
}

/** c, JumpReLU's sparsity coefficient, at a step (the pre-activation loss is not warmed up) */
export function l0Coefficient(cfg: TrainConfig, step: number): number {
  return cfg.l0 * warmUp(cfg, step);
}

/** Adam's uniform at a step for `n` parameters (n a multiple of 4) */
export function adamValues(cfg: TrainConfig, step: number, n: number): Record<string, number> {
  const { bc1, bc2 } = biasCorrections(step);
  return { n, lr_over_bc1: learningRate(cfg, step) / bc1, sqrt_bc2: Math.sqrt(bc2), beta1: ADAM.beta1, beta2: ADAM.beta2, eps: ADAM_EPS[cfg.arch] };
}

/** Adam's bias corrections for the 0-based step: bc = 1 − β^(step+1). */
export function biasCorrections(step: number): { bc1: number; bc2: number } {
  return { bc1: 1 - ADAM.beta1 ** (step + 1), bc2: 1 - ADAM.beta2 ** (step + 1) };
}
