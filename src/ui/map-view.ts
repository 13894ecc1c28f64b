// <sae-map-view>: the dictionary map — one dot per feature at its UMAP position (laid out in the UMAP
// worker from the GPU's neighbour graph of decoder directions), coloured by its density over the last
// checkpoint interval. Drawn on a canvas: thousands of dots redraw in a few milliseconds.
import { LitElement, css, html } from 'lit';
import type { DictionaryMap } from './session.ts';

const SIZE = 360;
const PAD = 8;
/** log10 densities at or below this are dead features, drawn grey */
const DEAD = -9.5;

/** log10 density over [lo, hi] (the live features' range) → a blue-to-yellow ramp (rarer is darker) */
export function densityColor(log10: number, lo: number, hi: number): string {
  if (log10 <= DEAD) return 'rgba(150,150,150,0.6)';
  const t = hi > lo ? Math.min(1, Math.max(0, (log10 - lo) / (hi - lo))) : 1;
  const r = Math.round(40 + 213 * t);
  const g = Math.round(60 + 171 * t);
  const b = Math.round(140 - 100 * t);
  return `rgb(${r},${g},${b})`;
}

export class SaeMapView extends LitElement {
  static override properties = { map: { attribute: false } };
  declare map: DictionaryMap | undefined;

  override updated(): void {
    const canvas = this.renderRoot.querySelector('canvas');
    const m = this.map;
    if (!canvas || !m) return;
    const dpr = globalThis.devicePixelRatio || 1;
    canvas.width = SIZE * dpr;
    canvas.height = SIZE * dpr;
    const g = canvas.getContext('2d')!;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, SIZE, SIZE);
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (let i = 0; i < m.F; i++) {
      [x0, x1] = [Math.min(x0, m.xy[2 * i]!), Math.max(x1, m.xy[2 * i]!)];
      [y0, y1] = [Math.min(y0, m.xy[2 * i + 1]!), Math.max(y1, m.xy[2 * i + 1]!)];
    }
    const scale = (SIZE - 2 * PAD) / Math.max(x1 - x0, y1 - y0, 1e-9);
    const r = m.F > 4000 ? 1.2 : 2.2;
    let [lo, hi] = [Infinity, -Infinity];
    for (const v of m.density) if (v > DEAD) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    // dead features first, so live ones draw on top
    const order = [...m.density.keys()].sort((a, b) => m.density[a]! - m.density[b]!);
    for (const i of order) {
      g.fillStyle = densityColor(m.density[i]!, lo, hi);
      g.beginPath();
      g.arc(PAD + (m.xy[2 * i]! - x0) * scale, PAD + (m.xy[2 * i + 1]! - y0) * scale, r, 0, 2 * Math.PI);
      g.fill();
    }
  }

  override render() {
    const m = this.map;
    return html`<div class="caption" data-testid="map" data-step=${m?.step ?? -1} data-points=${m?.F ?? 0} data-refreshes=${m?.refreshes ?? 0}>
        ${m ? `dictionary map at step ${m.step}: ${m.F.toLocaleString('en-US')} features (UMAP of decoder directions; colour: density, dark rare to yellow common; grey: dead)` : 'dictionary map: after the first checkpoint'}
      </div>
      <canvas style="width:${SIZE}px;height:${SIZE}px"></canvas>`;
  }

  static override styles = css`
    :host { display: block; }
    .caption { font-size: 0.9rem; color: #4c566a; max-width: ${SIZE}px; }
    canvas { border: 1px solid #d8dee9; border-radius: 4px; background: #fff; }
  `;
}

customElements.define('sae-map-view', SaeMapView);

declare global {
  interface HTMLElementTagNameMap {
    'sae-map-view': SaeMapView;
  }
}
