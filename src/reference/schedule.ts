// The reference's schedules (RECIPE §1–2): learning rate, L1 warm-up, gradient clipping, the dead window.
import { CLIP_NORM, type TrainConfig } from '../engine/config.ts';

/** ceil(deadWindowTokens / B) (at least 1): steps without firing after which a latent counts as dead. */
export { deadSteps } from '../engine/config.ts';

/** First step of the linear decay: floor(0.8·T). */
export function decayStart(cfg: TrainConfig): number {
  return Math.floor(0.8 * cfg.steps);
}

/** lr·min(1, (T − t)/(T − decayStart)): constant, then linear decay to 0 over the last 20% of steps. */
export function lrAt(cfg: TrainConfig, t: number): number {
  const T = cfg.steps;
  const span = Math.max(1, T - decayStart(cfg));
  return cfg.lr * Math.min(1, (T - t) / span);
}

/** Steps of the L1 warm-up: max(1, floor(0.05·T)). */
export function l1WarmupSteps(cfg: TrainConfig): number {
  return Math.max(1, Math.floor(0.05 * cfg.steps));
}

/** λ·min(1, t / warm-up): 0 at t = 0, the full λ from 5% of the run on. */
export function l1At(cfg: TrainConfig, t: number): number {
  return cfg.l1 * Math.min(1, t / l1WarmupSteps(cfg));
}

/** PyTorch clip_grad_norm_ with max norm CLIP_NORM (1): the factor min(1, max/(norm + 1e-6)). */
export function clipScale(norm: number, maxNorm: number = CLIP_NORM): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}
