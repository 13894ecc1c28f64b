// The run's configuration: everything that decides the math of a step. Shared by the GPU trainer,
// the float64 reference trainer and the CLI, so both trainers read the same numbers.

export type Arch = 'standard' | 'topk' | 'jumprelu' | 'batchtopk' | 'matryoshka';

/** TopK's family: k latents per row (unit decoder rows, b_dec from the data mean, AuxK on the dead) */
export function keepsK(arch: Arch): boolean {
  return arch === 'topk' || batchK(arch);
}

/** the setting that sets an architecture's sparsity: k for TopK's family, λ (l1) for the standard SAE, the L0 coefficient c for JumpReLU */
export function sparsityKnob(arch: Arch): { option: 'k' | 'l1' | 'l0'; symbol: string } {
  return keepsK(arch) ? { option: 'k', symbol: 'k' } : arch === 'jumprelu' ? { option: 'l0', symbol: 'c' } : { option: 'l1', symbol: 'λ' };
}

/** BatchTopK's family: k per row on average over the batch, and the batch threshold it is saved with */
export function batchK(arch: Arch): boolean {
  return arch === 'batchtopk' || arch === 'matryoshka';
}

/** JumpReLU's sparsity penalty: the L0 through the step function (Gemma Scope), or Σ tanh(s·f·‖W_dec‖) (Anthropic, 2025) */
export type JumpMode = 'step' | 'tanh';

export interface TrainConfig {
  arch: Arch;
  /** input width */
  d: number;
  /** dictionary size */
  features: number;
  /** rows per step */
  batch: number;
  /** total steps; the schedules are defined over this many */
  steps: number;
  /** Adam learning rate before decay */
  lr: number;
  /** standard: L1 coefficient λ (reached after the 5% warm-up) */
  l1: number;
  /** jumprelu: the sparsity coefficient c (reached after the 5% warm-up) */
  l0: number;
  /** jumprelu: which sparsity penalty */
  jumpMode: JumpMode;
  /** jumprelu: ε, the width of the straight-through estimators' rectangle kernel */
  bandwidth: number;
  /** jumprelu: every threshold's initial value */
  thresholdInit: number;
  /** jumprelu, tanh penalty: its scale s */
  tanhScale: number;
  /** jumprelu: the pre-activation loss's coefficient on dead latents (0: off) */
  preAct: number;
  /** batchtopk: the rate of the batch threshold's moving average (the threshold it is saved with) */
  thresholdLr: number;
  /** matryoshka: the nested dictionary sizes, increasing, the last = features (each inner one adds a loss) */
  widths: number[];
  /** topk: latents kept per row; batchtopk, matryoshka: per row on average over the batch */
  k: number;
  /** topk: AuxK latents per row (default d/2) */
  kAux: number;
  /** topk: AuxK loss weight α (default 1/32) */
  auxAlpha: number;
  /** a latent is dead after this many training tokens without firing (rounded up to whole batches) */
  deadWindowTokens: number;
  /** seeds the initialisation and the batch order */
  seed: number;
}

/** Statistics of the (raw) data, estimated once before training from a sample. */
export interface DataStats {
  /** s = sqrt(d) / E‖x‖: training inputs are x' = s·x */
  scale: number;
  /** mean of the scaled sample, length d (TopK initialises b_dec to it) */
  mean: Float64Array;
  /** v = mean over the sample of ‖x' − mean(x')‖² (TopK's loss normaliser) */
  variance: number;
}

export const ADAM = { beta1: 0.9, beta2: 0.999 } as const;
export const ADAM_EPS: Record<Arch, number> = { standard: 1e-8, topk: 6.25e-10, jumprelu: 1e-8, batchtopk: 6.25e-10, matryoshka: 6.25e-10 };
/** Global gradient-norm clip for the standard SAE (the others train unclipped). */
export const CLIP_NORM = 1.0;

export function defaultConfig(partial: Partial<TrainConfig> & Pick<TrainConfig, 'd'>): TrainConfig {
  const arch = partial.arch ?? 'standard';
  const steps = partial.steps ?? 2000;
  const batch = partial.batch ?? 512;
  const cfg: TrainConfig = {
    arch,
    d: partial.d,
    features: partial.features ?? partial.d * 8,
    batch,
    steps,
    lr: partial.lr ?? (arch === 'standard' ? 3e-3 : 1e-3),
    l1: partial.l1 ?? 2,
    l0: partial.l0 ?? 1,
    jumpMode: partial.jumpMode ?? 'step',
    // in the scaled units (E‖x'‖ = √d); SAELens's 0.05 and 0.01 are for activations as they come
    bandwidth: partial.bandwidth ?? 0.5,
    thresholdInit: partial.thresholdInit ?? 0.5,
    tanhScale: partial.tanhScale ?? 4,
    preAct: partial.preAct ?? 0,
    thresholdLr: partial.thresholdLr ?? 0.01,
    widths: partial.widths ?? defaultWidths(partial.features ?? partial.d * 8),
    k: partial.k ?? 32,
    kAux: partial.kAux ?? Math.max(1, Math.floor(partial.d / 2)),
    auxAlpha: partial.auxAlpha ?? 1 / 32,
    deadWindowTokens: partial.deadWindowTokens ?? Math.min(10_000_000, Math.floor(0.25 * steps * batch)),
    seed: partial.seed ?? 0,
  };
  return cfg;
}

/** Matryoshka's nesting when none is given: 1/16, 1/4 and all of the dictionary (the sizes that exist) */
export function defaultWidths(F: number): number[] {
  return [...new Set([Math.floor(F / 16), Math.floor(F / 4), F].filter((w) => w >= 1))];
}

/** the refusal of Matryoshka widths that are not strictly increasing or do not end at the dictionary size */
export function checkMatryoshkaWidths(widths: readonly number[], F: number): void {
  if (widths.length === 0) throw new RangeError('Matryoshka widths: none given');
  for (let w = 0; w < widths.length; w++) {
    const v = widths[w]!;
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`Matryoshka widths: ${v} is not a positive integer`);
    if (w > 0 && v <= widths[w - 1]!) throw new RangeError(`Matryoshka widths must increase: ${widths[w - 1]} is followed by ${v}`);
  }
  if (widths[widths.length - 1] !== F) throw new RangeError(`Matryoshka widths must end at the dictionary size ${F}; the last is ${widths[widths.length - 1]}`);
}

/** Steps without firing after which a latent counts as dead: ceil(W / B). */
export function deadSteps(cfg: TrainConfig): number {
  return Math.max(1, Math.ceil(cfg.deadWindowTokens / cfg.batch));
}
