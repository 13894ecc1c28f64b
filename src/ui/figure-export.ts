// <sae-figure-export>: the row of links under a chart that saves it for a write-up — SVG (with its caption),
// PNG (the SVG at twice its size) and the numbers behind it (CSV or JSON). The figure is built only when asked.
import { LitElement, css, html } from 'lit';
import { download } from './download.ts';
import { svgToPng, type Figure } from './figures.ts';

export class SaeFigureExport extends LitElement {
  static override properties = { figure: { attribute: false }, label: {} };
  /** makes the figure from what the chart shows now */
  declare figure: (() => Figure | undefined) | undefined;
  /** what the links save (default 'figure') */
  declare label: string | undefined;

  private async save(kind: 'svg' | 'png' | 'data'): Promise<void> {
    const f = this.figure?.();
    if (!f) return;
    if (kind === 'svg') download(new Blob([f.svg], { type: 'image/svg+xml' }), `${f.name}.svg`);
    else if (kind === 'png') download(await svgToPng(f.svg), `${f.name}.png`);
    else if ('csv' in f.data) download(new Blob([f.data.csv], { type: 'text/csv' }), `${f.name}.csv`);
    else download(new Blob([JSON.stringify({ caption: f.caption, data: f.data.json }, null, 1)], { type: 'application/json' }), `${f.name}.json`);
  }

  override render() {
    return html`<span class="export">${this.label ?? 'figure'}:
      <button @click=${() => void this.save('svg')} data-testid="figure-svg">SVG</button>
      <button @click=${() => void this.save('png')} data-testid="figure-png">PNG</button>
      <button @click=${() => void this.save('data')} data-testid="figure-data">data</button></span>`;
  }

  static override styles = css`
    .export { font-size: 0.75rem; color: #616e7c; }
    button { font-size: 0.75rem; padding: 0 0.3rem; background: none; border: 1px solid #cbd2d9; border-radius: 3px; cursor: pointer; }
  `;
}

customElements.define('sae-figure-export', SaeFigureExport);

declare global {
  interface HTMLElementTagNameMap {
    'sae-figure-export': SaeFigureExport;
  }
}
