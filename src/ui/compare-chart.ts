// <sae-compare-chart>: runs side by side — the loss of each chosen run over its steps, on one uPlot chart.
// The plot is rebuilt when the set of runs changes (uPlot's series are fixed at creation).
import { LitElement, css, html, unsafeCSS } from 'lit';
import uPlot from 'uplot';
import uPlotCss from 'uplot/dist/uPlot.min.css?inline';
import type { ComparedRun } from './session.ts';

export const COLORS = ['#1d3557', '#e76f51', '#2a9d8f', '#7a5195', '#f4a261', '#264653', '#bc5090', '#588157'];

export class SaeCompareChart extends LitElement {
  static override properties = { runs: { attribute: false } };
  declare runs: ComparedRun[];
  private plot: uPlot | undefined;
  private key = '';

  constructor() {
    super();
    this.runs = [];
  }

  override updated(): void {
    const key = this.runs.map((r) => `${r.id}:${r.history.length}`).join(',');
    if (key === this.key) return;
    this.key = key;
    this.plot?.destroy();
    this.plot = undefined;
    if (this.runs.length === 0) return;
    const steps = Math.max(...this.runs.map((r) => r.history.length));
    const x = Array.from({ length: steps }, (_, i) => i);
    const ys = this.runs.map((r) => x.map((i) => r.history[i]?.loss ?? null));
    this.plot = new uPlot(
      {
        width: 560,
        height: 220,
        scales: { x: { time: false } },
        axes: [{ label: 'step' }, { label: 'loss' }],
        series: [{ label: 'step' }, ...this.runs.map((r, i) => ({ label: r.label, stroke: COLORS[i % COLORS.length], width: 1.5 }))],
      },
      [x, ...ys] as uPlot.AlignedData,
      this.renderRoot.querySelector('.plot') as HTMLElement,
    );
  }

  override render() {
    return html`<div class="plot" data-testid="compare-chart" data-runs=${this.runs.length}></div>`;
  }

  static override styles = [unsafeCSS(uPlotCss), css`:host { display: block; }`];
}

customElements.define('sae-compare-chart', SaeCompareChart);

declare global {
  interface HTMLElementTagNameMap {
    'sae-compare-chart': SaeCompareChart;
  }
}
