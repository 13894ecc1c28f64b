// <sae-histogram-chart>: a histogram drawn as bars by uPlot — the feature-density histogram (log10 of the
// fraction of tokens each feature fires on; dead features pile up at −10) and the decoder-norm histogram.
import { LitElement, css, html, unsafeCSS } from 'lit';
import uPlot from 'uplot';
import uPlotCss from 'uplot/dist/uPlot.min.css?inline';
import { whenIdle } from './when-idle.ts';

export interface Bars {
  /** left edges of the bins */
  edges: number[];
  counts: number[];
}

export class SaeHistogramChart extends LitElement {
  static override properties = {
    bars: { attribute: false },
    caption: {},
    xLabel: { attribute: 'x-label' },
    yLabel: { attribute: 'y-label' },
    /** fixed x range "from,to" (default: the bins' own) */
    range: {},
    color: {},
  };
  declare bars: Bars | undefined;
  declare caption: string;
  declare xLabel: string;
  declare yLabel: string;
  declare range: string | undefined;
  declare color: string;
  private plot: uPlot | undefined;

  constructor() {
    super();
    this.caption = '';
    this.xLabel = '';
    this.yLabel = 'features';
    this.color = '#2a9d8f';
  }

  override firstUpdated(): void {
    const bars = uPlot.paths.bars!({ size: [0.9, 40], align: 1 });
    const fixed = this.range?.split(',').map(Number) as [number, number] | undefined;
    whenIdle(() => {
      this.plot = new uPlot(
        {
          width: 360,
          height: 190,
          scales: { x: { time: false, ...(fixed ? { range: fixed } : {}) } },
          axes: [{ label: this.xLabel }, { label: this.yLabel }],
          series: [{ label: this.xLabel }, { label: this.yLabel, stroke: this.color, fill: `${this.color}80`, paths: bars, points: { show: false } }],
          legend: { show: false },
        },
        this.bars ? [this.bars.edges, this.bars.counts] : [[], []],
        this.renderRoot.querySelector('.plot') as HTMLElement,
      );
    });
  }

  override updated(): void {
    if (this.bars) this.plot?.setData([this.bars.edges, this.bars.counts]);
  }

  override render() {
    return html`<div class="caption" part="caption">${this.caption}</div><div class="plot"></div>`;
  }

  static override styles = [unsafeCSS(uPlotCss), css`:host { display: block; } .caption { font-size: 0.9rem; color: #4c566a; min-height: 1.2em; }`];
}

customElements.define('sae-histogram-chart', SaeHistogramChart);

declare global {
  interface HTMLElementTagNameMap {
    'sae-histogram-chart': SaeHistogramChart;
  }
}
