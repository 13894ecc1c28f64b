// <sae-loss-chart>: a run's curves over steps, drawn by uPlot (axes, scales and resizing included), in two
// kinds: 'loss' (the loss and L0) and 'health' (the reconstruction term, the dead fraction and tokens/s).
// Redraws at most once per animation frame, however often the data changes.
import { LitElement, css, html, unsafeCSS } from 'lit';
import uPlot from 'uplot';
import uPlotCss from 'uplot/dist/uPlot.min.css?inline';
import type { StepMetrics } from '../worker/api.ts';
import { whenIdle } from './when-idle.ts';

type Kind = 'loss' | 'health';

/** per kind: the axes' labels and scales, and each series' label, scale, colour */
const KINDS: Record<Kind, { axes: uPlot.Axis[]; series: uPlot.Series[] }> = {
  loss: {
    axes: [{ label: 'step' }, { label: 'loss' }, { scale: 'l0', side: 1, label: 'L0', grid: { show: false } }],
    series: [{ label: 'step' }, { label: 'loss', stroke: '#1d3557', width: 1.5 }, { label: 'L0', scale: 'l0', stroke: '#e76f51', width: 1 }],
  },
  health: {
    axes: [{ label: 'step' }, { label: 'reconstruction · dead' }, { scale: 'tps', side: 1, label: 'tokens/s', grid: { show: false } }],
    series: [
      { label: 'step' },
      { label: 'reconstruction (MSE; FVU for TopK)', stroke: '#2a9d8f', width: 1.5 },
      { label: 'dead fraction', stroke: '#6b7280', width: 1 },
      { label: 'tokens/s', scale: 'tps', stroke: '#f4a261', width: 1 },
    ],
  },
};

export class SaeLossChart extends LitElement {
  static override properties = { history: { attribute: false }, kind: {}, features: { type: Number }, speed: { attribute: false } };
  declare history: StepMetrics[];
  declare kind: Kind;
  /** dictionary size, for the dead fraction */
  declare features: number;
  /** tokens/s as reported, by step */
  declare speed: { step: number; tokensPerS: number }[];
  private plot: uPlot | undefined;
  private frame = 0;

  constructor() {
    super();
    this.history = [];
    this.kind = 'loss';
    this.features = 1;
    this.speed = [];
  }

  override firstUpdated(): void {
    const { axes, series } = KINDS[this.kind];
    whenIdle(() => {
      this.plot = new uPlot({ width: 560, height: 220, scales: { x: { time: false } }, axes, series }, this.data(), this.renderRoot.querySelector('.plot') as HTMLElement);
    });
  }

  override updated(): void {
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => this.plot?.setData(this.data()));
  }

  private data(): uPlot.AlignedData {
    const h = this.history;
    const steps = h.map((m) => m.step);
    if (this.kind === 'loss') return [steps, h.map((m) => m.loss), h.map((m) => m.l0)];
    // tokens/s comes a few times a second, not every step: hold each report until the next
    let at = 0;
    const tps = steps.map((s) => {
      while (at + 1 < this.speed.length && this.speed[at + 1]!.step <= s) at++;
      return this.speed[at] && this.speed[at]!.step <= s ? this.speed[at]!.tokensPerS : null;
    });
    return [steps, h.map((m) => m.recon), h.map((m) => m.dead / this.features), tps];
  }

  override render() {
    return html`<div class="plot" data-testid=${this.kind === 'loss' ? 'loss-chart' : 'health-chart'}></div>`;
  }

  static override styles = [unsafeCSS(uPlotCss), css`:host { display: block; }`];
}

customElements.define('sae-loss-chart', SaeLossChart);

declare global {
  interface HTMLElementTagNameMap {
    'sae-loss-chart': SaeLossChart;
  }
}
