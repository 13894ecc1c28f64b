// <sae-scaling-view>: a sweep as it trains — its progress, held-out FVU against training compute for every
// finished run with the compute-efficient frontier and its power-law fit (per sparsity, where the sweep varies
// it), FVU against L0, the best size at each compute, and the runs' numbers (docs/RECIPE.md §10). The figures
// are the CLI's (scaling-figures.ts), exported as SVG, PNG and CSV like every other figure.
import { LitElement, css, html } from 'lit';
import { unsafeSVG } from 'lit/directives/unsafe-svg.js';
import { sparsityKnob } from '../engine/config.ts';
import './figure-export.ts';
import { fitSentence, sweepFigures } from './scaling-figures.ts';
import { cellLabel, type SweepView } from './session.ts';

export class SaeScalingView extends LitElement {
  static override properties = { view: { attribute: false } };
  declare view: SweepView | undefined;

  override render() {
    const v = this.view;
    if (!v) return html``;
    const s = v.sweep;
    const figures = v.runs.length ? sweepFigures(v.runs, `${s.base.arch ?? 'SAE'} sweep on ${s.datasetName}`) : [];
    const several = v.groups.length > 1;
    return html`
      <p class="status">
        Sweep on ${s.datasetName}: sizes ${s.sizes.join(', ')} × steps ${s.steps.join(', ')}${s.sparsities ? ` × ${sparsityKnob(s.base.arch ?? 'standard').symbol} ${s.sparsities.join(', ')}` : ''} ·
        <b data-testid="sweep-done">${v.runs.length}</b> of ${v.total} runs measured
        ${v.current ? html` · training ${cellLabel(s, v.current)}` : ''}
        ${s.status === 'done' ? ' · done' : ''}
      </p>
      ${s.error ? html`<p class="error" data-testid="sweep-error">${s.error}</p>` : ''}
      <div class="figures">
        ${figures.map((f) => html`<figure data-testid=${`sweep-${f.name}`}>${unsafeSVG(f.svg)}<sae-figure-export label=${f.name} .figure=${() => f}></sae-figure-export></figure>`)}
      </div>
      ${v.groups.map((g) => html`<p class="fit" data-testid="sweep-fit">
        ${several ? html`<b>${g.sparsity}</b>: ` : ''}${g.fit ? `Frontier fit: ${fitSentence(g.fit)}.` : 'The fit needs 3 frontier runs of different compute.'}
        ${g.best.length ? ` Best size by compute: ${g.best.map((b) => `${b.compute.toExponential(1)} → ${b.features}`).join(', ')}.` : ''}
      </p>`)}
      ${v.runs.length
        ? html`<table data-testid="sweep-runs">
            <thead><tr><th>features</th><th>steps</th><th>sparsity</th><th>compute (FLOPs)</th><th>held-out FVU</th><th>L0</th><th>dead</th><th></th></tr></thead>
            <tbody>
              ${v.runs.map((r) => html`<tr>
                <td>${r.features}</td><td>${r.steps}</td><td>${r.sparsity}</td><td>${r.compute.toExponential(2)}</td><td>${r.loss.toFixed(4)}</td>
                <td>${r.l0.toFixed(1)}</td><td>${(100 * r.dead_frac_eval).toFixed(1)}%</td><td>${v.groups.some((g) => g.frontier.includes(r)) ? 'frontier' : ''}</td>
              </tr>`)}
            </tbody>
          </table>`
        : ''}
    `;
  }

  static override styles = css`
    :host { display: block; }
    .figures { display: flex; flex-wrap: wrap; gap: 1rem; }
    figure { margin: 0; }
    figure svg { width: 480px; height: auto; display: block; }
    .error { color: #b42318; }
    table { border-collapse: collapse; font-size: 0.8rem; margin-top: 0.5rem; }
    th, td { padding: 0.1rem 0.5rem; text-align: right; border-bottom: 1px solid #e4e7eb; }
  `;
}

customElements.define('sae-scaling-view', SaeScalingView);

declare global {
  interface HTMLElementTagNameMap {
    'sae-scaling-view': SaeScalingView;
  }
}
