// The run's live views as figures for a write-up (figures.ts): the loss curves, the feature-density and
// decoder-norm histograms, and the dictionary map, each from the numbers the page shows.
import { barsFigure, lineFigure, scatterFigure, type Figure } from './figures.ts';
import type { ComparedRun, RunState } from './session.ts';

const slug = (s: string) => s.replace(/[^\w.=-]+/g, '_').slice(0, 60);

export function lossFigure(run: RunState, label: string): Figure {
  const h = run.history;
  return lineFigure(`loss-${slug(label)}`, `Training of ${label}: the loss and L0 (mean active features per token) at every step reported (step ${run.step} of ${run.steps}).`, {
    xLabel: 'step', yLabel: 'loss', y2Label: 'L0',
    series: [
      { label: 'loss', color: '#1d3557', x: h.map((m) => m.step), y: h.map((m) => m.loss) },
      { label: 'L0', color: '#e76f51', right: true, x: h.map((m) => m.step), y: h.map((m) => m.l0) },
    ],
  });
}

/** the health curves: the reconstruction term and the dead fraction (of `features`) by step */
export function healthFigure(run: RunState, label: string, features: number): Figure {
  const h = run.history;
  return lineFigure(`health-${slug(label)}`, `Health of ${label}: the reconstruction term (MSE; FVU for TopK) and the fraction of the ${features} features dead, at every step reported.`, {
    xLabel: 'step', yLabel: 'reconstruction', y2Label: 'dead fraction',
    series: [
      { label: 'reconstruction', color: '#2a9d8f', x: h.map((m) => m.step), y: h.map((m) => m.recon) },
      { label: 'dead fraction', color: '#6b7280', right: true, x: h.map((m) => m.step), y: h.map((m) => m.dead / Math.max(1, features)) },
    ],
  });
}

/** stored runs side by side: the loss of each by step */
export function compareFigure(runs: ComparedRun[], colors: readonly string[]): Figure {
  const steps = Math.max(0, ...runs.map((r) => r.history.length));
  const x = Array.from({ length: steps }, (_, i) => i);
  return lineFigure('runs-compared', `The loss of ${runs.length} runs side by side: ${runs.map((r) => r.label).join('; ')}.`, {
    xLabel: 'step', yLabel: 'loss',
    series: runs.map((r, k) => ({ label: r.label, color: colors[k % colors.length]!, x, y: x.map((i) => r.history[i]?.loss ?? NaN) })),
  });
}

export function densityFigure(run: RunState, label: string): Figure | undefined {
  const d = run.density;
  if (!d) return undefined;
  return barsFigure(`density-${slug(label)}`, `Feature density of ${label} over the ${d.tokens.toLocaleString('en-US')} tokens before step ${d.step}: log10 of the fraction of tokens each feature fires on; ${d.counts[0]} dead features pile up at the left.`, { edges: d.edges, counts: d.counts, xLabel: 'log10 feature density', yLabel: 'features', color: '#2a9d8f' });
}

export function normsFigure(run: RunState, label: string): Figure | undefined {
  const n = run.decoderNorms;
  if (!n) return undefined;
  return barsFigure(`decoder-norms-${slug(label)}`, `Decoder norms ‖W_dec,i‖ of ${label} at step ${n.step} (${n.min.toFixed(3)} – ${n.max.toFixed(3)}).`, { edges: n.edges, counts: n.counts, xLabel: 'decoder norm', yLabel: 'features', color: '#7a5195' });
}

export function mapFigure(run: RunState, label: string): Figure | undefined {
  const m = run.map;
  if (!m) return undefined;
  return scatterFigure(`map-${slug(label)}`, `The dictionary of ${label} at step ${m.step}: UMAP of the decoder directions (cosine neighbours), each feature coloured by its log10 density.`, { xy: m.xy, value: m.density, valueLabel: 'log10 density' });
}
