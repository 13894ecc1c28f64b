// <sae-loss-chart>: a run's loss and L0 over steps, drawn by uPlot (axes, scales and resizing included).
// Redraws at most once per animation frame, however often the data changes.
import { LitElement, css, html, unsafeCSS } from 'lit';
import uPlot from 'uplot';
import uPlotCss from 'uplot/dist/uPlot.min.css?inline';
import type { StepMetrics } from '../worker/api.ts';

export class SaeLossChart extends LitElement {
  static override properties = { history: { attribute: false } };
  declare history: StepMetrics[];
  private plot: uPlot | undefined;
  private frame = 0;

  constructor() {
    super();
    this.history = [];
  }

  override firstUpdated(): void {
    const target = this.renderRoot.querySelector('.plot') as HTMLElement;
    this.plot = new uPlot(
      {
        width: 560,
        height: 220,
        scales: { x: { time: false }, l0: { auto: true } },
        axes: [{ label: 'step' }, { label: 'loss' }, { scale: 'l0', side: 1, label: 'L0', grid: { show: false } }],
        series: [{ label: 'step' }, { label: 'loss', stroke: '#1d3557', width: 1.5 }, { label: 'L0', scale: 'l0', stroke: '#e76f51', width: 1 }],
      },
      [[], [], []],
      target,
    );
  }

  override updated(): void {
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => {
      const h = this.history;
      this.plot?.setData([h.map((m) => m.step), h.map((m) => m.loss), h.map((m) => m.l0)]);
    });
  }

  override render() {
    return html`<div class="plot" data-testid="loss-chart"></div>`;
  }

  static override styles = [unsafeCSS(uPlotCss), css`:host { display: block; }`];
}

customElements.define('sae-loss-chart', SaeLossChart);

declare global {
  interface HTMLElementTagNameMap {
    'sae-loss-chart': SaeLossChart;
  }
}
