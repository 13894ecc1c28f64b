// The scaling view's figures (docs/RECIPE.md §10), drawn the same way for `sae-lab sweep` and the page: held-out
// loss against training compute with the frontier and its power-law fit, and FVU against L0, with every run's
// numbers as CSV. A sweep over sparsity too (k, λ or JumpReLU's L0 coefficient) gets a frontier and fit per
// sparsity: a denser SAE reconstructs better at any compute, so one frontier across them would only pick the
// densest.
import { bestSizes, fitFrontier, frontier, type PowerLawFit } from '../analysis/scaling.ts';
import { sparsityKnob, type TrainConfig } from '../engine/config.ts';
import { ARCH_STEPS } from '../engine/steps/index.ts';
import { lineFigure, type Figure, type Series } from './figures.ts';

/** one finished run of the grid, as sweep.json lists it */
export interface SweepRun {
  features: number;
  steps: number;
  /** training FLOPs: steps × the step's (RECIPE §10) */
  compute: number;
  /** held-out FVU, the loss the scaling view plots */
  loss: number;
  mse_per_token: number;
  l0: number;
  dead_frac_eval: number;
  seconds: number;
  /** the run's sparsity setting, e.g. 'k=16', 'λ=5' or 'c=0.1' */
  sparsity: string;
  /** the run's name: its folder (CLI) or label (page) */
  folder: string;
}

/** 'k=16', 'λ=5', 'c=0.1': a configuration's sparsity setting */
export function sparsityOf(cfg: TrainConfig): string {
  const { option, symbol } = sparsityKnob(cfg.arch);
  return `${symbol}=${cfg[option]}`;
}

/** a finished run as the scaling view plots it: its compute from the registry's FLOPs (RECIPE §10), its held-out metrics */
export function sweepRun(cfg: TrainConfig, m: { fvu: number; mse_per_token: number; l0: number; dead_frac_eval: number; seconds: number }, folder: string): SweepRun {
  return {
    features: cfg.features, steps: cfg.steps, compute: cfg.steps * ARCH_STEPS[cfg.arch].flops(cfg), loss: m.fvu,
    mse_per_token: m.mse_per_token, l0: m.l0, dead_frac_eval: m.dead_frac_eval, seconds: m.seconds, sparsity: sparsityOf(cfg), folder,
  };
}

export interface SparsityGroup {
  sparsity: string;
  frontier: SweepRun[];
  fit: PowerLawFit | null;
  best: { compute: number; features: number }[];
}

/** the runs by sparsity setting, in the order first met, each with its own frontier, fit and best sizes */
export function sparsityGroups(runs: SweepRun[]): SparsityGroup[] {
  return [...new Set(runs.map((r) => r.sparsity))].map((sparsity) => {
    const own = runs.filter((r) => r.sparsity === sparsity);
    return { sparsity, frontier: frontier(own), fit: fitFrontier(own), best: bestSizes(own) };
  });
}

/** the fit in words: L = a·C^(−α ± se) ± L∞ (± se) over its points */
export function fitSentence(fit: PowerLawFit): string {
  const floor = `${fit.lInf < 0 ? '−' : '+'} ${Math.abs(fit.lInf).toPrecision(3)}${fit.se ? ` (± ${fit.se.lInf.toPrecision(2)})` : ''}`;
  return `L = ${fit.a.toPrecision(3)}·C^(−${fit.alpha.toFixed(3)}${fit.se ? ` ± ${fit.se.alpha.toFixed(3)}` : ''}) ${floor} (${fit.points} points${fit.se ? '' : ', too few for standard errors'})`;
}

/** the scaling view's figures: loss against compute (every run, the frontier, the fit; per sparsity if it varies) and FVU against L0 */
export function sweepFigures(runs: SweepRun[], title: string): Figure[] {
  const sizes = [...new Set(runs.map((r) => r.features))].sort((a, b) => a - b);
  const palette = ['#3b6ea5', '#e07b39', '#5a9e6f', '#a05195', '#c9a227', '#6b6b6b', '#2f9fb0', '#bf3b3b'];
  const bySize = sizes.map((F, i) => {
    const own = runs.filter((r) => r.features === F).sort((a, b) => a.compute - b.compute);
    return { F, own, color: palette[i % palette.length]! };
  });
  const groups = sparsityGroups(runs);
  const log = Math.log10;
  const fitLine = (fit: PowerLawFit, front: SweepRun[], label: string, color: string): Series => {
    const xs = front.map((r) => log(r.compute));
    const lo = Math.min(...xs);
    const hi = Math.max(...xs);
    const x = Array.from({ length: 24 }, (_, i) => lo + ((hi - lo) * i) / 23);
    return { label, color, x, y: x.map((c) => log(fit.a * 10 ** (-fit.alpha * c) + fit.lInf)) };
  };
  const line = (label: string, color: string, rs: SweepRun[], markers = false): Series => ({ label, color, markers, x: rs.map((r) => log(r.compute)), y: rs.map((r) => log(r.loss)) });
  let series: Series[];
  let fitText: string;
  if (groups.length === 1) {
    const [{ frontier: front, fit }] = groups as [SparsityGroup];
    series = [...bySize.map(({ F, own, color }) => line(`F=${F}`, color, own, true)), line('frontier', '#1f2933', front)];
    if (fit) series.push(fitLine(fit, front, 'fit', '#9aa5b1'));
    fitText = fit ? ` Fit of the frontier: ${fitSentence(fit)}.` : ' Too few frontier points (fewer than 3) to fit a power law.';
  } else {
    // one frontier and fit per sparsity; each run's point is in the CSV and the FVU–L0 figure
    series = groups.flatMap((g, i) => {
      const color = palette[i % palette.length]!;
      return [line(`${g.sparsity} frontier`, color, g.frontier, true), ...(g.fit ? [fitLine(g.fit, g.frontier, `${g.sparsity} fit`, `${color}80`)] : [])];
    });
    fitText = ' ' + groups.map((g) => `${g.sparsity}: ${g.fit ? fitSentence(g.fit) : 'too few frontier points to fit'}.`).join(' ');
  }
  const what = groups.length === 1 ? 'every run by dictionary size, the compute-efficient frontier and its fit' : 'the compute-efficient frontier of each sparsity and its fit';
  const scaling = lineFigure('scaling', `${title}: held-out FVU against training compute, ${what} (log10 axes).${fitText}`, {
    xLabel: 'log10 training compute (FLOPs)', yLabel: 'log10 held-out FVU', series,
  });
  // with sparsity varied, each size's curve is its longest runs across the sparsities: the trade-off itself
  const traded = (own: SweepRun[]) => (groups.length === 1 ? own : own.filter((r) => r.steps === Math.max(...own.map((x) => x.steps))));
  const tradeoff = lineFigure('fvu-l0', `${title}: held-out FVU against L0, ${groups.length === 1 ? 'every run' : 'each size at its most steps, over the sparsities'}, by dictionary size (the sparsity–fidelity trade-off).`, {
    xLabel: 'L0 (held-out)', yLabel: 'held-out FVU',
    series: bySize.map(({ F, own, color }) => {
      const byL0 = [...traded(own)].sort((a, b) => a.l0 - b.l0);
      return { label: `F=${F}`, color, markers: true, x: byL0.map((r) => r.l0), y: byL0.map((r) => r.loss) };
    }),
  });
  // the numbers: every run, not the figure's polylines
  const csv = ['features,steps,sparsity,compute,fvu,mse_per_token,l0,dead_frac_eval', ...runs.map((r) => [r.features, r.steps, r.sparsity, r.compute, r.loss, r.mse_per_token, r.l0, r.dead_frac_eval].join(','))].join('\n') + '\n';
  return [{ ...scaling, data: { csv } }, { ...tradeoff, data: { csv } }];
}
