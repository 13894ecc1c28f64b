// The scaling view's figures (docs/RECIPE.md §10), drawn the same way for `sae-lab sweep` and the page: held-out
// loss against training compute with the frontier and its power-law fit, and FVU against L0, with every run's
// numbers as CSV.
import { frontier, type PowerLawFit } from '../analysis/scaling.ts';
import type { TrainConfig } from '../engine/config.ts';
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
  /** the run's name: its folder (CLI) or label (page) */
  folder: string;
}

/** a finished run as the scaling view plots it: its compute from the registry's FLOPs (RECIPE §10), its held-out metrics */
export function sweepRun(cfg: TrainConfig, m: { fvu: number; mse_per_token: number; l0: number; dead_frac_eval: number; seconds: number }, folder: string): SweepRun {
  return {
    features: cfg.features, steps: cfg.steps, compute: cfg.steps * ARCH_STEPS[cfg.arch].flops(cfg), loss: m.fvu,
    mse_per_token: m.mse_per_token, l0: m.l0, dead_frac_eval: m.dead_frac_eval, seconds: m.seconds, folder,
  };
}

/** the fit in words: L = a·C^(−α ± se) ± L∞ (± se) over its points */
export function fitSentence(fit: PowerLawFit): string {
  const floor = `${fit.lInf < 0 ? '−' : '+'} ${Math.abs(fit.lInf).toPrecision(3)}${fit.se ? ` (± ${fit.se.lInf.toPrecision(2)})` : ''}`;
  return `L = ${fit.a.toPrecision(3)}·C^(−${fit.alpha.toFixed(3)}${fit.se ? ` ± ${fit.se.alpha.toFixed(3)}` : ''}) ${floor} (${fit.points} points${fit.se ? '' : ', too few for standard errors'})`;
}

/** the scaling view's figures: loss against compute (every run, the frontier, the fit) and FVU against L0 */
export function sweepFigures(runs: SweepRun[], fit: PowerLawFit | null, title: string): Figure[] {
  const sizes = [...new Set(runs.map((r) => r.features))].sort((a, b) => a - b);
  const palette = ['#3b6ea5', '#e07b39', '#5a9e6f', '#a05195', '#c9a227', '#6b6b6b', '#2f9fb0', '#bf3b3b'];
  const bySize = sizes.map((F, i) => {
    const own = runs.filter((r) => r.features === F).sort((a, b) => a.compute - b.compute);
    return { F, own, color: palette[i % palette.length]! };
  });
  const log = Math.log10;
  const front = frontier(runs);
  const series: Series[] = bySize.map(({ F, own, color }) => ({ label: `F=${F}`, color, markers: true, x: own.map((r) => log(r.compute)), y: own.map((r) => log(r.loss)) }));
  series.push({ label: 'frontier', color: '#1f2933', x: front.map((r) => log(r.compute)), y: front.map((r) => log(r.loss)) });
  if (fit) {
    const xs = front.map((r) => log(r.compute));
    const lo = Math.min(...xs);
    const hi = Math.max(...xs);
    const x = Array.from({ length: 24 }, (_, i) => lo + ((hi - lo) * i) / 23);
    series.push({ label: 'fit', color: '#9aa5b1', x, y: x.map((c) => log(fit.a * 10 ** (-fit.alpha * c) + fit.lInf)) });
  }
  const fitText = fit ? ` Fit of the frontier: ${fitSentence(fit)}.` : ' Too few frontier points (fewer than 3) to fit a power law.';
  const scaling = lineFigure('scaling', `${title}: held-out FVU against training compute, every run by dictionary size, the compute-efficient frontier and its fit (log10 axes).${fitText}`, {
    xLabel: 'log10 training compute (FLOPs)', yLabel: 'log10 held-out FVU', series,
  });
  const tradeoff = lineFigure('fvu-l0', `${title}: held-out FVU against L0 for every run, by dictionary size (the sparsity–fidelity trade-off).`, {
    xLabel: 'L0 (held-out)', yLabel: 'held-out FVU',
    series: bySize.map(({ F, own, color }) => {
      const byL0 = [...own].sort((a, b) => a.l0 - b.l0);
      return { label: `F=${F}`, color, markers: true, x: byL0.map((r) => r.l0), y: byL0.map((r) => r.loss) };
    }),
  });
  // the numbers: every run, not the figure's polylines
  const csv = ['features,steps,compute,fvu,mse_per_token,l0,dead_frac_eval', ...runs.map((r) => [r.features, r.steps, r.compute, r.loss, r.mse_per_token, r.l0, r.dead_frac_eval].join(','))].join('\n') + '\n';
  return [{ ...scaling, data: { csv } }, { ...tradeoff, data: { csv } }];
}
