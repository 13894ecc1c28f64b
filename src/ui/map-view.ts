// <sae-map-view>: the dictionary map — one dot per feature at its UMAP position (laid out in the UMAP
// worker from the GPU's neighbour graph of decoder directions), coloured by its density. Drawn on a canvas:
// thousands of dots redraw in a few milliseconds. With `interactive`: the wheel zooms about the pointer,
// hovering shows a feature's top tokens, a click picks it ('feature-pick'), and dragging draws a lasso whose
// features are announced ('feature-lasso').
import { LitElement, css, html } from 'lit';
import type { DictionaryMap } from './session.ts';

const SIZE = 360;
const PAD = 8;
/** log10 densities at or below this are dead features, drawn grey */
const DEAD = -9.5;
/** pointer travel (px) below which a press is a click, not a lasso */
const CLICK_PX = 4;

/** log10 density over [lo, hi] (the live features' range) → a blue-to-yellow ramp (rarer is darker) */
export function densityColor(log10: number, lo: number, hi: number): string {
  if (log10 <= DEAD) return 'rgba(150,150,150,0.6)';
  const t = hi > lo ? Math.min(1, Math.max(0, (log10 - lo) / (hi - lo))) : 1;
  const r = Math.round(40 + 213 * t);
  const g = Math.round(60 + 171 * t);
  const b = Math.round(140 - 100 * t);
  return `rgb(${r},${g},${b})`;
}

/** whether point p lies inside the polygon (even-odd rule) */
function inside(p: [number, number], poly: [number, number][]): boolean {
  let hit = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!;
    const [xj, yj] = poly[j]!;
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

export class SaeMapView extends LitElement {
  static override properties = { map: { attribute: false }, interactive: { type: Boolean }, labels: { attribute: false }, hover: { state: true } };
  declare map: DictionaryMap | undefined;
  declare interactive: boolean;
  /** per feature, what hovering shows (e.g. its top tokens) */
  declare labels: string[] | undefined;
  declare hover: { feature: number; x: number; y: number } | undefined;
  /** zoom about the map's centre, and pan, in canvas pixels */
  private zoom = 1;
  private pan: [number, number] = [0, 0];
  private lasso: [number, number][] | undefined;
  private drawnFor: DictionaryMap | undefined;
  /** the map's bounds and scale, computed once per map: every point's position needs them */
  private bounds: { map: DictionaryMap; x0: number; y0: number; scale: number } | undefined;

  constructor() {
    super();
    this.interactive = false;
  }

  /** canvas coordinates of feature i as drawn now (tests use it to point at features) */
  pointOf(i: number): [number, number] {
    const m = this.map!;
    const { x0, y0, scale } = this.frame(m);
    const bx = PAD + (m.xy[2 * i]! - x0) * scale;
    const by = PAD + (m.xy[2 * i + 1]! - y0) * scale;
    return [(bx - SIZE / 2) * this.zoom + SIZE / 2 + this.pan[0], (by - SIZE / 2) * this.zoom + SIZE / 2 + this.pan[1]];
  }

  private frame(m: DictionaryMap): { x0: number; y0: number; scale: number } {
    if (this.bounds?.map === m) return this.bounds;
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (let i = 0; i < m.F; i++) {
      const x = m.xy[2 * i]!;
      const y = m.xy[2 * i + 1]!;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
    this.bounds = { map: m, x0, y0, scale: (SIZE - 2 * PAD) / Math.max(x1 - x0, y1 - y0, 1e-9) };
    return this.bounds;
  }

  override updated(): void {
    if (this.map !== this.drawnFor) {
      // a new map (or a new SAE) starts unzoomed
      if (this.map?.F !== this.drawnFor?.F) [this.zoom, this.pan] = [1, [0, 0]];
      this.drawnFor = this.map;
    }
    this.draw();
  }

  private draw(): void {
    const canvas = this.renderRoot.querySelector('canvas');
    const m = this.map;
    if (!canvas || !m) return;
    const dpr = globalThis.devicePixelRatio || 1;
    canvas.width = SIZE * dpr;
    canvas.height = SIZE * dpr;
    const g = canvas.getContext('2d')!;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, SIZE, SIZE);
    const r = m.F > 4000 ? 1.2 : 2.2;
    let [lo, hi] = [Infinity, -Infinity];
    for (const v of m.density) if (v > DEAD) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    // dead features first, so live ones draw on top
    const order = [...m.density.keys()].sort((a, b) => m.density[a]! - m.density[b]!);
    for (const i of order) {
      const [x, y] = this.pointOf(i);
      g.fillStyle = densityColor(m.density[i]!, lo, hi);
      g.beginPath();
      g.arc(x, y, this.hover?.feature === i ? r * 2.5 : r, 0, 2 * Math.PI);
      g.fill();
    }
    if (this.lasso && this.lasso.length > 1) {
      g.strokeStyle = '#e76f51';
      g.beginPath();
      this.lasso.forEach(([x, y], k) => (k ? g.lineTo(x, y) : g.moveTo(x, y)));
      g.closePath();
      g.stroke();
    }
  }

  private at(e: PointerEvent | WheelEvent): [number, number] {
    const box = (e.target as HTMLCanvasElement).getBoundingClientRect();
    return [((e.clientX - box.left) * SIZE) / box.width, ((e.clientY - box.top) * SIZE) / box.height];
  }

  /** the feature drawn nearest to p, within 8 px */
  private nearest(p: [number, number]): number | undefined {
    const m = this.map!;
    let best: number | undefined;
    let bestD = 64;
    for (let i = 0; i < m.F; i++) {
      const [x, y] = this.pointOf(i);
      const d = (x - p[0]) ** 2 + (y - p[1]) ** 2;
      if (d < bestD) [best, bestD] = [i, d];
    }
    return best;
  }

  private onWheel(e: WheelEvent): void {
    if (!this.interactive || !this.map) return;
    e.preventDefault();
    const [px, py] = this.at(e);
    const f = Math.exp(-e.deltaY * 0.0015);
    const zoom = Math.min(40, Math.max(1, this.zoom * f));
    const k = zoom / this.zoom;
    // keep the point under the pointer where it is
    this.pan = [px - SIZE / 2 - (px - SIZE / 2 - this.pan[0]) * k, py - SIZE / 2 - (py - SIZE / 2 - this.pan[1]) * k];
    this.zoom = zoom;
    if (zoom === 1) this.pan = [0, 0];
    this.draw();
  }

  private onDown(e: PointerEvent): void {
    if (!this.interactive || !this.map) return;
    (e.target as HTMLElement).setPointerCapture?.(e.pointerId);
    this.lasso = [this.at(e)];
  }

  private onMove(e: PointerEvent): void {
    if (!this.interactive || !this.map) return;
    const p = this.at(e);
    if (this.lasso) {
      this.lasso.push(p);
      this.draw();
      return;
    }
    const f = this.nearest(p);
    this.hover = f === undefined ? undefined : { feature: f, x: p[0], y: p[1] };
  }

  private onUp(e: PointerEvent): void {
    const path = this.lasso;
    this.lasso = undefined;
    if (!this.interactive || !this.map || !path) return;
    const end = this.at(e);
    const travel = Math.max(...path.map(([x, y]) => Math.hypot(x - path[0]![0], y - path[0]![1])));
    if (travel < CLICK_PX) {
      const f = this.nearest(end);
      if (f !== undefined) this.dispatchEvent(new CustomEvent('feature-pick', { detail: f, bubbles: true, composed: true }));
    } else {
      const picked = [...Array(this.map.F).keys()].filter((i) => inside(this.pointOf(i), path));
      this.dispatchEvent(new CustomEvent('feature-lasso', { detail: picked, bubbles: true, composed: true }));
    }
    this.draw();
  }

  override render() {
    const m = this.map;
    const what = m && m.step >= 0 ? `dictionary map at step ${m.step}` : 'dictionary map';
    return html`<div class="caption" data-testid="map" data-step=${m?.step ?? -1} data-points=${m?.F ?? 0} data-refreshes=${m?.refreshes ?? 0}>
        ${m ? `${what}: ${m.F.toLocaleString('en-US')} features (UMAP of decoder directions; colour: density, dark rare to yellow common; grey: dead)` : 'dictionary map: after the first checkpoint'}
        ${this.interactive && m ? html`<br /><small>wheel: zoom · hover: top tokens · click: open · drag: lasso</small>` : ''}
      </div>
      <div class="wrap">
        <canvas style="width:${SIZE}px;height:${SIZE}px"
          @wheel=${this.onWheel} @pointerdown=${this.onDown} @pointermove=${this.onMove} @pointerup=${this.onUp}
          @pointerleave=${() => (this.hover = undefined)}></canvas>
        ${this.hover
          ? html`<div class="tip" data-testid="map-tip" style="left:${this.hover.x + 10}px;top:${this.hover.y + 10}px">#${this.hover.feature} ${this.labels?.[this.hover.feature] ?? ''}</div>`
          : ''}
      </div>`;
  }

  static override styles = css`
    :host { display: block; }
    .caption { font-size: 0.9rem; color: #4c566a; max-width: ${SIZE}px; }
    .wrap { position: relative; width: ${SIZE}px; }
    canvas { border: 1px solid #d8dee9; border-radius: 4px; background: #fff; touch-action: none; }
    .tip { position: absolute; pointer-events: none; background: #1f2933; color: #fff; font-size: 0.75rem; padding: 0.15rem 0.4rem; border-radius: 3px; white-space: pre; }
  `;
}

customElements.define('sae-map-view', SaeMapView);

declare global {
  interface HTMLElementTagNameMap {
    'sae-map-view': SaeMapView;
  }
}
