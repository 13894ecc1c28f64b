// <sae-density-chart>: the features' density histogram (log10 of the fraction of tokens each fires on,
// over the last checkpoint interval), drawn as bars by uPlot. Dead features pile up at −10.
import { LitElement, css, html, unsafeCSS } from 'lit';
import uPlot from 'uplot';
import uPlotCss from 'uplot/dist/uPlot.min.css?inline';
import type { DensityHistogram } from '../worker/api.ts';

export class SaeDensityChart extends LitElement {
  static override properties = { histogram: { attribute: false } };
  declare histogram: DensityHistogram | undefined;
  private plot: uPlot | undefined;

  override firstUpdated(): void {
    const bars = uPlot.paths.bars!({ size: [0.9, 40], align: 1 });
    this.plot = new uPlot(
      {
        width: 420,
        height: 200,
        scales: { x: { time: false, range: [-10, 0] } },
        axes: [{ label: 'log10 feature density' }, { label: 'features' }],
        series: [{ label: 'log10 density' }, { label: 'features', stroke: '#2a9d8f', fill: 'rgba(42,157,143,0.5)', paths: bars, points: { show: false } }],
        legend: { show: false },
      },
      [[], []],
      this.renderRoot.querySelector('.plot') as HTMLElement,
    );
  }

  override updated(): void {
    const h = this.histogram;
    if (h) this.plot?.setData([h.edges, h.counts]);
  }

  override render() {
    const h = this.histogram;
    const dead = h ? h.counts[0] : 0;
    return html`<div class="caption" data-testid="density-caption">
        ${h ? html`feature density at step ${h.step} (${h.tokens.toLocaleString('en-US')} tokens): ${dead} dead` : 'feature density: after the first checkpoint'}
      </div>
      <div class="plot" data-testid="density-chart"></div>`;
  }

  static override styles = [unsafeCSS(uPlotCss), css`:host { display: block; } .caption { font-size: 0.9rem; color: #4c566a; }`];
}

customElements.define('sae-density-chart', SaeDensityChart);

declare global {
  interface HTMLElementTagNameMap {
    'sae-density-chart': SaeDensityChart;
  }
}
